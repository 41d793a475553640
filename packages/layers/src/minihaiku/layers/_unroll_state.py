"""Checks that an unroll's initial state fits its core and inputs.

LSTM, GRU and VanillaRNN states are checked against the inputs' batch axes
and the core's ``hidden_size``; :class:`DeepRNN` (one state per core, in a
tuple) and :class:`ResetCore` (its core's state) are checked through.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core import InvalidArgumentError
from minihaiku.layers._recurrent import GRU, LSTM, RNNCore, VanillaRNN
from minihaiku.layers._rnn_wrappers import DeepRNN, ResetCore, describe_state

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
    VanillaRNN, an LSTM's cell), as before. A :class:`ResetCore` is unrolled
    over ``(inputs, should_reset)``: its batch axes are the inputs'.
    """
    inputs = input_sequence
    inner = core
    while isinstance(inner, ResetCore):
        if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
            return  # ResetCore names this
        inputs, inner = inputs[0], inner.core
    if not isinstance(inner, (LSTM, GRU, VanillaRNN, DeepRNN)):
        return
    leaves = jax.tree_util.tree_leaves(inputs)
    if len(leaves) != 1 or jnp.ndim(leaves[0]) < 2:
        return  # the core's own checks name these
    step_shape = list(jnp.shape(leaves[0]))
    del step_shape[time_axis]
    batch = tuple(step_shape[:-1])
    _check(_Where(fn, core, batch, exact), inner, initial_state, "initial_state", True)


class _Where:
    """The unroll being checked: its name, outer core, batch axes and exactness."""

    def __init__(self, fn: str, top: Any, batch: tuple[int, ...], exact: bool) -> None:
        self.fn, self.top, self.batch, self.exact = fn, top, batch, exact

    def fix(self, expected: tuple[int, ...]) -> str:
        batch = self.batch
        if len(batch) > 1:
            return f"Pass zeros of shape {expected}"
        return f"Pass core.initial_state({'None' if not batch else batch[0]})"

    def fix_tuple(self) -> str:
        if len(self.batch) > 1:
            return f"Pass a tuple of the cores' states, each of batch axes {self.batch}"
        b = "None" if not self.batch else self.batch[0]
        return f"Pass core.initial_state({b}), the tuple DeepRNN.initial_state returns"


def _check(at: _Where, core: Any, state: Any, where: str, known: bool) -> None:
    """Checks ``state`` against ``core``; ``known``: the core gets the unroll's inputs' batch axes.

    In a :class:`DeepRNN`, a core after a plain callable (``one_hot``, a
    reshape) may see other batch axes: only its state's structure and
    ``hidden_size`` are checked.
    """
    while isinstance(core, ResetCore):
        core = core.core
    if isinstance(core, DeepRNN):
        _check_deep(at, core, state, where, known)
    elif isinstance(core, (LSTM, GRU, VanillaRNN)):
        _check_leaf_core(at, core, state, where, known)


def _check_deep(at: _Where, core: DeepRNN, state: Any, where: str, known: bool) -> None:
    cores = [layer for layer in core.layers if isinstance(layer, RNNCore)]
    if not isinstance(state, (tuple, list)) or len(state) != len(cores):
        got = (
            f"a {type(state).__name__} of length {len(state)}"
            if isinstance(state, (tuple, list))
            else describe_state(state)
        )
        whose = "" if core is at.top else f", the state of {core.module_label},"
        raise InvalidArgumentError(
            f"{at.fn} of {at.top.module_label}: {where}{whose} must be a tuple with one "
            f"state per core ({len(cores)}: {', '.join(c.module_label for c in cores)}), "
            f"got {got}. {at.fix_tuple()}."
        )
    i = 0
    for layer in core.layers:
        if isinstance(layer, RNNCore):
            _check(at, layer, state[i], f"{where}[{i}]", known)
            i += 1
        else:
            known = False  # a plain callable may change the batch axes


def _check_leaf_core(
    at: _Where, core: LSTM | GRU | VanillaRNN, state: Any, where: str, known: bool
) -> None:
    hidden_size = core.hidden_size
    expected = (*at.batch, hidden_size)
    shapes = [tuple(jnp.shape(leaf)) for leaf in jax.tree_util.tree_leaves(state)]
    is_lstm = isinstance(core, LSTM)
    count = 2 if is_lstm else 1
    fits = len(shapes) == count and all(
        _fits(shape, expected, at.exact or (is_lstm and i == 0))
        if known
        else shape[-1:] == (hidden_size,)
        for i, shape in enumerate(shapes)
    )
    if fits:
        return
    what = "an LSTMState(hidden, cell) of two arrays" if is_lstm else "an array"
    top = core is at.top or (isinstance(at.top, ResetCore) and _unwrap(at.top) is core)
    whose = "" if top else f", the state of {core.module_label},"
    which = "the core" if top else "that core"
    got = f"{'shapes' if len(shapes) != 1 else 'shape'} {shapes if len(shapes) != 1 else shapes[0]}"
    if not known:
        raise InvalidArgumentError(
            f"{at.fn} of {at.top.module_label}: {where}{whose} does not fit that core: "
            f"expected {what} whose last axis is its hidden_size {hidden_size}, got {got}. "
            "Pass core.initial_state(batch_size), or give that core the hidden_size of "
            "the state."
        )
    raise InvalidArgumentError(
        f"{at.fn} of {at.top.module_label}: {where}{whose} does not fit the inputs: "
        f"expected {what} of shape {expected} (the inputs' batch axes {at.batch} and "
        f"hidden_size {hidden_size}), got {'shapes' if len(shapes) != 1 else 'shape'} "
        f"{shapes if len(shapes) != 1 else shapes[0]}. {at.fix(expected)}, or give "
        f"{which} the hidden_size of the state."
    )


def _unwrap(core: Any) -> Any:
    while isinstance(core, ResetCore):
        core = core.core
    return core
