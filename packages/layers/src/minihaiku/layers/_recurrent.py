"""Recurrent cores: ``RNNCore``, ``VanillaRNN``, ``LSTM``, ``GRU``, ``IdentityCore``.

They match dm-haiku's ``haiku/_src/recurrent.py``: same arguments, same
parameters (``VanillaRNN``: two ``Linear``; ``LSTM``: one ``Linear`` of the
concatenated gates in ``i, g, f, o`` order; ``GRU``: ``w_i``, ``w_h``, ``b``)
and the same outputs.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from minihaiku.core import InitLike, InvalidArgumentError, Module, get_param
from minihaiku.core.checks import check_initializer, prefix
from minihaiku.initializers import lecun_normal, zeros
from minihaiku.layers._checks import check_size
from minihaiku.layers._linear import Linear

__all__ = ["GRU", "LSTM", "IdentityCore", "LSTMState", "RNNCore", "VanillaRNN", "add_batch"]


class RNNCore(abc.ABC, Module):
    """Base class of recurrent cores.

    A core implements ``__call__(inputs, prev_state) -> (output, next_state)``
    (one step) and ``initial_state(batch_size)``. Unroll it over a sequence
    with :func:`dynamic_unroll` or :func:`static_unroll`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import get_param, transform
      >>> from minihaiku.layers import RNNCore, dynamic_unroll
      >>> class Accumulate(RNNCore):
      ...   def __call__(self, inputs, prev_state):
      ...     s = prev_state + inputs * get_param("g", (), init="ones")
      ...     return s, s
      ...   def initial_state(self, batch_size):
      ...     return jnp.zeros(()) if batch_size is None else jnp.zeros((batch_size,))
      >>> f = transform(lambda xs: dynamic_unroll(Accumulate(), xs, jnp.zeros(()))[0])
      >>> xs = jnp.arange(4.0)
      >>> f.apply(f.init(0, xs), xs)
      Array([0., 1., 3., 6.], dtype=float32)
    """

    @abc.abstractmethod
    def __call__(self, inputs: Any, prev_state: Any) -> tuple[Any, Any]:
        """Runs one step: returns ``(output, next_state)``.

        ``next_state`` has the structure and shapes of ``prev_state``.
        """

    @abc.abstractmethod
    def initial_state(self, batch_size: int | None) -> Any:
        """The state to start from; with a leading batch axis unless ``batch_size`` is None."""


def add_batch(nest: Any, batch_size: int | None) -> Any:
    """Adds a leading axis of size ``batch_size`` to every leaf of ``nest`` (dm-haiku's)."""
    return jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (batch_size, *x.shape)), nest)


def _zeros_state(size: int, batch_size: int | None) -> jax.Array:
    state = jnp.zeros([size])
    return state if batch_size is None else add_batch(state, batch_size)


def _check_rank(value: jax.Array, name: str, where: str) -> None:
    x = value
    if x.ndim not in (1, 2):
        raise InvalidArgumentError(
            f"{prefix(where)}{name} must be rank 1 (features,) or rank 2 (batch, "
            f"features), got shape {tuple(x.shape)}. Unroll a sequence with "
            "dynamic_unroll/static_unroll, which feed the core one time step at "
            "a time, or reshape the input to (batch, features)."
        )


