"""minihaiku.core: object-oriented modules turned into pure JAX functions.

Examples:
  >>> import jax, jax.numpy as jnp
  >>> from minihaiku.core import Module, get_param, transform
  >>> class Linear(Module):
  ...   def __init__(self, width, name=None):
  ...     super().__init__(name=name)
  ...     self.width = width
  ...   def __call__(self, x):
  ...     w = get_param("w", (x.shape[-1], self.width), init=jax.nn.initializers.ones)
  ...     return x @ w
  >>> init, apply = transform(lambda x: Linear(2)(x))
  >>> params = init(jax.random.key(0), jnp.ones((1, 3)))
  >>> list(params)
  ['~/Linear_0/__call__/w']
  >>> apply(params, jnp.ones((1, 3)))
  Array([[3., 3.]], dtype=float32)
"""

from minihaiku.core._abstract_init import AbstractInitError, init_mode
from minihaiku.core._create import InitLike
from minihaiku.core._errors import (
    DuplicateInitializerError,
    DuplicateNameError,
    InitializerError,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    InvalidNameError,
    InvalidParamsError,
    MinihaikuError,
    MissingParameterError,
    MissingStateError,
    ModuleConstructionError,
    NotCallableError,
    NotInTransformError,
    ParameterDtypeError,
    ParameterShapeError,
    PluginLoadError,
    PluginLoadWarning,
    RngError,
    ShardingError,
    StateNotAllowedError,
    UnknownInitializerError,
    UnliftedTransformError,
)
from minihaiku.core._intercept import (
    MethodContext,
    ParamInterceptor,
    intercept_methods,
    intercept_params,
)
from minihaiku.core._keyless import keyless
from minihaiku.core._lifting.control_flow import cond, fori_loop, switch, while_loop
from minihaiku.core._lifting.layer_stack import layer_stack
from minihaiku.core._lifting.transforms import (
    eval_shape,
    grad,
    map,
    remat,
    scan,
    value_and_grad,
    vmap,
)
from minihaiku.core._module import Module, module_method, transparent
from minihaiku.core._multi_transform import (
    MultiTransformed,
    MultiTransformedWithState,
    multi_transform,
    multi_transform_with_state,
)
from minihaiku.core._names import (
    current_name,
    force_name,
    name_like,
    name_scope,
    reserve_rng_keys,
)
from minihaiku.core._params import get_param
from minihaiku.core._plugins.default import (
    AUTOLOAD_ENV,
    DEFAULT_INITIALIZER,
    ENTRY_POINT_GROUP,
    STRICT_ENV,
    Initializer,
    InitializerFactory,
    InitializerInfo,
    PluginFailure,
    PluginStatus,
    Registry,
    RegistryReport,
    failed_plugins,
    get_initializer,
    hookimpl,
    hookspec,
    list_initializers,
    load_plugins,
    register_plugin,
    registry_report,
)
from minihaiku.core._precision.policy import Policy
from minihaiku.core._precision.scope import (
    clear_policy,
    get_policy,
    param_policies,
    policy_scope,
    set_policy,
)
from minihaiku.core._rng import (
    PRNGSequence,
    maybe_next_rng_key,
    next_rng_key,
    next_rng_keys,
    with_rng,
)
from minihaiku.core._schemes import HAIKU, SEED, Scheme
from minihaiku.core._sharding.init import param_axes, param_shardings, sharded_init
from minihaiku.core._sharding.rules import AxisRules, axis_rules, logical_to_spec
from minihaiku.core._sharding.shapes import init_shapes
from minihaiku.core._state import get_state, set_state
from minihaiku.core._surgery.export import ExportedModel, export, load_exported
from minihaiku.core._surgery.export_file import ExportError
from minihaiku.core._surgery.lora import (
    LoraModel,
    LoraMultiTransformed,
    LoraMultiTransformedWithState,
    LoraTransformed,
    LoraTransformedWithState,
    lora,
)
from minihaiku.core._surgery.lora_params import LoraError
from minihaiku.core._surgery.quantize import (
    QuantizeError,
    dequantize,
    quantize,
    quantized,
)
from minihaiku.core._transform import (
    Params,
    State,
    Transformed,
    TransformedWithState,
    running_init,
    transform,
    transform_with_state,
    with_empty_state,
    without_state,
)
from minihaiku.core._tree import (
    PathFilter,
    filter_params,
    from_nested,
    merge_params,
    partition_params,
    summary,
    to_nested,
    tree_bytes,
    tree_size,
)
from minihaiku.core._version import __version__

