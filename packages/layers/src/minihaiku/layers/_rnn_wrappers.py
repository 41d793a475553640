"""Cores made of cores: ``ResetCore``, ``DeepRNN``, ``deep_rnn_with_skip_connections``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError
from minihaiku.layers._recurrent import RNNCore

__all__ = ["DeepRNN", "ResetCore", "deep_rnn_with_skip_connections", "describe_state"]


class ResetCore(RNNCore):
    """Wraps a core so that the state of chosen batch entries is reset to the initial state.

    It is called with ``((inputs, should_reset), state)``: where
    ``should_reset`` is true, the wrapped core starts from its
    ``initial_state`` instead of ``state``. ``should_reset`` is a boolean
    array whose shape is a prefix of every state leaf's shape (e.g.
    ``(batch,)``), or a nest of such arrays matching the state.

    Args:
      core: the core to wrap.
      name: the module's name; default ``ResetCore_N``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import IdentityCore, ResetCore
      >>> class Count(IdentityCore):
      ...   def __call__(self, inputs, state):
      ...     return state + 1, state + 1
      ...   def initial_state(self, batch_size):
      ...     return jnp.zeros((batch_size,))
      >>> f = transform(lambda x, r, s: ResetCore(Count())((x, r), s))
      >>> f.apply({}, jnp.ones(2), jnp.array([True, False]), jnp.array([5.0, 5.0]))[0]
      Array([1., 6.], dtype=float32)
    """

    def __init__(self, core: RNNCore, name: str | None = None):
        super().__init__(name=name)
        self.core = core

    def __call__(self, inputs: Any, state: Any) -> tuple[Any, Any]:
        """One step of the wrapped core on ``inputs = (inputs, should_reset)``."""
        if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
            raise InvalidArgumentTypeError(
                f"{self.module_label}: inputs must be a pair "
                f"(inputs, should_reset), got {type(inputs).__name__}. Call it as "
                "core((x, should_reset), state), or unroll it over "
                "(xs, should_resets)."
            )
        inputs, should_reset = inputs
        inputs = jax.tree_util.tree_map(jnp.asarray, inputs)
        should_reset = jax.tree_util.tree_map(jnp.asarray, should_reset)
        state = jax.tree_util.tree_map(jnp.asarray, state)
        self._check_structure(state)
        if jax.tree_util.treedef_is_leaf(jax.tree_util.tree_structure(should_reset)):
            should_reset = jax.tree_util.tree_map(lambda _: should_reset, state)
        should_reset = jax.tree_util.tree_map(self._conform, should_reset, state)
        batch_size = jax.tree_util.tree_leaves(inputs)[0].shape[0] if self._batched(state) else None
        initial_state = jax.tree_util.tree_map(
            lambda s, i: i.astype(s.dtype), state, self.initial_state(batch_size)
        )
        state = jax.tree_util.tree_map(jnp.where, should_reset, initial_state, state)
        return self.core(inputs, state)

    def initial_state(self, batch_size: int | None) -> Any:
        """The wrapped core's initial state."""
        return self.core.initial_state(batch_size)

    def _check_structure(self, state: Any) -> None:
        want = self.initial_state(1)
        if jax.tree_util.tree_structure(state) == jax.tree_util.tree_structure(want):  # type: ignore[operator]
            return
        raise InvalidArgumentError(
            f"{self.module_label}: state is {describe_state(state)}, but the state of "
            f"{self.core.module_label} is {describe_state(want)}. Start from "
            "core.initial_state(batch_size)."
        )

    def _conform(self, should_reset: jax.Array, state: jax.Array) -> jax.Array:
        if should_reset.shape == state.shape[: should_reset.ndim]:
            pad = (1,) * (state.ndim - should_reset.ndim)
            return jnp.reshape(should_reset, should_reset.shape + pad)
        raise InvalidArgumentError(
            f"{self.module_label}: should_reset of shape "
            f"{tuple(should_reset.shape)} does not fit a state entry of shape "
            f"{tuple(state.shape)}; its shape must be a prefix of every state "
            "entry's shape, e.g. (batch,)."
        )

    def _batched(self, state: Any) -> bool:
        leaves = jax.tree_util.tree_leaves(state)
        if not leaves:
            return False
        batched = jax.tree_util.tree_leaves(self.initial_state(1))
        return all(b.shape[1:] == s.shape[1:] for b, s in zip(batched, leaves, strict=False))


def describe_state(state: Any) -> str:
    """``state``'s structure in words: ``an LSTMState of 2 arrays``, ``an array``."""
    leaves = jax.tree_util.tree_leaves(state)
    if jax.tree_util.treedef_is_leaf(jax.tree_util.tree_structure(state)):
        return "an array" if leaves else "None"
    name = type(state).__name__
    acronym = name[:2].isupper()  # LSTMState: "an L-S-T-M"
    article = "an" if name[0] in ("AEFHILMNORSX" if acronym else "aeiouAEIOU") else "a"
    return f"{article} {name} of {len(leaves)} array{'s' if len(leaves) != 1 else ''}"


