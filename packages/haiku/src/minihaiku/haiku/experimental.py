"""dm-haiku's ``haiku.experimental``: its naming functions, creators/getters, introspection.

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
from minihaiku.haiku._introspect import get_current_state, get_initial_state, get_params

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