class VanillaRNN(RNNCore):
    r"""A fully connected RNN: ``h_t = relu(w_i x_t + b_i + w_h h_{t-1} + b_h)``.

    The output is the new state. Parameters: ``Linear_0`` (input to hidden)
    and ``Linear_1`` (hidden to hidden, with a bias only if ``double_bias``),
    dm-haiku's ``linear`` and ``linear_1``.

    Args:
      hidden_size: size of the hidden state (a positive int).
      double_bias: give the hidden-to-hidden ``Linear`` a bias too (two bias
        vectors, as dm-haiku's default).
      name: the module's name; default ``VanillaRNN_N``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import VanillaRNN
      >>> def f(x):
      ...   core = VanillaRNN(3)
      ...   return core(x, core.initial_state(2))
      >>> params = transform(f).init(0, jnp.ones((2, 5)))
      >>> sorted(params)[-1]
      '~/VanillaRNN_0/__call__/Linear_1/__call__/w'
    """

    #: The linear layer class built inside (a subclass may swap in one with other defaults).
    linear_cls: ClassVar[type[Linear]] = Linear

    def __init__(self, hidden_size: int, double_bias: bool = True, name: str | None = None):
        super().__init__(name=name)
        where = self.module_label
        self.hidden_size = check_size(hidden_size, "hidden_size", where)
        self.double_bias = bool(double_bias)

    def __call__(self, inputs: Any, prev_state: Any) -> tuple[jax.Array, jax.Array]:
        """One step: returns ``(h, h)``."""
        inputs = jnp.asarray(inputs)
        prev_state = jnp.asarray(prev_state)
        input_to_hidden = self.linear_cls(self.hidden_size)
        hidden_to_hidden = self.linear_cls(self.hidden_size, with_bias=self.double_bias)
        out = jax.nn.relu(input_to_hidden(inputs) + hidden_to_hidden(prev_state))
        return out, out

    def initial_state(self, batch_size: int | None) -> jax.Array:
        """Zeros of shape ``(hidden_size,)``, or ``(batch_size, hidden_size)``."""
        return _zeros_state(self.hidden_size, batch_size)


class LSTMState(NamedTuple):
    """The state of an :class:`LSTM`: the hidden and the cell vectors.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.layers import LSTMState
      >>> LSTMState(hidden=jnp.zeros(2), cell=jnp.ones(2)).cell
      Array([1., 1.], dtype=float32)
    """

    hidden: jax.Array
    cell: jax.Array


class LSTM(RNNCore):
    r"""A long short-term memory core.

    ``i, g, f, o = split(Linear(4 * hidden_size)([x_t, h_{t-1}]))``;
    ``c_t = sigmoid(f + 1) c_{t-1} + sigmoid(i) tanh(g)``;
    ``h_t = sigmoid(o) tanh(c_t)``. The output is ``h_t``. The one ``Linear``
    (``Linear_0``, dm-haiku's ``linear``) holds the gates in dm-haiku's order
    ``i, g, f, o``; 1 is added to the forget gate, as in dm-haiku and Sonnet.

    Args:
      hidden_size: size of the hidden and cell vectors (a positive int).
      name: the module's name; default ``LSTM_N``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import LSTM
      >>> def f(x):
      ...   core = LSTM(4)
      ...   return core(x, core.initial_state(2))
      >>> params = transform(f).init(0, jnp.ones((2, 3)))
      >>> for k, v in params.items(): print(k, v.shape)
      ~/LSTM_0/__call__/Linear_0/__call__/w (7, 16)
      ~/LSTM_0/__call__/Linear_0/__call__/b (16,)
    """

    #: The linear layer class built inside (a subclass may swap in one with other defaults).
    linear_cls: ClassVar[type[Linear]] = Linear

    def __init__(self, hidden_size: int, name: str | None = None):
        super().__init__(name=name)
        self.hidden_size = check_size(hidden_size, "hidden_size", self.module_label)

    def __call__(self, inputs: Any, prev_state: LSTMState) -> tuple[jax.Array, LSTMState]:
        """One step: returns ``(h, LSTMState(h, c))``."""
        inputs = jnp.asarray(inputs)
        _check_rank(inputs, "input", self.module_label)
        hidden, cell = jax.tree_util.tree_map(jnp.asarray, tuple(prev_state))
        gated = self.linear_cls(4 * self.hidden_size)(jnp.concatenate([inputs, hidden], axis=-1))
        i, g, f, o = jnp.split(gated, indices_or_sections=4, axis=-1)
        f = jax.nn.sigmoid(f + 1)
        c = f * cell + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return h, LSTMState(h, c)

    def initial_state(self, batch_size: int | None) -> LSTMState:
        """Zero hidden and cell vectors, with a leading batch axis unless None."""
        return LSTMState(
            _zeros_state(self.hidden_size, batch_size), _zeros_state(self.hidden_size, batch_size)
        )


