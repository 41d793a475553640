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
from minihaiku.core._naming import ScopeNames

__all__ = [
    "ROOT",
    "Frame",
    "copy_names",
    "current_frame",
    "frame_or_none",
    "pop_frame",
    "push_frame",
    "trace_state",
]

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
        "interceptors",
        "method_interceptors",
        "params",
        "rng",
        "rng_count",
        "rng_host",
        "scope_names",
        "scope_paths",
        "stacks",
        "state",
        "state_created",
        "trace_state",
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
        #: the host copy of ``rng`` for deriving parameter keys (computed lazily).
        self.rng_host: Any = None
        self.scope_paths: list[str] = [ROOT]
        self.scope_names: list[ScopeNames | None] = [None]
        #: (size, index) of each enclosing layer_stack / split-params vmap.
        self.stacks: tuple[tuple[int, Any], ...] = ()
        #: parameter interceptors, outermost first.
        self.interceptors: tuple[Any, ...] = ()
        #: method interceptors, outermost first.
        self.method_interceptors: tuple[Any, ...] = ()
        #: the JAX trace this frame runs in (set by push_frame).
        self.trace_state: Any = None
        #: initial values of state entries created in this frame (lifted init passes).
        self.state_created: dict[str, Any] | None = None

    def fork(
        self,
        state: dict[str, Any],
        rng: jax.Array | None,
        *,
        initializing: bool,
        names: list[ScopeNames | None] | None = None,
    ) -> Frame:
        """A frame for running part of the function inside a lifted transform.

        It shares the params mapping, starts from a copy of the scope stack
        (with ``names`` as the module names taken so far, default a copy of
        this frame's) and keeps the interceptors.
        """
        f = Frame(
            self.params, state, initializing=initializing, allow_state=self.allow_state, rng=rng
        )
        f.scope_paths = list(self.scope_paths)
        f.scope_names = copy_names(self.scope_names if names is None else names)
        if rng is self.rng:
            f.rng_host = self.rng_host
        f.stacks = self.stacks
        f.interceptors = self.interceptors
        f.method_interceptors = self.method_interceptors
        return f


def copy_names(names: list[ScopeNames | None]) -> list[ScopeNames | None]:
    """A deep copy of a stack of per-scope module names."""
    return [None if n is None else n.copy() for n in names]


_FRAME: contextvars.ContextVar[Frame | None] = contextvars.ContextVar(
    "minihaiku_frame", default=None
)

frame_or_none = _FRAME.get

try:  # the public name since jax 0.6.1; jax 0.6.0 has it only privately
    from jax.extend.core import get_opaque_trace_state as _trace_state_fn
except ImportError:  # pragma: no cover - depends on the jax version
    from jax._src.core import get_opaque_trace_state as _trace_state_fn


def trace_state() -> Any:
    """An opaque token for the JAX trace the caller runs in (compare with ==)."""
    return _trace_state_fn(convention="haiku")  # type: ignore[no-untyped-call]


def current_frame(what: str) -> Frame:
    """Returns the current frame, or raises an error naming ``what`` was called.

    Examples:
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
    frame.trace_state = trace_state()
    return _FRAME.set(frame)


def pop_frame(token: contextvars.Token[Frame | None]) -> None:
    """Restores the frame that was current before :func:`push_frame`."""
    _FRAME.reset(token)
