"""minihaiku.layers: ``Linear`` and ``MLP``.

Examples:
  >>> import jax, jax.numpy as jnp
  >>> from minihaiku.core import transform
  >>> from minihaiku.layers import MLP
  >>> init, apply = transform(lambda x: MLP([128, 128, 1], activation=jax.nn.sigmoid)(x))
  >>> params = init(0, jnp.ones((4, 1)))
  >>> apply(params, jnp.ones((4, 1))).shape
  (4, 1)
"""

from minihaiku.layers._attention import MultiHeadAttention
from minihaiku.layers._batch_norm import BatchNorm
from minihaiku.layers._embed import Embed, EmbedLookupStyle
from minihaiku.layers._linear import Linear
from minihaiku.layers._mlp import MLP
from minihaiku.layers._moving_averages import ExponentialMovingAverage
from minihaiku.layers._norm import GroupNorm, LayerNorm, RMSNorm
from minihaiku.layers._spectral_norm import SpectralNorm
from minihaiku.layers._version import __version__

__all__ = [
    "MLP",
    "BatchNorm",
    "Embed",
    "EmbedLookupStyle",
    "ExponentialMovingAverage",
    "GroupNorm",
    "LayerNorm",
    "Linear",
    "MultiHeadAttention",
    "RMSNorm",
    "SpectralNorm",
    "__version__",
]
