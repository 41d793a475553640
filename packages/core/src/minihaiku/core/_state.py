"""``get_state`` and ``set_state``: values a model carries from one apply to the next."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core._checks import check_value, is_array, norm_shape
from minihaiku.core._create import InitLike, create, zeros_init
from minihaiku.core._do_not_store import DO_NOT_STORE
from minihaiku.core._errors import (
    MissingStateError,
    ParameterShapeError,
    StateNotAllowedError,
)
from minihaiku.core._frame import Frame, InitFrame, Stack, current_frame
from minihaiku.core._hooks import HOOKS
from minihaiku.core._init_plan import CannotPlanError, current_plan
from minihaiku.core._params import missing_message, scoped_path, unstack
from minihaiku.core._schemes import SEED
from minihaiku.core._trace import check_trace

__all__ = ["get_state", "set_state"]


def _state_frame(what: str) -> Frame:
    frame = current_frame(what)
    if not frame.allow_state:
        raise StateNotAllowedError(
            f"{what} was called in a function transformed with transform, which "
            "has no state. Use transform_with_state: its init returns "
            "(params, state) and its apply takes and returns state."
        )
    return frame


def get_state(
    name: str,
    shape: Sequence[int] | None = None,
    dtype: Any = jnp.float32,
    init: InitLike = None,
    *,
    axes: Sequence[str | None] | None = None,
) -> jax.Array:
    """Reads the state entry ``name``, creating it during ``init``.

    In ``init`` a missing entry is created with ``init`` (default: zeros) and
    the given shape and dtype; that value is the entry's initial value, which
    ``init`` returns. In ``apply`` the value is the one given to ``apply`` or
    the last one stored with :func:`set_state`; an entry missing there raises
    :class:`MissingStateError`, except under the haiku scheme with ``init``
    given, where apply creates it as init would (dm-haiku's rule; the new state
    then holds it). ``axes`` annotates a created entry for sharding, as in
    :func:`~minihaiku.core.get_param`.

    Examples:
      >>> from minihaiku.core import get_state, set_state, transform_with_state
      >>> def f():
      ...   n = get_state("count", (), jnp.int32)
      ...   set_state("count", n + 1)
      >>> params, state = transform_with_state(f).init(0)
      >>> state
      {'~/count': Array(0, dtype=int32)}
    """
    frame = _state_frame("get_state")
    path = scoped_path(frame, name, "state")
    if frame.custom is not None and frame.custom.state:
        return HOOKS.custom_get_state(frame, path, shape, dtype, init, axes)  # type: ignore[no-any-return]
    state = frame.state
    value = state.get(path)
    if value is None:
        if not isinstance(frame, InitFrame) and (init is None or frame.scheme is SEED):
            # dm-haiku (the haiku scheme) creates an entry missing in apply from init
            if frame.scheme is SEED:
                raise MissingStateError(missing_message(path, state, "state"))
            raise MissingStateError(
                f"state {path!r} is not in the state given to apply ({len(state)} "
                "entries) and get_state was called without init. Pass init= (it then "
                "creates the entry in apply, as in init), or run init with the same "
                "function to get a state that holds it."
            )
        if shape is None:
            raise ParameterShapeError(
                f"state {path!r} does not exist yet, and get_state was called "
                "without a shape. Pass shape= (and dtype=) the first time, or "
                "set_state it first."
            )
        if axes is not None:
            HOOKS.record_axes(frame, path, norm_shape(shape, path), axes, "state")
        value = create(
            frame,  # type: ignore[arg-type]  # an apply frame under the haiku scheme
            path,
            norm_shape(shape, path),
            dtype,
            init if init is not None else zeros_init,
            "state",
            "/state/" + path,
        )
        state[path] = value
        if isinstance(frame, InitFrame):
            frame.initial_state.setdefault(path, value)
    if frame.stacks:
        value = unstack(value, frame.stacks, None)
    if shape is not None:
        check_value(value, path, "state", norm_shape(shape, path), dtype)
    return value  # type: ignore[no-any-return]


def _restack(old: Any, value: Any, stacks: tuple[Stack, ...]) -> Any:
    """``old`` with the current layer's slice replaced by ``value``."""
    if not stacks:
        return value
    (_, index), rest = stacks[0], stacks[1:]
    inner = jax.lax.dynamic_index_in_dim(old, index, keepdims=False)
    return jax.lax.dynamic_update_index_in_dim(old, _restack(inner, value, rest), index, 0)


def set_state(name: str, value: Any, *, axes: Sequence[str | None] | None = None) -> None:
    """Stores ``value`` as state entry ``name``.

    During ``init`` the first value stored (or created by :func:`get_state`)
    is the entry's initial value; later writes change what the rest of the
    function reads, not what ``init`` returns (dm-haiku's rule). During
    ``apply`` the new value is returned in the updated state. An entry keeps
    its shape. ``axes`` annotates an entry that this call creates (in
    ``init``) for sharding, as in :func:`~minihaiku.core.get_param`.

    Examples:
      >>> from minihaiku.core import set_state, transform_with_state
      >>> def f(x):
      ...   set_state("last", x)
      ...   return x
      >>> _, state = transform_with_state(f).init(0, jnp.ones(2))
      >>> state
      {'~/last': Array([1., 1.], dtype=float32)}
    """
    frame = _state_frame("set_state")
    path = scoped_path(frame, name, "state")
    if frame.state_locked is not None:
        raise StateNotAllowedError(
            f"set_state({name!r}) inside {frame.state_locked}: state {path!r} "
            "cannot change there, the change would be lost. Move the update into "
            "the loop body (or out of the condition)."
        )
    check_trace(frame.trace, f"set_state({name!r})")
    if frame.custom is not None and frame.custom.setters:
        value = HOOKS.run_setters(frame, path, value)
        if value is DO_NOT_STORE:
            return
    state = frame.state
    if not is_array(value):
        value = jnp.asarray(value)
    old = state.get(path)
    stacks = frame.stacks
    if old is None:
        if not isinstance(frame, InitFrame):
            raise MissingStateError(
                f"set_state({name!r}) in apply: state {path!r} was not created "
                "during init, so it is not in the state given to apply. Call "
                "set_state or get_state for it during init too."
            )
        if current_plan() is not None:  # abstract init: stop now, init runs eagerly
            raise CannotPlanError(f"the first value of state {path!r} comes from set_state")
        if axes is not None:
            HOOKS.record_axes(frame, path, tuple(value.shape), axes, "state")
        if stacks:  # a new per-layer entry inside layer_stack: one copy per layer
            value = jnp.broadcast_to(value, (*(n for n, _ in stacks), *value.shape))
        frame.initial_state.setdefault(path, value)
        state[path] = value
        return
    if stacks:
        current = unstack(old, stacks, None)
        if current is not old and current.shape == value.shape:
            state[path] = _restack(old, value.astype(old.dtype), stacks)
            return
    if old.shape != value.shape:
        raise ParameterShapeError(
            f"set_state: state {path!r} has shape {tuple(old.shape)}, got a "
            f"value of shape {tuple(value.shape)}. State entries keep their "
            "shape; reshape the value or use another name."
        )
    state[path] = value
