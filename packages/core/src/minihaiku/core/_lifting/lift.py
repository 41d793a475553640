"""The one helper that lifts a JAX transform over a transformed function.

A lifted transform runs the user's function as a pure function of
``(state, rng, index, *args)`` inside the JAX transform, reading parameters
from the enclosing frame and returning the updated state, so nothing leaks
out as a tracer. During ``init`` each function first runs once outside the
JAX transform (the *init pass*) so that the parameters and state it creates
exist, with the same values as without the transform.

Every lifted transform does the same four things, in :func:`lift`: init
passes, pure functions that share one naming cursor, a fresh key, and on
:meth:`Lifted.done` the state and module names handed back to the frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax

from minihaiku.core._frame import ApplyFrame, Frame, InitFrame, current_frame, running
from minihaiku.core._lifting import key_threading as kt
from minihaiku.core._rng import maybe_next_rng_key
from minihaiku.core._scope import ScopeStack

__all__ = ["Lifted", "Pure", "lift"]


class _Cursor:
    """The module names taken so far, carried from one pass to the next."""

    __slots__ = ("scopes",)

    def __init__(self, scopes: ScopeStack) -> None:
        self.scopes = scopes


class Pure:
    """``fn`` as a pure function ``(state, rng, index, *args) -> (out, state)``.

    ``index`` is the layer index when ``stack_size`` is set (``layer_stack``
    or a split-params ``vmap``), else ``None``. The first call fixes where
    module naming starts, so a re-trace names modules the same way; each call
    leaves its final names in the shared cursor for the next function.
    """

    __slots__ = ("cursor", "fn", "locked", "outer", "refill", "replay", "stack_size", "start")

    def __init__(
        self,
        fn: Callable[..., Any],
        outer: Frame,
        cursor: _Cursor,
        stack_size: int | None,
        locked: str | None,
        refill: bool = False,
        replay: tuple[list[Any], Any] | None = None,
    ) -> None:
        self.fn = fn
        self.refill = refill
        #: during init under the haiku scheme: (keys the init pass drew, its final sequence)
        self.replay = replay
        self.outer = outer
        self.cursor = cursor
        self.stack_size = stack_size
        self.locked = locked
        self.start: ScopeStack | None = None

    def __call__(
        self, state: dict[str, Any], rng: Any, index: Any, *args: Any, **kwargs: Any
    ) -> tuple[Any, dict[str, Any]]:
        if self.start is None:
            self.start = self.cursor.scopes
        outer = self.outer
        seq = state.get(kt.SEQUENCE)  # the haiku scheme's threaded key sequence
        if seq is not None:
            state = {k: v for k, v in state.items() if k != kt.SEQUENCE}
        sub = ApplyFrame(
            outer.params,
            dict(state),
            allow_state=outer.allow_state,
            rng=rng,
            scopes=self.start.copy(),
        )
        stack = None if self.stack_size is None else (self.stack_size, index)
        sub.inherit(outer, stack, self.locked)
        replay = self.replay
        if seq is not None:
            if replay is not None:
                sub.keys = kt.Replay(*replay)
            else:
                kt.restart(sub.keys, seq)  # type: ignore[arg-type]
        with running(sub):
            out = self.fn(*args, **kwargs)
        self.cursor.scopes = sub.scopes
        if seq is None:
            return out, sub.state
        if replay is not None:
            return out, {**sub.state, kt.SEQUENCE: replay[1]}
        if self.refill:
            kt.refill(sub.keys)  # type: ignore[arg-type]
        return out, {**sub.state, kt.SEQUENCE: kt.export(sub.keys)}  # type: ignore[arg-type]


def _init_pass(
    frame: InitFrame,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    scopes: ScopeStack,
    stack_size: int | None,
    locked: str | None,
    before: dict[str, Any] | None = None,
) -> tuple[InitFrame, Any]:
    """Runs ``fn`` outside any JAX transform to create its params; returns its frame and output.

    With ``before`` (the haiku scheme): remember the keys ``next_rng_key`` draws
    (:class:`.key_threading.Recording`) and start from the params ``before`` the
    transform, as dm-haiku traces each
    branch (a param an earlier branch created is created again, drawing its key; the
    first branch's value is kept).
    """
    sub = InitFrame(
        frame.params if before is None else dict(before), dict(frame.state),
        allow_state=frame.allow_state, rng=frame.rng,
        scopes=scopes.copy(),
    )  # fmt: skip
    sub.inherit(frame, None if stack_size is None else (stack_size, 0), locked)
    if before is not None:
        sub.keys = kt.Recording(sub.keys)  # type: ignore[arg-type]
    with running(sub):
        out = fn(*args, **kwargs)
    if before is not None:
        for path, value in sub.params.items():
            frame.params.setdefault(path, value)
    for path, value in sub.initial_state.items():
        frame.state.setdefault(path, value)
        frame.initial_state.setdefault(path, value)
    return sub, out


class Lifted:
    """One use of a lifted transform, made by :func:`lift`.

    Attributes:
      frame: the enclosing frame.
      pures: one pure function per function given to :func:`lift`, in order
        (a function given twice gets the same one).
      state: a copy of the frame's state, to thread through the transform.
      key: a fresh key for the transform, or ``None`` when there is no key
        or the key sequence is threaded through (the haiku scheme: it is then
        an entry of :attr:`state`, see :mod:`.key_threading`).
    """

    __slots__ = ("_cursor", "first", "frame", "key", "pures", "state")

    def __init__(
        self, frame: Frame, pures: list[Pure], state: dict[str, Any], key: Any, cursor: _Cursor
    ) -> None:
        self.frame = frame
        self.pures = pures
        self.state = state
        self.key = key
        self._cursor = cursor
        #: ``(output,)`` of step 0 when ``init`` ran it (``stepped``, haiku scheme), else None
        self.first: tuple[Any] | None = None

    def thread(self, refill: bool) -> None:
        """Puts the frame's key sequence state into :attr:`state` (after reserving one key)."""
        keys = self.frame.keys
        if refill:
            kt.refill(keys)  # type: ignore[arg-type]
        seq = kt.export(keys)  # type: ignore[arg-type]
        if seq is not None:
            self.state[kt.SEQUENCE] = seq

    def keys(self, n: int) -> Any:
        """``n`` keys split from :attr:`key` (one per step), or ``None``."""
        return None if self.key is None else jax.random.split(self.key, n)

    def split(self, n: int) -> Any:
        """``n`` keys, one per mapped element (``vmap(split_rng=True)``), or ``None``.

        With a threaded key sequence these are the sequence's next ``n`` keys
        (dm-haiku's ``next_rng_keys``), each element starts its own sequence from
        its key, and the caller's sequence continues after them.
        """
        if kt.SEQUENCE not in self.state:
            return self.keys(n)
        del self.state[kt.SEQUENCE]
        return self.frame.keys.take(n)

    def done(self, state: dict[str, Any] | None) -> None:
        """Hands the transform's final state (``None``: discard it) and names to the frame."""
        if state is not None:
            seq = state.pop(kt.SEQUENCE, None)
            if seq is not None:
                kt.resume(self.frame.keys, seq)  # type: ignore[arg-type]
            self.frame.state.update(state)
        self.frame.scopes.adopt(self._cursor.scopes)


def lift(
    what: str,
    fns: Sequence[Callable[..., Any]],
    args: tuple[Any, ...] | Callable[[], tuple[Any, ...]],
    kwargs: dict[str, Any] | None = None,
    *,
    stack_size: int | None = None,
    locked: Sequence[str | None] | None = None,
    refill: bool = False,
    thread_keys: bool = True,
    stepped: bool = False,
) -> Lifted:
    """Prepares ``fns`` to run inside a JAX transform named ``what``.

    Args:
      what: the lifted transform's name, for errors.
      fns: the functions the transform will call (branches, body, ...).
      args: sample arguments for the init pass (one step's worth), or a
        function returning them: it is called only during ``init``, so that
        ``apply`` traces no slicing it does not need.
      kwargs: sample keyword arguments for the init pass.
      stack_size: give each parameter created inside a leading axis of this
        size (``layer_stack``, ``vmap(split_params=True)``).
      locked: per function, why it may not call ``set_state`` (or ``None``).
      refill: under a threaded key sequence (the haiku scheme), keep exactly
        one key reserved before and after each call (loops and branches, whose
        carried or returned state must keep its structure).
      thread_keys: ``False``: draw one key for the transform even when the
        scheme threads its key sequence (``layer_stack``, as dm-haiku's).
      stepped: a loop whose ``init`` runs step 0 outside the JAX transform
        when the scheme threads its key sequence (dm-haiku unrolls it): the
        init pass is that step, :attr:`Lifted.first` holds its output, its
        state is :attr:`Lifted.state`, and the caller calls
        :meth:`Lifted.thread` before running the remaining steps.

    Returns:
      A :class:`Lifted`.
    """
    frame = current_frame(what)
    locks = list(locked) if locked is not None else [None] * len(fns)
    unique: dict[int, tuple[Callable[..., Any], str | None]] = {}
    for fn, lock in zip(fns, locks, strict=True):
        unique.setdefault(id(fn), (fn, lock))
    keys = frame.keys
    threaded = thread_keys and kt.threads(keys)
    replays: dict[int, tuple[list[Any], Any]] = {}
    first: tuple[Any] | None = None
    state = frame.state
    if isinstance(frame, InitFrame):
        sample = args() if callable(args) else args
        scopes = frame.scopes
        start = None
        if threaded and not stepped:  # every init pass starts where dm-haiku's traces start
            if refill:
                kt.refill(keys)  # type: ignore[arg-type]
            start = kt.export(keys)  # type: ignore[arg-type]
        before = dict(frame.params) if start is not None else None
        for i, (fn, lock) in unique.items():
            if start is not None:
                kt.resume(keys, start)  # type: ignore[arg-type]
            sub, out = _init_pass(frame, fn, sample, kwargs or {}, scopes, stack_size, lock, before)
            scopes = sub.scopes
            if start is not None:
                if refill:
                    kt.refill(sub.keys)  # type: ignore[arg-type]
                replays[i] = (sub.keys.drawn, kt.export(sub.keys))  # type: ignore[attr-defined, arg-type]
            elif threaded and stepped:
                first, state = (out,), sub.state
        if start is not None:
            kt.resume(keys, start)  # type: ignore[arg-type]
    cursor = _Cursor(frame.scopes)
    pure_of = {
        i: Pure(fn, frame, cursor, stack_size, lock, refill, replays.get(i))
        for i, (fn, lock) in unique.items()
    }
    pures = [pure_of[id(fn)] for fn in fns]
    if not threaded:
        return Lifted(frame, pures, dict(state), maybe_next_rng_key(), cursor)
    lifted = Lifted(frame, pures, dict(state), None, cursor)
    lifted.first = first
    if first is None:
        lifted.thread(refill)
    return lifted
