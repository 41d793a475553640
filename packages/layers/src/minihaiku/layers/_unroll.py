"""``static_unroll`` and ``dynamic_unroll``: run a core over a sequence."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core import InvalidArgumentError, NotCallableError, scan
from minihaiku.layers._unroll_state import check_initial_state

__all__ = ["dynamic_unroll", "static_unroll"]


def _where(fn: str, core: Any) -> str:
    path = getattr(core, "module_path", None)
    return f"{fn} of {type(core).__name__} {path}" if path else fn


def _num_steps(fn: str, core: Any, input_sequence: Any, time_axis: int) -> int:
    """Checks the core and the sequence; returns the number of time steps."""
    if not callable(core):
        raise NotCallableError(
            f"{fn}: core must be an RNNCore (or a callable (inputs, state) -> "
            f"(outputs, state)), got {type(core).__name__} {core!r:.60}."
        )
    where = _where(fn, core)
    leaves = jax.tree_util.tree_leaves(input_sequence)
    if not leaves:
        raise InvalidArgumentError(
            f"{where}: input_sequence has no arrays; pass an array (or a nest of "
            "arrays) with a time axis."
        )
    layout = "time-major [T, ...]" if time_axis == 0 else "batch-major [B, T, ...]"
    lengths = set()
    for leaf in leaves:
        shape = jnp.shape(leaf)
        if len(shape) <= time_axis:
            raise InvalidArgumentError(
                f"{where}: an input of shape {tuple(shape)} has no time axis {time_axis} "
                f"(time_major={time_axis == 0} expects {layout}). Add the axis or "
                "set time_major to match the layout."
            )
        lengths.add(shape[time_axis])
    if len(lengths) > 1:
        raise InvalidArgumentError(
            f"{where}: the inputs have different numbers of time steps "
            f"{sorted(lengths)} on axis {time_axis}; every input needs the same length."
        )
    return int(lengths.pop())


def static_unroll(
    core: Callable[[Any, Any], tuple[Any, Any]],
    input_sequence: Any,
    initial_state: Any,
    time_major: bool = True,
) -> tuple[Any, Any]:
    """Unrolls ``core`` over ``input_sequence`` with a Python loop (the step repeated T times).

    Args:
      core: an :class:`RNNCore`.
      input_sequence: an array or nest of arrays of shape ``[T, ...]``
        (``time_major``) or ``[B, T, ...]``.
      initial_state: the core's state before the first step.
      time_major: the layout of inputs and outputs.

    Returns:
      ``(output_sequence, final_state)``, outputs stacked on the time axis;
      over zero time steps, the empty sequence and ``initial_state``, as
      :func:`dynamic_unroll`.

    Raises:
      InvalidArgumentError: the sequence has no time axis or inputs of
        different lengths, or the initial state of an ``LSTM``, ``GRU`` or
        ``VanillaRNN`` does not fit the inputs' batch or the ``hidden_size``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import LSTM, static_unroll
      >>> def f(xs):
      ...   core = LSTM(3)
      ...   return static_unroll(core, xs, core.initial_state(2))[0]
      >>> xs = jnp.ones((5, 2, 4))   # [T, B, features]
      >>> transform(f).apply(transform(f).init(0, xs), xs).shape
      (5, 2, 3)
    """
    time_axis = 0 if time_major else 1
    num_steps = _num_steps("static_unroll", core, input_sequence, time_axis)
    check_initial_state(
        "static_unroll", core, input_sequence, initial_state, time_axis, exact=False
    )
    if num_steps == 0:
        # no step to stack: the empty sequence and the initial state, as dynamic_unroll
        return dynamic_unroll(core, input_sequence, initial_state, time_major=time_major)
    flat, treedef = jax.tree_util.tree_flatten(input_sequence)
    steps = [jnp.unstack(x, axis=time_axis) for x in flat]
    state = initial_state
    outputs = []
    for t in range(num_steps):
        out, state = core(jax.tree_util.tree_unflatten(treedef, [x[t] for x in steps]), state)
        outputs.append(out)
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a, axis=time_axis), *outputs)
    return stacked, state


def _swap_batch_time(nest: Any) -> Any:
    return jax.tree_util.tree_map(lambda x: jnp.swapaxes(x, 0, 1), nest)


def dynamic_unroll(
    core: Callable[[Any, Any], tuple[Any, Any]],
    input_sequence: Any,
    initial_state: Any,
    time_major: bool = True,
    reverse: bool = False,
    return_all_states: bool = False,
    unroll: int = 1,
) -> tuple[Any, Any]:
    """Unrolls ``core`` over ``input_sequence`` with one ``scan`` (the loop stays a loop).

    Uses minihaiku's lifted :func:`minihaiku.core.scan`, so the core's
    parameters, state and keys work inside; call it inside a transformed
    function.

    Args:
      core: an :class:`RNNCore`.
      input_sequence: an array or nest of arrays of shape ``[T, ...]``
        (``time_major``) or ``[B, T, ...]``.
      initial_state: the core's state before the first step.
      time_major: the layout of inputs and outputs.
      reverse: scan the time steps last to first (outputs stay aligned with
        their inputs).
      return_all_states: return the state after every step (stacked like the
        outputs) instead of only the final state.
      unroll: how many steps to unroll in each loop iteration.

    Returns:
      ``(output_sequence, final_state)``, or ``(output_sequence,
      state_sequence)`` with ``return_all_states``.

    Raises:
      InvalidArgumentError: as :func:`static_unroll`; the initial state of an
        ``LSTM``, ``GRU`` or ``VanillaRNN`` must have exactly the shape
        ``[..., hidden_size]`` of the inputs' batch axes (the loop keeps it).

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import GRU, dynamic_unroll
      >>> def f(xs):
      ...   core = GRU(3)
      ...   return dynamic_unroll(core, xs, core.initial_state(2), time_major=False)
      >>> xs = jnp.ones((2, 5, 4))   # [B, T, features]
      >>> out, state = transform(f).apply(transform(f).init(0, xs), xs)
      >>> out.shape, state.shape
      ((2, 5, 3), (2, 3))
    """
    time_axis = 0 if time_major else 1
    _num_steps("dynamic_unroll", core, input_sequence, time_axis)
    check_initial_state(
        "dynamic_unroll", core, input_sequence, initial_state, time_axis, exact=True
    )

    def step(prev_state: Any, inputs: Any) -> tuple[Any, Any]:
        outputs, next_state = core(inputs, prev_state)
        if return_all_states:
            return next_state, (outputs, next_state)
        return next_state, outputs

    if not time_major:
        input_sequence = _swap_batch_time(input_sequence)
    last_state, ys = scan(step, initial_state, input_sequence, reverse=reverse, unroll=unroll)
    if return_all_states:
        outputs, states = ys
    else:
        outputs, states = ys, last_state
    if not time_major:
        outputs = _swap_batch_time(outputs)
        if return_all_states:
            states = _swap_batch_time(states)
    return outputs, states
