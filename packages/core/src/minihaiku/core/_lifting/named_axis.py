"""The init pass of a lifted ``vmap`` whose axis has a name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import jax

from minihaiku.core._frame import InitFrame, current_frame, running

__all__ = ["init_pass_over_axis"]


def init_pass_over_axis(fn: Callable[..., Any], axis: dict[str, Any], args: tuple[Any, ...]) -> Any:
    """The init pass of a ``vmap`` with a named axis: ``fn`` over the whole batch, in ``jax.vmap``.

    Collectives inside ``fn`` (``jax.lax.pmean(x, name)``, a ``BatchNorm``'s
    ``cross_replica_axis``) need the axis bound and its elements all there, so
    this pass maps ``fn`` over ``args`` as dm-haiku's ``init`` does (``axis``:
    ``jax.vmap``'s keyword arguments). Parameters are drawn from keys alone, so
    they come out as plain arrays; the state ``fn`` sets leaves through the
    ``jax.vmap``'s outputs, unmapped (a value that differs along the axis is
    JAX's error, as in dm-haiku), never as a stray tracer.
    """
    frame = cast(InitFrame, current_frame("vmap"))  # lift's init pass runs in an InitFrame

    def one(*a: Any) -> Any:
        started = frame.trace
        try:
            with running(frame):  # this jax.vmap is the lifted one: create inside it
                out = fn(*a)
        finally:
            frame.trace = started
        return out, dict(frame.state), dict(frame.initial_state)

    out, state, initial = jax.vmap(one, **{**axis, "out_axes": (axis["out_axes"], None, None)})(
        *args
    )
    frame.state.update(state)
    frame.initial_state.update(initial)
    return out
