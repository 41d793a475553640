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

from minihaiku.core._base import InitLike, get_param, get_state, next_rng_key, set_state
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
from minihaiku.core._module import Module, module_method
from minihaiku.core._registry import (
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
from minihaiku.core._transform import (
    Params,
    State,
    Transformed,
    TransformedWithState,
    transform,
    transform_with_state,
)
from minihaiku.core._transforms import (
    cond,
    eval_shape,
    fori_loop,
    grad,
    layer_stack,
    map,
    remat,
    scan,
    switch,
    value_and_grad,
    vmap,
    while_loop,
)
from minihaiku.core._tree import (
    PathFilter,
    filter_params,
    from_nested,
    init_shapes,
    merge_params,
    partition_params,
    summary,
    to_nested,
    tree_bytes,
    tree_size,
)
from minihaiku.core._version import __version__

__all__ = [
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
    "NotCallableError",
    "NotInTransformError",
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
    "layer_stack",
    "list_initializers",
    "load_plugins",
    "map",
    "merge_params",
    "module_method",
    "next_rng_key",
    "partition_params",
    "register_plugin",
    "registry_report",
    "remat",
    "scan",
    "set_state",
    "summary",
    "switch",
    "to_nested",
    "transform",
    "transform_with_state",
    "tree_bytes",
    "tree_size",
    "value_and_grad",
    "vmap",
    "while_loop",
]