class GRU(RNNCore):
    r"""A gated recurrent unit (Chung et al. 2014, with biases), as dm-haiku's.

    ``z, r = sigmoid(x W_iz,ir + h W_hz,hr + b_z,r)``;
    ``a = tanh(x W_ia + (r h) W_ha + b_a)``; ``h_t = (1 - z) h + z a``.
    Parameters ``w_i`` ``(input, 3 * hidden)``, ``w_h`` ``(hidden, 3 * hidden)``
    and ``b`` ``(3 * hidden,)``, in the input's dtype.

    Args:
      hidden_size: size of the hidden state (a positive int).
      w_i_init: initializer of ``w_i`` (default ``lecun_normal``, dm-haiku's
        ``VarianceScaling()``).
      w_h_init: initializer of ``w_h`` (default ``lecun_normal``).
      b_init: initializer of ``b`` (default zeros).
      name: the module's name; default ``GRU_N``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import GRU
      >>> def f(x):
      ...   core = GRU(4)
      ...   return core(x, core.initial_state(2))
      >>> params = transform(f).init(0, jnp.ones((2, 3)))
      >>> for k, v in params.items(): print(k, v.shape)
      ~/GRU_0/__call__/w_i (3, 12)
      ~/GRU_0/__call__/w_h (4, 12)
      ~/GRU_0/__call__/b (12,)
    """

    def __init__(
        self,
        hidden_size: int,
        w_i_init: InitLike = None,
        w_h_init: InitLike = None,
        b_init: InitLike = None,
        name: str | None = None,
    ):
        super().__init__(name=name)
        where = self.module_label
        self.hidden_size = check_size(hidden_size, "hidden_size", where)
        self.w_i_init = check_initializer(w_i_init, "w_i_init", where, default=lecun_normal())
        self.w_h_init = check_initializer(w_h_init, "w_h_init", where, default=lecun_normal())
        self.b_init = check_initializer(b_init, "b_init", where, default=zeros())

    def __call__(self, inputs: Any, state: Any) -> tuple[jax.Array, jax.Array]:
        """One step: returns ``(h, h)``."""
        inputs = jnp.asarray(inputs)
        state = jnp.asarray(state)
        _check_rank(inputs, "input", self.module_label)
        hs = self.hidden_size
        dtype = inputs.dtype
        w_i = get_param("w_i", (inputs.shape[-1], 3 * hs), dtype, self.w_i_init)
        w_h = get_param("w_h", (hs, 3 * hs), dtype, self.w_h_init)
        b = get_param("b", (3 * hs,), dtype, self.b_init)
        w_h_z, w_h_a = jnp.split(w_h, indices_or_sections=[2 * hs], axis=1)
        b_z, b_a = jnp.split(b, indices_or_sections=[2 * hs], axis=0)
        zr_x, a_x = jnp.split(jnp.matmul(inputs, w_i), indices_or_sections=[2 * hs], axis=-1)
        zr_h = jnp.matmul(state, w_h_z)
        zr = zr_x + zr_h + jnp.broadcast_to(b_z, zr_h.shape)
        z, r = jnp.split(jax.nn.sigmoid(zr), indices_or_sections=2, axis=-1)
        a_h = jnp.matmul(r * state, w_h_a)
        a = jnp.tanh(a_x + a_h + jnp.broadcast_to(b_a, a_h.shape))
        next_state = (1 - z) * state + z * a
        return next_state, next_state

    def initial_state(self, batch_size: int | None) -> jax.Array:
        """Zeros of shape ``(hidden_size,)``, or ``(batch_size, hidden_size)``."""
        return _zeros_state(self.hidden_size, batch_size)


class IdentityCore(RNNCore):
    """A core that returns its inputs and an empty state ``()``.

    Useful to switch a model between recurrent and feed-forward versions.

    Args:
      name: the module's name; default ``IdentityCore_N``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import IdentityCore
      >>> transform(lambda x: IdentityCore()(x, ())).apply({}, jnp.ones(2))
      (Array([1., 1.], dtype=float32), ())
    """

    def __call__(self, inputs: Any, state: Any) -> tuple[Any, Any]:
        """Returns ``(inputs, state)``."""
        return inputs, state

    def initial_state(self, batch_size: int | None) -> Any:
        """The empty state ``()``."""
        return ()
