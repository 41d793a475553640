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

from minihaiku.layers._convert import ConversionError, from_haiku, to_haiku
from minihaiku.layers._linear import Linear
from minihaiku.layers._mlp import MLP
from minihaiku.layers._recurrent import GRU, LSTM, IdentityCore, LSTMState, RNNCore, VanillaRNN
from minihaiku.layers._rnn_wrappers import DeepRNN, ResetCore, deep_rnn_with_skip_connections
from minihaiku.layers._unroll import dynamic_unroll, static_unroll
from minihaiku.layers._version import __version__

__all__ = [
    "GRU",
    "LSTM",
    "MLP",
    "ConversionError",
    "DeepRNN",
    "IdentityCore",
    "LSTMState",
    "Linear",
    "RNNCore",
    "ResetCore",
    "VanillaRNN",
    "__version__",
    "deep_rnn_with_skip_connections",
    "dynamic_unroll",
    "from_haiku",
    "static_unroll",
    "to_haiku",
]
