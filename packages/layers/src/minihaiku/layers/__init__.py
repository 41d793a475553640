"""minihaiku.layers: the layers a dm-haiku user reaches for, as drop-ins.

Examples:
  >>> import jax, jax.numpy as jnp
  >>> from minihaiku.core import transform
  >>> from minihaiku.layers import MLP
  >>> init, apply = transform(lambda x: MLP([128, 128, 1], activation=jax.nn.sigmoid)(x))
  >>> params = init(0, jnp.ones((4, 1)))
  >>> apply(params, jnp.ones((4, 1))).shape
  (4, 1)
"""

from minihaiku.layers import pad
from minihaiku.layers._attention import MultiHeadAttention
from minihaiku.layers._basic import BatchApply, Sequential, dropout
from minihaiku.layers._batch_norm import BatchNorm
from minihaiku.layers._conv import Conv1D, Conv2D, Conv3D, ConvND
from minihaiku.layers._conv_transpose import (
    Conv1DTranspose,
    Conv2DTranspose,
    Conv3DTranspose,
    ConvNDTranspose,
)
from minihaiku.layers._embed import Embed, EmbedLookupStyle
from minihaiku.layers._linear import Linear
from minihaiku.layers._mlp import MLP
from minihaiku.layers._moving_averages import ExponentialMovingAverage
from minihaiku.layers._norm import GroupNorm, LayerNorm, RMSNorm
from minihaiku.layers._pool import AvgPool, MaxPool, avg_pool, max_pool
from minihaiku.layers._reshape import Flatten, Reshape
from minihaiku.layers._spectral_norm import SpectralNorm
from minihaiku.layers._version import __version__

__all__ = [
    "MLP",
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
    "Embed",
    "EmbedLookupStyle",
    "ExponentialMovingAverage",
    "Flatten",
    "GroupNorm",
    "LayerNorm",
    "Linear",
    "MaxPool",
    "MultiHeadAttention",
    "RMSNorm",
    "Reshape",
    "Sequential",
    "SpectralNorm",
    "__version__",
    "avg_pool",
    "dropout",
    "max_pool",
    "pad",
]
