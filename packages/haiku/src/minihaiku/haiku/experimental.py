"""dm-haiku's ``haiku.experimental``: naming, creators/getters, introspection, summaries.

``to_dot``, ``abstract_to_dot``, ``flax`` and ``jaxpr_info`` are left out:
they raise :class:`~minihaiku.haiku._left_out.LeftOutError` saying what to use
(docs/haiku.md).

Examples:
  >>> import minihaiku.haiku as hk
  >>> def f():
  ...   with hk.experimental.name_scope("block"):
  ...     return hk.experimental.current_name()
  >>> hk.transform(f).apply({}, None)
  'block'
"""

from minihaiku.core import (
    DO_NOT_STORE,
    GetterContext,
    MethodContext,
    current_name,
    custom_creator,
    custom_getter,
    force_name,
    intercept_methods,
    name_like,
    name_scope,
)
from minihaiku.core import GetterContext as ParamContext
from minihaiku.haiku._flags import (
    check_jax_usage,
    maybe_get_rng_sequence_state,
    module_auto_repr,
    replace_rng_sequence_state,
    rng_reserve_size,
)
from minihaiku.haiku._introspect import get_current_state, get_initial_state, get_params
from minihaiku.haiku._left_out import abstract_to_dot, flax, jaxpr_info
from minihaiku.haiku._left_out import experimental_to_dot as to_dot
from minihaiku.haiku._rng_use import optimize_rng_use
from minihaiku.haiku._summary import ArraySpec, MethodInvocation, ModuleDetails, eval_summary
from minihaiku.haiku._tabulate import tabulate

__all__ = [
    "MethodContext",
    "intercept_methods",
    "DO_NOT_STORE",
    "GetterContext",
    "current_name",
    "custom_creator",
    "custom_getter",
    "force_name",
    "get_current_state",
    "get_initial_state",
    "get_params",
    "name_like",
    "name_scope",
    "ArraySpec",
    "MethodInvocation",
    "ModuleDetails",
    "ParamContext",
    "abstract_to_dot",
    "check_jax_usage",
    "eval_summary",
    "flax",
    "jaxpr_info",
    "maybe_get_rng_sequence_state",
    "module_auto_repr",
    "optimize_rng_use",
    "replace_rng_sequence_state",
    "rng_reserve_size",
    "tabulate",
    "to_dot",
]

# lifted parameters and layer_stack, also in dm-haiku's ``haiku.experimental``
from minihaiku.core import (
    LiftWithStateUpdater,
    lift,
    lift_with_state,
    transparent_lift,
    transparent_lift_with_state,
)
from minihaiku.haiku._layer_stack import LayerStackTransparencyMapping, layer_stack

__all__ += [
    "LayerStackTransparencyMapping",
    "LiftWithStateUpdater",
    "layer_stack",
    "lift",
    "lift_with_state",
    "transparent_lift",
    "transparent_lift_with_state",
]