__all__ = [
    "AbstractInitError",
    "AUTOLOAD_ENV",
    "DEFAULT_INITIALIZER",
    "DuplicateInitializerError",
    "DuplicateNameError",
    "ENTRY_POINT_GROUP",
    "InitLike",
    "Initializer",
    "InitializerError",
    "InitializerFactory",
    "InitializerInfo",
    "InvalidArgumentError",
    "InvalidArgumentTypeError",
    "InvalidNameError",
    "InvalidParamsError",
    "MethodContext",
    "MinihaikuError",
    "MissingParameterError",
    "MissingStateError",
    "Module",
    "ModuleConstructionError",
    "MultiTransformed",
    "MultiTransformedWithState",
    "NotCallableError",
    "NotInTransformError",
    "PRNGSequence",
    "ParamInterceptor",
    "ParameterDtypeError",
    "ParameterShapeError",
    "Params",
    "PathFilter",
    "PluginFailure",
    "PluginLoadError",
    "PluginLoadWarning",
    "PluginStatus",
    "Registry",
    "RegistryReport",
    "RngError",
    "STRICT_ENV",
    "State",
    "StateNotAllowedError",
    "Transformed",
    "TransformedWithState",
    "UnknownInitializerError",
    "UnliftedTransformError",
    "__version__",
    "cond",
    "eval_shape",
    "failed_plugins",
    "filter_params",
    "fori_loop",
    "from_nested",
    "get_initializer",
    "get_param",
    "get_state",
    "grad",
    "hookimpl",
    "hookspec",
    "init_shapes",
    "intercept_methods",
    "intercept_params",
    "keyless",
    "layer_stack",
    "list_initializers",
    "load_plugins",
    "map",
    "maybe_next_rng_key",
    "merge_params",
    "module_method",
    "multi_transform",
    "multi_transform_with_state",
    "next_rng_key",
    "next_rng_keys",
    "partition_params",
    "register_plugin",
    "registry_report",
    "remat",
    "init_mode",
    "running_init",
    "scan",
    "set_state",
    "summary",
    "switch",
    "to_nested",
    "transform",
    "transform_with_state",
    "transparent",
    "tree_bytes",
    "tree_size",
    "value_and_grad",
    "vmap",
    "while_loop",
    "with_empty_state",
    "with_rng",
    "without_state",
    "AxisRules",
    "ShardingError",
    "axis_rules",
    "logical_to_spec",
    "param_axes",
    "param_shardings",
    "sharded_init",
    "Policy",
    "clear_policy",
    "get_policy",
    "param_policies",
    "policy_scope",
    "set_policy",
    "LoraError",
    "LoraModel",
    "LoraMultiTransformed",
    "LoraMultiTransformedWithState",
    "LoraTransformed",
    "LoraTransformedWithState",
    "lora",
]

# dm-haiku's remaining core functions (issue 18): appended as one block.
from minihaiku.core import _custom_run  # noqa: F401  (registers the custom hooks)
from minihaiku.core._custom import (
    GetterContext,
    SetterContext,
    custom_creator,
    custom_getter,
    custom_setter,
)
from minihaiku.core._do_not_store import DO_NOT_STORE
from minihaiku.core._introspect import (
    get_current_state,
    get_initial_state,
    get_params,
)
from minihaiku.core._jax_usage import check_jax_usage
from minihaiku.core._lift_params import (
    LiftWithStateUpdater,
    lift,
    lift_with_state,
    transparent_lift,
    transparent_lift_with_state,
)
from minihaiku.core._rng_use import optimize_rng_use
from minihaiku.core._summary import MethodInvocation, ModuleDetails, eval_summary
from minihaiku.core._tabulate import tabulate
from minihaiku.core._to_module import to_module

__all__ += [
    "DO_NOT_STORE",
    "check_jax_usage",
    "GetterContext",
    "LiftWithStateUpdater",
    "MethodInvocation",
    "ModuleDetails",
    "SetterContext",
    "custom_creator",
    "custom_getter",
    "custom_setter",
    "eval_summary",
    "get_current_state",
    "get_initial_state",
    "get_params",
    "lift",
    "lift_with_state",
    "optimize_rng_use",
    "tabulate",
    "to_module",
    "transparent_lift",
    "transparent_lift_with_state",
    "QuantizeError",
    "dequantize",
    "quantize",
    "quantized",
    "ExportError",
    "ExportedModel",
    "export",
    "load_exported",
    "HAIKU",
    "SEED",
    "Scheme",
    "current_name",
    "force_name",
    "name_like",
    "name_scope",
    "reserve_rng_keys",
]
