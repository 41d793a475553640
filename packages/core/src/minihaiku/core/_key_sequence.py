"""dm-haiku's ``PRNGSequence`` splitting, with the next draws split ahead in one dispatch.

dm-haiku's sequence hands out its keys one split at a time: ``key, sub =
split(key)`` per draw, two dispatches each (the split and its unstacking) when
run eagerly. The draws are fixed by the key alone, so on a concrete key the
next :data:`AHEAD` draws are split in one jitted call (the same threefry
arithmetic, so the same bits) and handed out one by one; a traced key keeps
the one split per draw that dm-haiku stages, so jitted programs are unchanged.
"""

from __future__ import annotations

import collections
import functools
from typing import Any

import jax

from minihaiku.core._concrete import is_tracer

__all__ = ["AHEAD", "KeySequence"]

#: How many single-key draws one jitted call splits ahead on a concrete key.
AHEAD = 8


@functools.partial(jax.jit, static_argnums=1)
def _split_ahead(key: Any, num: int) -> tuple[tuple[Any, Any], ...]:
    """``num`` successive ``key, sub = split(key)`` steps: each step's ``(key, sub)``."""
    steps = []
    for _ in range(num):
        key, sub = jax.random.split(key)
        steps.append((key, sub))
    return tuple(steps)


class KeySequence:
    """dm-haiku's ``PRNGSequence`` splitting: ``reserve(n)`` splits ``key`` into ``n + 1``.

    The first key of each split continues the sequence, the others are handed
    out in order; ``next`` with none reserved reserves :attr:`reserve_size`
    (dm-haiku's ``rng_reserve_size``, 1 unless ``minihaiku.haiku`` sets it).
    With ``reserve_size`` 1 and a concrete key, the next draws are split
    ahead in one dispatch (``ahead``: each step's ``(key, sub)``; dropped
    whenever ``key`` is set).

    Examples:
      >>> seq = KeySequence(jax.random.PRNGKey(0))
      >>> first = next(seq)
      >>> key, sub = jax.random.split(jax.random.PRNGKey(0))
      >>> bool((first == sub).all()), bool((seq.key == key).all())
      (True, True)
    """

    __slots__ = ("_key", "ahead", "subkeys")

    #: How many keys ``next`` splits at once when none are reserved (process-wide).
    reserve_size = 1

    def __init__(self, key: Any) -> None:
        self._key = key
        self.ahead: collections.deque[tuple[Any, Any]] = collections.deque()
        self.subkeys: collections.deque[Any] = collections.deque()

    @property
    def key(self) -> Any:
        """The key the sequence continues from."""
        return self._key

    @key.setter
    def key(self, key: Any) -> None:
        self._key = key
        self.ahead.clear()

    def reserve(self, num: int) -> None:
        """Splits ``num`` keys now for the next draws."""
        if num > 0:
            # one unstacking of the split (indexing each key costs a dispatch apiece)
            self.key, *keys = jax.random.split(self._key, num + 1)
            self.subkeys.extend(keys)

    def __next__(self) -> Any:
        if self.subkeys:
            return self.subkeys.popleft()
        if KeySequence.reserve_size != 1:
            self.reserve(KeySequence.reserve_size)
            return self.subkeys.popleft()
        ahead = self.ahead
        if not ahead:
            key = self._key
            if not isinstance(key, jax.Array) or is_tracer(key):
                self.key, sub = jax.random.split(key)
                return sub
            ahead.extend(_split_ahead(key, AHEAD))
        self._key, sub = ahead.popleft()
        return sub
