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

from minihaiku.layers import _precision as _precision  # float32 defaults of the norms
from minihaiku.layers import pad
from minihaiku.layers._attention import MultiHeadAttention
from minihaiku.layers._basic import BatchApply, Sequential, dropout
from minihaiku.layers._batch_norm import BatchNorm
from minihaiku.layers._bias import Bias
from minihaiku.layers._conv import Conv1D, Conv2D, Conv3D, ConvND
from minihaiku.layers._conv_lstm import Conv1DLSTM, Conv2DLSTM, Conv3DLSTM, ConvNDLSTM
from minihaiku.layers._conv_transpose import (
    Conv1DTranspose,
    Conv2DTranspose,
    Conv3DTranspose,
    ConvNDTranspose,
)
from minihaiku.layers._convert import ConversionError, from_haiku, to_haiku
from minihaiku.layers._deferred import Deferred
from minihaiku.layers._depthwise_conv import DepthwiseConv1D, DepthwiseConv2D, DepthwiseConv3D
from minihaiku.layers._embed import Embed, EmbedLookupStyle
from minihaiku.layers._functions import expand_apply, get_channel_index, multinomial, one_hot
from minihaiku.layers._instance_norm import InstanceNorm
from minihaiku.layers._linear import Linear
from minihaiku.layers._mlp import MLP
from minihaiku.layers._moving_averages import ExponentialMovingAverage
from minihaiku.layers._norm import GroupNorm, LayerNorm, RMSNorm
from minihaiku.layers._params_tree import EMAParamsTree, SNParamsTree
from minihaiku.layers._pool import AvgPool, MaxPool, avg_pool, max_pool
from minihaiku.layers._recurrent import GRU, LSTM, IdentityCore, LSTMState, RNNCore, VanillaRNN
from minihaiku.layers._reshape import Flatten, Reshape
from minihaiku.layers._rnn_wrappers import DeepRNN, ResetCore, deep_rnn_with_skip_connections
from minihaiku.layers._separable_conv import SeparableDepthwiseConv2D
from minihaiku.layers._spectral_norm import SpectralNorm
from minihaiku.layers._unroll import dynamic_unroll, static_unroll
from minihaiku.layers._version import __version__

__all__ = [
    "GRU",
    "LSTM",
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
    "ConversionError",
    "DeepRNN",
    "Embed",
    "EmbedLookupStyle",
    "ExponentialMovingAverage",
    "Flatten",
    "GroupNorm",
    "IdentityCore",
    "LSTMState",
    "LayerNorm",
    "Linear",
    "MaxPool",
    "MultiHeadAttention",
    "RMSNorm",
    "RNNCore",
    "ResetCore",
    "Reshape",
    "Sequential",
    "SpectralNorm",
    "VanillaRNN",
    "__version__",
    "avg_pool",
    "deep_rnn_with_skip_connections",
    "dropout",
    "dynamic_unroll",
    "from_haiku",
    "max_pool",
    "pad",
    "static_unroll",
    "to_haiku",
    "Bias",
    "Conv1DLSTM",
    "Conv2DLSTM",
    "Conv3DLSTM",
    "ConvNDLSTM",
    "Deferred",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "DepthwiseConv3D",
    "InstanceNorm",
    "SeparableDepthwiseConv2D",
    "expand_apply",
    "get_channel_index",
    "multinomial",
    "one_hot",
    "EMAParamsTree",
    "SNParamsTree",
]