class DeepRNN(RNNCore):
    r"""Runs a sequence of cores and plain callables as one core.

    Each layer feeds the next; the state is a tuple with one entry per
    :class:`RNNCore` among the layers (``()`` if there is none). Build the
    layers before the ``DeepRNN`` (their parameters live under their own
    paths, as dm-haiku's).

    Args:
      layers: cores and callables (e.g. ``jax.nn.relu``), applied in order.
      name: the module's name; default ``DeepRNN_N``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import LSTM, DeepRNN
      >>> def f(x):
      ...   core = DeepRNN([LSTM(4), jax.nn.relu, LSTM(2)])
      ...   return core(x, core.initial_state(3))
      >>> out, state = transform(f).apply(transform(f).init(0, jnp.ones((3, 5))), jnp.ones((3, 5)))
      >>> out.shape, len(state)
      ((3, 2), 2)
    """

    def __init__(self, layers: Sequence[Any], name: str | None = None):
        super().__init__(name=name)
        if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
            raise InvalidArgumentTypeError(
                f"{self.module_label}: layers must be a sequence of cores and "
                f"callables, got {type(layers).__name__}. Pass e.g. "
                "[LSTM(8), jax.nn.relu, LSTM(4)]."
            )
        for i, layer in enumerate(layers):
            if not callable(layer):
                raise InvalidArgumentTypeError(
                    f"{self.module_label}: layers[{i}] is a "
                    f"{type(layer).__name__}, neither an RNNCore nor a callable."
                )
        self.layers = tuple(layers)
        self.skip_connections = False

    def __call__(self, inputs: Any, state: Any) -> tuple[Any, tuple[Any, ...]]:
        """One step of every layer; returns ``(output, tuple of the cores' states)``."""
        n_cores = sum(isinstance(layer, RNNCore) for layer in self.layers)
        if not isinstance(state, (tuple, list)) or len(state) != n_cores:
            got = f"length {len(state)}" if isinstance(state, (tuple, list)) else type(state)
            raise InvalidArgumentError(
                f"{self.module_label}: state must be a tuple with one entry per "
                f"core ({n_cores}), got {got}. Start from initial_state(batch_size)."
            )
        current = inputs
        next_states = []
        outputs = []
        state_idx = 0
        for idx, layer in enumerate(self.layers):
            if self.skip_connections and idx > 0:
                current = jax.tree_util.tree_map(
                    lambda x, *a: None if x is None else jnp.concatenate((x, *a), axis=-1),
                    inputs,
                    current,
                    is_leaf=lambda x: x is None,
                )
            if isinstance(layer, RNNCore):
                current, next_state = layer(current, state[state_idx])
                outputs.append(current)
                next_states.append(next_state)
                state_idx += 1
            else:
                current = layer(current)
        if self.skip_connections:
            out = jax.tree_util.tree_map(lambda *a: jnp.concatenate(a, axis=-1), *outputs)
        else:
            out = current
        return out, tuple(next_states)

    def initial_state(self, batch_size: int | None) -> tuple[Any, ...]:
        """The tuple of the cores' initial states."""
        return tuple(
            layer.initial_state(batch_size) for layer in self.layers if isinstance(layer, RNNCore)
        )


def deep_rnn_with_skip_connections(layers: Sequence[RNNCore], name: str | None = None) -> RNNCore:
    r"""A :class:`DeepRNN` whose layers also see the inputs, and whose output joins all outputs.

    Layer ``i > 0`` gets ``concatenate([inputs, output_{i-1}], -1)``; the
    output is the concatenation of every layer's output. All layers must be
    cores.

    Args:
      layers: the cores.
      name: the module's name; default ``DeepRNN_N``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import GRU, deep_rnn_with_skip_connections
      >>> def f(x):
      ...   core = deep_rnn_with_skip_connections([GRU(4), GRU(2)])
      ...   return core(x, core.initial_state(3))[0]
      >>> transform(f).apply(transform(f).init(0, jnp.ones((3, 5))), jnp.ones((3, 5))).shape
      (3, 6)
    """
    rnn = DeepRNN(layers, name=name)
    for i, layer in enumerate(rnn.layers):
        if not isinstance(layer, RNNCore):
            raise InvalidArgumentTypeError(
                f"deep_rnn_with_skip_connections {rnn.module_path}: layers[{i}] is "
                f"{getattr(layer, '__name__', type(layer).__name__)}, not an RNNCore; "
                "with skip connections every layer must be a core. Use DeepRNN "
                "for cores mixed with plain functions."
            )
    rnn.skip_connections = True
    return rnn
