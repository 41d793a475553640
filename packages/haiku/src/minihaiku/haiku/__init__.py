"""dm-haiku's API on minihaiku: ``import minihaiku.haiku as hk`` replaces ``import haiku as hk``.

Transforms use core's haiku scheme, so params are dm-haiku's nested
``{module_name: {name: array}}`` with dm-haiku's module names, and ``init``
gives dm-haiku's values for the same key. What is there and what is not yet:
docs/haiku.md.

Examples:
  >>> import minihaiku.haiku as hk
  >>> def forward(x):
  ...   return hk.nets.MLP([4, 2])(x)
  >>> f = hk.without_apply_rng(hk.transform(forward))
  >>> params = f.init(jax.random.PRNGKey(0), jnp.ones((1, 3)))
  >>> list(params)
  ['mlp/~/linear_0', 'mlp/~/linear_1']
  >>> f.apply(params, jnp.ones((1, 3))).shape
  (1, 2)
"""

from minihaiku.core import (
    Module,
    PRNGSequence,
    Transformed,
    TransformedWithState,
    current_name,
    force_name,
    maybe_next_rng_key,
    name_like,
    name_scope,
    next_rng_key,
    next_rng_keys,
    reserve_rng_keys,
    running_init,
    with_empty_state,
    with_rng,
    without_state,
)
from minihaiku.haiku import experimental, initializers, nets
from minihaiku.haiku._base import get_parameter, get_state, set_state, transparent
from minihaiku.haiku._layers import (
    GRU,
    BatchNorm,
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    ConvND,
    ConvNDTranspose,
    Embed,
    GroupNorm,
    LayerNorm,
    Linear,
    MultiHeadAttention,
    RMSNorm,
)
from minihaiku.haiku._transforms import (
    multi_transform,
    multi_transform_with_state,
    transform,
    transform_with_state,
    without_apply_rng,
)
from minihaiku.haiku._version import __version__
from minihaiku.layers import (
    LSTM,
    AvgPool,
    BatchApply,
    DeepRNN,
    EmbedLookupStyle,
    ExponentialMovingAverage,
    Flatten,
    IdentityCore,
    LSTMState,
    MaxPool,
    ResetCore,
    Reshape,
    RNNCore,
    Sequential,
    SpectralNorm,
    VanillaRNN,
    avg_pool,
    deep_rnn_with_skip_connections,
    dropout,
    dynamic_unroll,
    max_pool,
    static_unroll,
)

__all__ = [
    "experimental",
    "force_name",
    "name_like",
    "GRU",
    "LSTM",
    "AvgPool",
    "BatchApply",
    "BatchNorm",
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Conv3DTranspose",
    "ConvND",
    "ConvNDTranspose",
    "DeepRNN",
    "Embed",
    "EmbedLookupStyle",
    "ExponentialMovingAverage",
    "Flatten",
    "GroupNorm",
    "IdentityCore",
    "LSTMState",
    "Linear",
    "MaxPool",
    "Module",
    "PRNGSequence",
    "RNNCore",
    "ResetCore",
    "Reshape",
    "Sequential",
    "SpectralNorm",
    "Transformed",
    "TransformedWithState",
    "VanillaRNN",
    "__version__",
    "avg_pool",
    "deep_rnn_with_skip_connections",
    "dropout",
    "dynamic_unroll",
    "get_parameter",
    "get_state",
    "initializers",
    "max_pool",
    "maybe_next_rng_key",
    "multi_transform",
    "multi_transform_with_state",
    "name_scope",
    "nets",
    "next_rng_key",
    "next_rng_keys",
    "reserve_rng_keys",
    "running_init",
    "set_state",
    "static_unroll",
    "transform",
    "transform_with_state",
    "with_empty_state",
    "without_apply_rng",
    "LayerNorm",
    "MultiHeadAttention",
    "RMSNorm",
    "current_name",
    "transparent",
    "with_rng",
    "without_state",
]
