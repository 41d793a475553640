"""Running parts of a transformed function inside JAX transforms.

A lifted transform runs the user's function as a pure function of
``(state, rng, *args)`` inside the JAX transform, reading parameters from the
enclosing frame and returning the updated state, so nothing leaks out as a
tracer. During ``init`` the function first runs once outside the JAX
transform (the *init pass*) so that the parameters and state it creates
exist, with the same values as without the transform.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

from minihaiku.core._base import next_rng_key
from minihaiku.core._frame import Frame, copy_names, pop_frame, push_frame
from minihaiku.core._naming import ScopeNames

__all__ = ["Cursor", "Pure", "init_pass", "lift_key"]

Names = list[ScopeNames | None]


class Cursor:
    """The module names taken so far, carried from one pass to the next."""

    def __init__(self, names: Names) -> None:
        self.names = names

    def commit(self, frame: Frame) -> None:
        """Makes the names taken inside the lifted transform count in ``frame``."""
        frame.scope_names[:] = copy_names(self.names)


class Pure:
    """``fn`` as a pure function ``(state, rng, index, *args) -> (out, state)``.

    ``index`` is the layer index when ``stack_size`` is set (layer_stack or a
    split-params vmap), else ``None``. The first call fixes where module
    naming starts, so a re-trace names modules the same way; each call leaves
    its final names in ``cursor`` for the next branch or for the caller.
    """

    def __init__(
        self, fn: Callable[..., Any], outer: Frame, cursor: Cursor, stack_size: int | None = None
    ) -> None:
        self.fn = fn
        self.outer = outer
        self.cursor = cursor
        self.stack_size = stack_size
        self.start: Names | None = None

    def __call__(
        self, state: dict[str, Any], rng: Any, index: Any, *args: Any, **kwargs: Any
    ) -> tuple[Any, dict[str, Any]]:
        if self.start is None:
            self.start = self.cursor.names
        sub = self.outer.fork(dict(state), rng, initializing=False, names=self.start)
        if self.stack_size is not None:
            sub.stacks = (*self.outer.stacks, (self.stack_size, index))
        token = push_frame(sub)
        try:
            out = self.fn(*args, **kwargs)
        finally:
            pop_frame(token)
        self.cursor.names = sub.scope_names
        return out, sub.state


def init_pass(
    frame: Frame,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    names: Names,
    stack: tuple[int, Any] | None = None,
) -> Names:
    """During init, runs ``fn`` outside any JAX transform to create its params.

    New parameters land in ``frame.params`` with the values they would have
    without the lifted transform; new state entries get their initial values.
    Returns the module names taken, for the next pass to start from.
    """
    sub = frame.fork(dict(frame.state), frame.rng, initializing=True, names=names)
    if stack is not None:
        sub.stacks = (*frame.stacks, stack)
    sub.state_created = {}
    token = push_frame(sub)
    try:
        fn(*args, **kwargs)
    finally:
        pop_frame(token)
    for path, value in sub.state_created.items():
        frame.state.setdefault(path, value)
        if frame.state_created is not None:
            frame.state_created.setdefault(path, value)
    return sub.scope_names


def lift_key(frame: Frame) -> jax.Array | None:
    """A fresh key for the lifted function, or ``None`` when there is no key."""
    return None if frame.rng is None else next_rng_key()
