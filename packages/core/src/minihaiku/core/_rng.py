"""Random keys inside transformed functions, and ``PRNGSequence`` outside them."""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator
from typing import Any

import jax

from minihaiku.core._errors import InvalidArgumentError, RngError
from minihaiku.core._frame import Frame, current_frame
from minihaiku.core._keys import as_key
from minihaiku.core._trace import check_trace

__all__ = [
    "PRNGSequence",
    "maybe_next_rng_key",
    "next_rng_key",
    "next_rng_keys",
    "with_rng",
]


def next_rng_key() -> jax.Array:
    """Returns a fresh random key, different at each call.

    During ``init`` keys come from the init key; during ``apply`` from the key
    given to ``apply`` (``transform(f, apply_rng=True)``), or from the key of
    an enclosing :func:`with_rng` block.

    Examples:
      >>> from minihaiku.core import next_rng_key, transform
      >>> def f():
      ...   return jax.random.normal(next_rng_key(), (2,))
      >>> out = transform(f, apply_rng=True).apply({}, jax.random.key(1))
      >>> out.shape
      (2,)
    """
    return _drawing("next_rng_key").keys.draw()  # type: ignore[no-any-return]


def _drawing(what: str) -> Frame:
    """The current frame, checked to have a key to draw from (``what`` was called)."""
    frame = current_frame(what)
    if not frame.keys.can_draw():
        if frame.in_init:  # the haiku scheme's init takes rng=None
            raise RngError(
                f"{what} was called (by a random initializer or your code) but init "
                "was given rng=None. Pass a key: init(jax.random.PRNGKey(seed), ...)."
            )
        raise RngError(
            f"{what} was called but apply was given no key. Transform "
            "with transform(f, apply_rng=True) and call apply(params, rng, "
            "...) with rng = jax.random.key(seed), or draw inside "
            "`with with_rng(key):`; use maybe_next_rng_key() where a key is optional."
        )
    check_trace(frame.trace, f"{what}()")
    return frame


def next_rng_keys(num: int) -> jax.Array:
    """Returns ``num`` fresh keys stacked along a leading axis (dm-haiku's ``next_rng_keys``).

    Examples:
      >>> from minihaiku.core import next_rng_keys, transform
      >>> keys = transform(lambda: next_rng_keys(3)).init(0)
      >>> transform(lambda: next_rng_keys(3), apply_rng=True).apply({}, 0).shape
      (3, 2)
    """
    if isinstance(num, bool) or not isinstance(num, int) or num < 0:
        raise InvalidArgumentError(
            f"next_rng_keys(num): num must be an int >= 0, got {num!r}; pass how "
            "many keys you need."
        )
    return _drawing("next_rng_keys").keys.take(num)  # type: ignore[no-any-return]


def maybe_next_rng_key() -> jax.Array | None:
    """Like :func:`next_rng_key`, but ``None`` (and no error) when there is no key.

    Examples:
      >>> from minihaiku.core import maybe_next_rng_key, transform
      >>> transform(lambda: maybe_next_rng_key()).apply({}) is None
      True
    """
    frame = current_frame("maybe_next_rng_key")
    if not frame.keys.can_draw():
        return None
    check_trace(frame.trace, "maybe_next_rng_key()")
    return frame.keys.draw()  # type: ignore[no-any-return]


@contextlib.contextmanager
def with_rng(key: Any) -> Iterator[None]:
    """Inside the ``with`` block, :func:`next_rng_key` draws from ``key``.

    Keys drawn in the block depend only on ``key`` and their order in the
    block; after it, the outer keys continue where they were. Parameter
    initial values are not affected (they derive from the init key and path).

    Examples:
      >>> from minihaiku.core import next_rng_key, transform, with_rng
      >>> def f():
      ...   with with_rng(jax.random.key(7)):
      ...     return next_rng_key()
      >>> a = transform(f).apply({})
      >>> b = transform(f).apply({})
      >>> bool((jax.random.key_data(a) == jax.random.key_data(b)).all())
      True
    """
    frame = current_frame("with_rng")
    key = as_key(key, "with_rng")
    saved = frame.keys.swap_draws(key)
    try:
        yield
    finally:
        frame.keys.swap_draws(*saved)


class PRNGSequence(Iterator[jax.Array]):
    """An iterator of random keys, split from one key or seed (as ``hk.PRNGSequence``).

    ``next(seq)`` gives the same keys as dm-haiku's ``PRNGSequence`` for the
    same seed; ``reserve(n)`` splits ``n`` keys at once, ``take(n)`` returns ``n``.

    Examples:
      >>> from minihaiku.core import PRNGSequence
      >>> seq = PRNGSequence(42)
      >>> k1, k2 = next(seq), next(seq)
      >>> bool((k1 != k2).any())
      True
      >>> len(seq.take(3))
      3
    """

    __slots__ = ("_key", "_subkeys")

    def __init__(self, key_or_seed: Any) -> None:
        self._key = as_key(key_or_seed, "PRNGSequence")
        self._subkeys: collections.deque[jax.Array] = collections.deque()

    def reserve(self, num: int) -> None:
        """Splits ``num`` more keys now, for later ``next`` calls."""
        if num > 0:
            keys = jax.random.split(self._key, num + 1)
            self._key = keys[0]
            self._subkeys.extend(keys[1:])

    def __next__(self) -> jax.Array:
        if not self._subkeys:
            self.reserve(1)
        return self._subkeys.popleft()

    next = __next__

    def take(self, num: int) -> tuple[jax.Array, ...]:
        """The next ``num`` keys."""
        self.reserve(max(num - len(self._subkeys), 0))
        return tuple(next(self) for _ in range(num))
