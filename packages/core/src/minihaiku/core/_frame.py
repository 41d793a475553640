"""The frame: what one call of a transformed function is doing.

A :class:`Frame` holds the params and state being built (``init``) or read
(``apply``), the random keys, and the stack of module scopes. The current frame
lives in a :class:`contextvars.ContextVar`, so threads and asyncio tasks never
see each other's frames.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from typing import Any

import jax

from minihaiku.core._errors import NotInTransformError

__all__ = ["ROOT", "Frame", "current_frame", "frame_or_none"]

#: Path of the root scope: module paths start with it (``~/MLP_0``).
ROOT = "~"


class Frame:
    """State of one ``init`` or ``apply`` call of a transformed function.

    Attributes:
      params: the parameters, by path. Built up during ``init``; the caller's
        mapping, read only, during ``apply``.
      state: the state entries, by path (a fresh dict in both modes).
      initializing: ``True`` during ``init``.
      allow_state: ``False`` under plain ``transform``.
      rng: the key that parameters are derived from (``init``), or the key
        given to ``apply`` (``None`` if none was).
      scope_paths: the stack of scope paths; ``scope_paths[0]`` is the root.
      scope_names: for each scope, the module names already used in it
        (created lazily).
    """

    __slots__ = (
        "allow_state",
        "initializing",
        "params",
        "rng",
        "rng_count",
        "scope_names",
        "scope_paths",
        "state",
    )

    def __init__(
        self,
        params: Mapping[str, Any],
        state: dict[str, Any],
        *,
        initializing: bool,
        allow_state: bool,
        rng: jax.Array | None,
    ) -> None:
        self.params = params
        self.state = state
        self.initializing = initializing
        self.allow_state = allow_state
        self.rng = rng
        self.rng_count = 0
        self.scope_paths: list[str] = [ROOT]
        self.scope_names: list[dict[str, int] | None] = [None]


_FRAME: contextvars.ContextVar[Frame | None] = contextvars.ContextVar(
    "minihaiku_frame", default=None
)

frame_or_none = _FRAME.get


def current_frame(what: str) -> Frame:
    """Returns the current frame, or raises an error naming ``what`` was called.

    Example:
      >>> current_frame("get_param")  # doctest: +SKIP
      Traceback (most recent call last):
      NotInTransformError: get_param must be called inside a function ...
    """
    frame = _FRAME.get()
    if frame is None:
        raise NotInTransformError(
            f"{what} must be called inside a function transformed with "
            "minihaiku.core.transform (or transform_with_state), while its "
            "init or apply runs. Wrap the code that calls it in a function f "
            "and use transform(f).init / transform(f).apply."
        )
    return frame


def push_frame(frame: Frame) -> contextvars.Token[Frame | None]:
    """Makes ``frame`` current; give the returned token to :func:`pop_frame`."""
    return _FRAME.set(frame)


def pop_frame(token: contextvars.Token[Frame | None]) -> None:
    """Restores the frame that was current before :func:`push_frame`."""
    _FRAME.reset(token)
