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
"""

from __future__ import annotations

from typing import Any

from minihaiku.core._keys import Keys
from minihaiku.core._schemes import HaikuKeys, KeySequence

__all__ = ["SEQUENCE", "export", "refill", "resume", "threads"]

#: The entry of a lifted transform's threaded state that holds the key sequence's state.
SEQUENCE = "\x00key sequence"

SequenceState = tuple[Any, tuple[Any, ...]]


def threads(keys: Keys) -> bool:
    """Whether ``keys`` thread their sequence through lifted transforms (the haiku scheme)."""
    return type(keys) is HaikuKeys


def export(keys: HaikuKeys) -> SequenceState | None:
    """The state ``(key, subkeys)`` of ``keys``' sequence, or ``None`` with no key."""
    if not keys.can_draw():
        return None
    seq = keys._sequence()
    return seq.key, tuple(seq.subkeys)


def resume(keys: HaikuKeys, state: SequenceState) -> None:
    """Makes ``keys`` continue from a sequence state that :func:`export` gave."""
    seq = keys.seq = KeySequence(state[0])
    seq.subkeys.extend(state[1])


def refill(keys: HaikuKeys) -> None:
    """Reserves up to exactly one key (dm-haiku's ``reserve_up_to_full``, block size 1)."""
    if keys.can_draw():
        seq = keys._sequence()
        if not seq.subkeys:
            seq.reserve(1)
        while len(seq.subkeys) > 1:
            seq.subkeys.pop()
