"""The frame: what one call of a transformed function is doing.

An :class:`InitFrame` builds parameters and the initial state; an
:class:`ApplyFrame` reads the caller's parameters (never writing them) and
updates a copy of the state. The current frame lives in a
:class:`contextvars.ContextVar`, so threads and asyncio tasks never see each
other's frames.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from minihaiku.core._errors import NotInTransformError
from minihaiku.core._frame_defaults import FRAME_DEFAULTS
from minihaiku.core._keys import Keys
from minihaiku.core._schemes import SEED, Scheme
from minihaiku.core._scope import ScopeStack
from minihaiku.core._trace import trace_state

__all__ = [
    "ApplyFrame",
    "Frame",
    "InitFrame",
    "Stack",
    "current_frame",
    "frame_or_none",
    "running",
]

#: ``(size, index)`` of one enclosing ``layer_stack`` / split-params ``vmap``;
#: ``index`` is the traced layer index (``None`` during the init pass).
Stack = tuple[int, Any]


class Frame:
    """State of one ``init`` or ``apply`` call (or of one lifted pass inside it).

    Attributes:
      params: the parameters by path.
      state: the state entries by path (the frame's own dict).
      allow_state: ``False`` under plain ``transform``.
      keys: where parameter keys and ``next_rng_key`` draws come from
        (:class:`~minihaiku.core._keys.Keys`; its ``base`` is ``None`` when
        ``apply`` got no key).
      scopes: the scope stack.
      stacks: the enclosing ``layer_stack`` / split-params ``vmap`` axes.
      param_interceptors: parameter interceptors, outermost first.
      method_interceptors: method interceptors, outermost first.
      state_locked: why ``set_state`` is refused here (``None``: allowed).
      creates_params: whether this frame creates missing parameters (a class
        attribute: ``True`` for :class:`InitFrame` only).
      in_init: whether this frame is part of an ``init`` call (lifted passes
        inside ``init`` are apply frames, so ``creates_params`` is ``False``,
        but still part of it).
      trace: the JAX trace the frame runs in (see :mod:`minihaiku.core._trace`).
      custom: the active custom creators, getters and setters
        (:mod:`minihaiku.core._custom`), ``None`` when there are none.
      given_state: the state ``apply`` was given (``get_initial_state``);
        ``init``'s initial state in an :class:`InitFrame`.
      scheme: how modules and parameters are named and keyed
        (:mod:`minihaiku.core._schemes`; :data:`SEED` unless the transform chose).
    """

    creates_params: ClassVar[bool]
    params: Mapping[str, Any]

    __slots__ = (
        "allow_state",
        "custom",
        "given_state",
        "in_init",
        "keys",
        "method_interceptors",
        "param_interceptors",
        "params",
        "scheme",
        "scopes",
        "stacks",
        "state",
        "state_locked",
        "trace",
    )

    def __init__(
        self,
        params: Mapping[str, Any],
        state: dict[str, Any],
        *,
        allow_state: bool,
        rng: Any,
        scopes: ScopeStack | None = None,
        scheme: Scheme = SEED,
    ) -> None:
        self.params = params
        self.state = state
        self.allow_state = allow_state
        self.scheme = scheme
        if scheme is SEED:
            self.keys = Keys(rng)
            self.scopes = scopes if scopes is not None else ScopeStack()
        else:
            self.keys = scheme.keys(rng)
            self.scopes = scopes if scopes is not None else scheme.scopes()
        self.stacks: tuple[Stack, ...] = ()
        self.param_interceptors: tuple[Any, ...] = FRAME_DEFAULTS.param_interceptors
        self.method_interceptors: tuple[Any, ...] = ()
        self.state_locked: str | None = None
        self.trace: Any = None
        self.in_init = self.creates_params
        self.custom: Any = FRAME_DEFAULTS.custom
        self.given_state: Mapping[str, Any] | None = None

    @property
    def rng(self) -> Any:
        """The frame's key (``None`` when ``apply`` got none)."""
        return self.keys.base

    def inherit(self, outer: Frame, stack: Stack | None = None, locked: str | None = None) -> None:
        """Takes over what a lifted pass keeps from the ``outer`` frame.

        The interceptors, the enclosing stacks (plus ``stack``), the state lock
        (or ``locked``), whether it is part of ``init``, the scheme, and the
        outer key sequence when both frames have the same key.
        """
        self.scheme = outer.scheme
        self.stacks = outer.stacks if stack is None else (*outer.stacks, stack)
        self.param_interceptors = outer.param_interceptors
        self.method_interceptors = outer.method_interceptors
        self.state_locked = locked if locked is not None else outer.state_locked
        self.in_init = outer.in_init
        self.keys = outer.keys.child(self.keys.base)
        self.custom = outer.custom
        self.given_state = outer.given_state


class InitFrame(Frame):
    """The frame of ``init``: creates parameters and records initial state.

    Attributes:
      initial_state: the first value of each state entry, in creation order
        (what ``init`` returns: dm-haiku's rule).
    """

    creates_params = True
    params: dict[str, Any]

    __slots__ = ("initial_state",)

    def __init__(
        self,
        params: dict[str, Any],
        state: dict[str, Any],
        *,
        allow_state: bool,
        rng: Any,
        scopes: ScopeStack | None = None,
        scheme: Scheme = SEED,
    ) -> None:
        super().__init__(
            params, state, allow_state=allow_state, rng=rng, scopes=scopes, scheme=scheme
        )
        self.initial_state: dict[str, Any] = {}
        self.given_state = self.initial_state


class ApplyFrame(Frame):
    """The frame of ``apply`` (and of every pass inside a lifted transform).

    Parameters are read only: the mapping given to ``apply`` is never written.
    """

    creates_params = False
    __slots__ = ()


_FRAME: contextvars.ContextVar[Frame | None] = contextvars.ContextVar(
    "minihaiku_frame", default=None
)

frame_or_none = _FRAME.get


@contextlib.contextmanager
def running(frame: Frame) -> Iterator[Frame]:
    """Makes ``frame`` the current frame for the ``with`` block.

    Examples:
      >>> with running(ApplyFrame({}, {}, allow_state=False, rng=None)) as f:
      ...   current_frame("get_param") is f
      True
    """
    frame.trace = trace_state()
    token = _FRAME.set(frame)
    try:
        yield frame
    finally:
        _FRAME.reset(token)


def current_frame(what: str) -> Frame:
    """Returns the current frame, or raises an error naming ``what`` was called.

    Examples:
      >>> current_frame("get_param")
      Traceback (most recent call last):
      ...
      minihaiku.core._errors.NotInTransformError: get_param must be called inside ...
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
