"""Threading dm-haiku's key sequence through a lifted transform (the haiku key scheme).

Under the seed's keys a lifted transform draws one key and the function inside
starts its own draws from it. dm-haiku instead passes the state of its key
sequence, ``(key, reserved subkeys)``, into the lifted function and takes the
final state back: keys drawn inside continue the caller's sequence, loops carry
it from step to step, and after the transform the caller continues where the
last step stopped. Loops and branches first reserve up to one key and reserve
back up to one after each step (dm-haiku's ``reserve_up_to_full``), so the
carried state keeps its structure.

The state travels as the entry :data:`SEQUENCE` of the threaded state dict, so
every lifted transform carries it as it carries state.

During ``init`` dm-haiku traces the lifted function with the threaded state and
creates its parameters there, drawing their keys from the sequence. minihaiku
creates them in the init pass instead (outside the JAX transform), which
draws the same keys in the same order; the pure function run inside the JAX
transform then creates no parameters, so it *replays* the keys the init pass
drew for everything else (:class:`Recording`, :class:`Replay`) and hands back
the sequence state the init pass ended with. Loops (``scan``, ``fori_loop``)
unroll their first step in ``init`` as dm-haiku does: the init pass is step 0.
"""

from __future__ import annotations

import collections
from typing import Any

from minihaiku.core._keys import Keys
from minihaiku.core._schemes import HaikuKeys, KeySequence

__all__ = ["SEQUENCE", "Recording", "Replay", "export", "refill", "restart", "resume", "threads"]

#: The entry of a lifted transform's threaded state that holds the key sequence's state.
SEQUENCE = "\x00key sequence"

SequenceState = tuple[Any, tuple[Any, ...]]


def threads(keys: Keys) -> bool:
    """Whether ``keys`` thread their sequence through lifted transforms (the haiku scheme)."""
    return isinstance(keys, HaikuKeys)


def export(keys: HaikuKeys) -> SequenceState | None:
    """The state ``(key, subkeys)`` of ``keys``' sequence, or ``None`` with no key."""
    if not keys.can_draw():
        return None
    seq = keys._sequence()
    return seq.key, tuple(seq.subkeys)


def restart(keys: HaikuKeys, state: SequenceState) -> None:
    """Makes ``keys`` draw from a new sequence in the state ``state`` (inside a lifted pass)."""
    seq = keys.seq = KeySequence(state[0])
    seq.subkeys.extend(state[1])


def resume(keys: HaikuKeys, state: SequenceState) -> None:
    """Puts ``keys``' sequence in ``state`` in place (frames sharing it see the change)."""
    seq = keys._sequence()
    seq.key = state[0]
    seq.subkeys.clear()
    seq.subkeys.extend(state[1])


def refill(keys: HaikuKeys) -> None:
    """Reserves up to exactly one key (dm-haiku's ``reserve_up_to_full``, block size 1)."""
    if keys.can_draw():
        seq = keys._sequence()
        if not seq.subkeys:
            seq.reserve(1)
        while len(seq.subkeys) > 1:
            seq.subkeys.pop()


class Recording(HaikuKeys):
    """Keys of an init pass: the shared sequence, remembering what ``next_rng_key`` drew."""

    __slots__ = ("drawn",)

    def __init__(self, keys: HaikuKeys) -> None:
        super().__init__(keys.base, keys._sequence() if keys.can_draw() else None)
        self.drawn: list[Any] = []

    def draw(self) -> Any:
        key = super().draw()
        self.drawn.append(key)
        return key

    def take(self, num: int) -> Any:
        keys = super().take(num)
        self.drawn.append(keys)
        return keys


class Replay(HaikuKeys):
    """Keys of a pure pass during ``init``: the draws its init pass recorded, in order.

    Should the pass draw more than its init pass did, it continues from
    ``after``, the sequence state the init pass ended with.
    """

    __slots__ = ("recorded",)

    def __init__(self, drawn: list[Any], after: SequenceState) -> None:
        super().__init__(None)
        restart(self, after)
        self.recorded = collections.deque(drawn)

    def draw(self) -> Any:
        return self.recorded.popleft() if self.recorded else super().draw()

    def take(self, num: int) -> Any:
        return self.recorded.popleft() if self.recorded else super().take(num)
