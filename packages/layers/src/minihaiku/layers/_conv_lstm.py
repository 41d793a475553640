"""Convolutional LSTMs: ``ConvNDLSTM`` and ``Conv1DLSTM``/``Conv2DLSTM``/``Conv3DLSTM``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError
from minihaiku.core.checks import check_positive_int, prefix
from minihaiku.layers._checks import check_size, positive_ints
from minihaiku.layers._conv import ConvND
from minihaiku.layers._recurrent import LSTMState, RNNCore, add_batch

__all__ = ["Conv1DLSTM", "Conv2DLSTM", "Conv3DLSTM", "ConvNDLSTM"]


def _spatial_shape(value: Any, where: str, n: int) -> tuple[int, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != n:
        raise InvalidArgumentTypeError(
            f"{prefix(where)}input_shape must be the {n} spatial sizes of the input "
            f"(without batch and channels), got {value!r:.60}. Pass e.g. "
            f"input_shape={(8,) * n!r}."
        )
    return tuple(check_size(v, "input_shape", where) for v in value)


class ConvNDLSTM(RNNCore):
    r"""A convolutional LSTM (https://arxiv.org/abs/1506.04214), as dm-haiku's.

    ``i, g, f, o = split(conv_x(x_t) + conv_h(h_{t-1}))`` (channels last, in
    this order); ``c_t = sigmoid(f + 1) c_{t-1} + sigmoid(i) tanh(g)``;
    ``h_t = sigmoid(o) tanh(c_t)``. ``conv_x`` and ``conv_h`` are
    :class:`ConvND` with ``4 * output_channels`` channels, ``"SAME"``
    padding and a bias, named ``input_to_hidden`` and ``hidden_to_hidden`` as
    in dm-haiku. The output is ``h_t``; the state an :class:`LSTMState` of
    shape ``input_shape + (output_channels,)`` (plus the batch axis).

    Args:
      num_spatial_dims: the number of spatial dimensions.
      input_shape: the spatial shape of the input (without batch and channels).
      output_channels: the channels of the hidden and cell states.
      kernel_shape: the kernel of both convolutions (an int or a sequence).
      name: the module's name; default ``ConvNDLSTM_N``.

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import ConvNDLSTM
      >>> def f(x):
      ...   core = ConvNDLSTM(1, (6,), 4, 3)
      ...   return core(x, core.initial_state(2))
      >>> params = transform(f).init(0, jnp.ones((2, 6, 3)))
      >>> for k, v in params.items(): print(k, v.shape)
      ~/ConvNDLSTM_0/__call__/input_to_hidden/__call__/w (3, 3, 16)
      ~/ConvNDLSTM_0/__call__/input_to_hidden/__call__/b (16,)
      ~/ConvNDLSTM_0/__call__/hidden_to_hidden/__call__/w (3, 4, 16)
      ~/ConvNDLSTM_0/__call__/hidden_to_hidden/__call__/b (16,)
    """

    #: The convolution class built inside (a subclass may swap in another).
    conv_cls: ClassVar[type[ConvND]] = ConvND

    def __init__(
        self,
        num_spatial_dims: int,
        input_shape: Sequence[int],
        output_channels: int,
        kernel_shape: int | Sequence[int],
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        where = self.module_label
        n = self.num_spatial_dims = check_positive_int(num_spatial_dims, "num_spatial_dims", where)
        self.input_shape = _spatial_shape(input_shape, where, n)
        self.output_channels = check_size(output_channels, "output_channels", where)
        self.kernel_shape = positive_ints(kernel_shape, "kernel_shape", where, n=n)

    def __call__(self, inputs: Any, state: LSTMState) -> tuple[jax.Array, LSTMState]:
        """One step: returns ``(h, LSTMState(h, c))``."""
        n, size = self.num_spatial_dims, 4 * self.output_channels
        shape = tuple(jnp.shape(inputs))
        if len(shape) < n + 1 or shape[-n - 1 : -1] != self.input_shape:
            raise InvalidArgumentError(
                f"{self.module_label}: the input must have the spatial shape input_shape="
                f"{self.input_shape} followed by channels, got shape {shape}. Construct the "
                "core with the input's spatial shape, or resize the input."
            )
        conv = self.conv_cls
        input_to_hidden = conv(n, size, self.kernel_shape, name="input_to_hidden")
        hidden_to_hidden = conv(n, size, self.kernel_shape, name="hidden_to_hidden")
        hidden, cell = state
        gates = input_to_hidden(inputs) + hidden_to_hidden(hidden)
        i, g, f, o = jnp.split(gates, indices_or_sections=4, axis=-1)
        f = jax.nn.sigmoid(f + 1)
        c = f * cell + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return h, LSTMState(h, c)

    def initial_state(self, batch_size: int | None) -> LSTMState:
        """Zero hidden and cell states, with a leading batch axis unless None."""
        shape = (*self.input_shape, self.output_channels)
        state = LSTMState(jnp.zeros(shape), jnp.zeros(shape))
        return state if batch_size is None else add_batch(state, batch_size)


class Conv1DLSTM(ConvNDLSTM):
    """A 1-D convolutional LSTM, as dm-haiku's ``hk.Conv1DLSTM``.

    Args:
      input_shape: the spatial shape of the input ``(width,)``.
      output_channels: the channels of the hidden and cell states.
      kernel_shape: the kernel (an int or a sequence of 1).
      name: the module's name; default ``Conv1DLSTM_N``.

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import Conv1DLSTM
      >>> def f(x):
      ...   core = Conv1DLSTM((6,), 4, 3)
      ...   return core(x, core.initial_state(None))
      >>> f = transform(f)
      >>> out, state = f.apply(f.init(0, jnp.ones((6, 3))), jnp.ones((6, 3)))
      >>> out.shape, state.cell.shape
      ((6, 4), (6, 4))
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        output_channels: int,
        kernel_shape: int | Sequence[int],
        name: str | None = None,
    ) -> None:
        super().__init__(1, input_shape, output_channels, kernel_shape, name)


