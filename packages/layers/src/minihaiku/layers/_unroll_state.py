"""Checks that an unroll's initial state fits its core and inputs (LSTM, GRU, VanillaRNN)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core import InvalidArgumentError
from minihaiku.layers._recurrent import GRU, LSTM, VanillaRNN

__all__ = ["check_initial_state"]


def _fits(shape: tuple[int, ...], expected: tuple[int, ...], exact: bool) -> bool:
    if shape == expected:
        return True
    if exact or shape[-1:] != expected[-1:]:
        return False
    try:
        return tuple(jnp.broadcast_shapes(shape, expected)) == expected
    except ValueError:
        return False


def check_initial_state(
    fn: str, core: Any, input_sequence: Any, initial_state: Any, time_axis: int, exact: bool
) -> None:
    """Raises when ``initial_state`` cannot be the state of ``core`` on these inputs.

    The state of one step has the inputs' batch axes and ``hidden_size``:
    ``[..., hidden_size]``. ``exact`` (``dynamic_unroll``, whose loop keeps the
    state's shape) asks for exactly that shape; otherwise a state that
    broadcasts to it passes where the core's step accepts it (GRU,
    VanillaRNN, an LSTM's cell), as before.
    """
    if not isinstance(core, (LSTM, GRU, VanillaRNN)):
        return
    inputs = jax.tree_util.tree_leaves(input_sequence)
    if len(inputs) != 1 or jnp.ndim(inputs[0]) < 2:
        return  # the core's own checks name these
    step_shape = list(jnp.shape(inputs[0]))
    del step_shape[time_axis]
    batch = tuple(step_shape[:-1])
    hidden_size = core.hidden_size
    expected = (*batch, hidden_size)
    leaves = jax.tree_util.tree_leaves(initial_state)
    shapes = [tuple(jnp.shape(leaf)) for leaf in leaves]
    is_lstm = isinstance(core, LSTM)
    count = 2 if is_lstm else 1
    fits = len(shapes) == count and all(
        _fits(shape, expected, exact or (is_lstm and i == 0)) for i, shape in enumerate(shapes)
    )
    if fits:
        return
    what = "an LSTMState(hidden, cell) of two arrays" if is_lstm else "an array"
    batch_arg = "None" if not batch else str(batch[0]) if len(batch) == 1 else "..."
    fix = (
        f"Pass core.initial_state({batch_arg})"
        if len(batch) <= 1
        else f"Pass zeros of shape {expected}"
    )
    raise InvalidArgumentError(
        f"{fn} of {core.module_label}: initial_state does not fit the inputs: expected "
        f"{what} of shape {expected} (the inputs' batch axes {batch} and hidden_size "
        f"{hidden_size}), got {'shapes' if len(shapes) != 1 else 'shape'} "
        f"{shapes if len(shapes) != 1 else shapes[0]}. {fix}, or give the core the "
        "hidden_size of the state."
    )