class Conv2DLSTM(ConvNDLSTM):
    """A 2-D convolutional LSTM, as dm-haiku's ``hk.Conv2DLSTM``.

    Args:
      input_shape: the spatial shape of the input ``(height, width)``.
      output_channels: the channels of the hidden and cell states.
      kernel_shape: the kernel (an int or a sequence of 1 or 2).
      name: the module's name; default ``Conv2DLSTM_N``.

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import Conv2DLSTM, dynamic_unroll
      >>> def f(xs):
      ...   core = Conv2DLSTM((5, 5), 2, 3)
      ...   return dynamic_unroll(core, xs, core.initial_state(4))
      >>> f = transform(f)
      >>> xs = jnp.ones((7, 4, 5, 5, 3))  # time, batch, height, width, channels
      >>> outs, state = f.apply(f.init(0, xs), xs)
      >>> outs.shape, state.hidden.shape
      ((7, 4, 5, 5, 2), (4, 5, 5, 2))
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        output_channels: int,
        kernel_shape: int | Sequence[int],
        name: str | None = None,
    ) -> None:
        super().__init__(2, input_shape, output_channels, kernel_shape, name)


class Conv3DLSTM(ConvNDLSTM):
    """A 3-D convolutional LSTM, as dm-haiku's ``hk.Conv3DLSTM``.

    Args:
      input_shape: the spatial shape of the input ``(depth, height, width)``.
      output_channels: the channels of the hidden and cell states.
      kernel_shape: the kernel (an int or a sequence of 1 or 3).
      name: the module's name; default ``Conv3DLSTM_N``.

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import Conv3DLSTM
      >>> def f(x):
      ...   core = Conv3DLSTM((2, 3, 3), 2, 2)
      ...   return core(x, core.initial_state(1))[0]
      >>> f = transform(f)
      >>> f.apply(f.init(0, jnp.ones((1, 2, 3, 3, 1))), jnp.ones((1, 2, 3, 3, 1))).shape
      (1, 2, 3, 3, 2)
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        output_channels: int,
        kernel_shape: int | Sequence[int],
        name: str | None = None,
    ) -> None:
        super().__init__(3, input_shape, output_channels, kernel_shape, name)
