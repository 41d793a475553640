"""Random keys: checking what users pass, and deriving per-path keys."""

from __future__ import annotations

import functools
import math
import zlib
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from minihaiku.core._concrete import is_tracer
from minihaiku.core._errors import RngError

__all__ = ["HostKey", "Keys", "as_key", "derive_key", "host_key", "path_salt", "threefry2x32"]

_M32 = 0xFFFFFFFF
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def threefry2x32(k0: int, k1: int, x0: int, x1: int) -> tuple[int, int]:
    """One Threefry-2x32 block (20 rounds) on Python ints, as JAX computes it.

    ``jax.random.fold_in(key, d)`` of a threefry key ``(k0, k1)`` is
    ``threefry2x32(k0, k1, 0, d)``; computing it on the host saves a device
    dispatch per parameter in un-jitted ``init``.

    Examples:
      >>> threefry2x32(0, 0, 0, 0)
      (1797259609, 2579123966)
    """
    ks = (k0, k1, k0 ^ k1 ^ 0x1BD11BDA)
    x0 = (x0 + k0) & _M32
    x1 = (x1 + k1) & _M32
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = (x0 + x1) & _M32
            x1 = ((x1 << r) | (x1 >> (32 - r))) & _M32
            x1 ^= x0
        x0 = (x0 + ks[(i + 1) % 3]) & _M32
        x1 = (x1 + ks[(i + 2) % 3] + i + 1) & _M32
    return x0, x1


#: A concrete threefry key on the host: (k0, k1, typed-key impl or None).
HostKey = tuple[int, int, Any]


def host_key(key: Any) -> HostKey | None:
    """The host copy of a concrete threefry key, or ``None`` (traced, other impl)."""
    if is_tracer(key):
        return None
    dtype = getattr(key, "dtype", None)
    if dtype is None:
        return None
    impl = None
    if jnp.issubdtype(dtype, jax.dtypes.prng_key):
        impl = jax.random.key_impl(key)
        if str(impl) != "threefry2x32" or key.shape != ():
            return None
        data = np.asarray(jax.random.key_data(key))
    else:
        impl_name = jax.config.jax_default_prng_impl  # type: ignore[attr-defined]
        if impl_name != "threefry2x32" or key.shape != (2,):
            return None
        data = np.asarray(key)
    return int(data[0]), int(data[1]), impl


def derive_key(key: Any, host: HostKey | None, salt: int) -> Any:
    """``jax.random.fold_in(key, salt)``, computed on the host when ``host`` is given.

    Raw keys come back as numpy uint32 arrays (every jax.random function takes
    them), typed keys as typed keys.
    """
    if host is None:
        return jax.random.fold_in(key, salt)
    k0, k1, impl = host
    data = np.array(threefry2x32(k0, k1, 0, salt), np.uint32)
    if impl is None:
        return data
    return jax.random.wrap_key_data(data, impl=impl)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=8192)
def path_salt(path: str) -> int:
    """A stable 32-bit number for ``path`` (CRC-32 of its UTF-8 bytes).

    Examples:
      >>> path_salt("~/Linear_0/__call__/w") == path_salt("~/Linear_0/__call__/w")
      True
    """
    return zlib.crc32(path.encode())


_ACCEPTED = (
    "a single PRNG key (jax.random.key(0) or jax.random.PRNGKey(0)) or an int "
    "seed in [-2**31, 2**32)"
)
_SEED_MIN, _SEED_MAX = -(2**31), 2**32


def _describe(rng: Any) -> str:
    shape = getattr(rng, "shape", None)
    dtype = getattr(rng, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(rng).__name__} of shape {tuple(shape)} and dtype {dtype}"
    return f"{type(rng).__name__} {rng!r:.80}"


def as_key(rng: Any, what: str) -> jax.Array:
    """Turns ``rng`` (a PRNG key or an int seed) into a key, or raises.

    Args:
      rng: a key from ``jax.random.key`` / ``jax.random.PRNGKey``, or an int
        seed in ``[-2**31, 2**32)`` (JAX keeps only 32 bits of a seed, so a
        larger one would silently give the key of another seed).
      what: the function that received it, for the message.

    Raises:
      RngError: ``rng`` is none of these, naming what was given.

    Examples:
      >>> as_key(0, "init").shape
      (2,)
      >>> as_key(2**70, "init")
      Traceback (most recent call last):
      ...
      minihaiku.core._errors.RngError: init expects a single PRNG key ...
    """
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, (bool, np.bool_)):
        if _SEED_MIN <= rng < _SEED_MAX:
            return jax.random.PRNGKey(rng)
        raise RngError(
            f"{what} expects {_ACCEPTED}, got the int {int(rng)}, which is out of "
            "range: JAX keeps only 32 bits of a seed, so it would give the same key "
            "as another seed. Reduce it, e.g. seed % 2**32."
        )
    dtype = getattr(rng, "dtype", None)
    shape = getattr(rng, "shape", None)
    if dtype is not None and shape is not None:
        if jnp.issubdtype(dtype, jax.dtypes.prng_key):
            if shape == ():
                return rng  # type: ignore[no-any-return]
            raise RngError(
                f"{what} expects {_ACCEPTED}, got a batch of {math.prod(shape)} keys "
                f"(shape {tuple(shape)}). Pass one key, e.g. keys[0], or map over "
                "the keys with jax.vmap."
            )
        if dtype == np.uint32:
            key_shape = _raw_key_shape()
            if tuple(shape) == key_shape:
                return rng  # type: ignore[no-any-return]
            if len(shape) > len(key_shape) and tuple(shape[-len(key_shape) :]) == key_shape:
                raise RngError(
                    f"{what} expects {_ACCEPTED}, got a batch of raw keys "
                    f"({_describe(rng)}). Pass one key, e.g. keys[0], or map over "
                    "the keys with jax.vmap."
                )
            raise RngError(
                f"{what} expects {_ACCEPTED}, got {_describe(rng)}: a raw key of the "
                f"default PRNG has shape {key_shape}. Make one with jax.random.PRNGKey(seed)."
            )
        if jnp.issubdtype(dtype, np.integer) and shape == ():
            return jax.random.PRNGKey(rng)  # a traced int seed under jit
    raise RngError(f"{what} expects {_ACCEPTED}, got {_describe(rng)}.")


def _raw_key_shape() -> tuple[int, ...]:
    """The shape of a raw (uint32) key of the default PRNG implementation."""
    impl = jax.config.jax_default_prng_impl  # type: ignore[attr-defined]
    return (4,) if impl == "rbg" or impl == "unsafe_rbg" else (2,)


_DRAW_SALT = zlib.crc32(b"/rng")


class Keys:
    """The keys of one frame: parameter keys and ``next_rng_key`` draws.

    Parameter keys are ``fold_in(base, crc32(path))`` (on the host when the key
    allows, see :func:`derive_key`); the n-th draw is
    ``fold_in(fold_in(base, crc32("/rng")), n)``, or the same from the key of an
    enclosing ``with_rng`` block.

    Examples:
      >>> keys = Keys(jax.random.PRNGKey(0))
      >>> keys.can_draw(), Keys(None).can_draw()
      (True, False)
      >>> bool((keys.draw() != keys.draw()).any())
      True
    """

    __slots__ = ("_count", "_draw_base", "_host", "base")

    def __init__(self, base: Any, host: HostKey | Literal[False] | None = None) -> None:
        self.base = base
        #: the host copy of ``base``: None until computed, False if not readable.
        self._host: HostKey | Literal[False] | None = host
        self._draw_base: Any = None
        self._count = 0

    def can_draw(self) -> bool:
        """Whether :meth:`draw` has a key to draw from."""
        return self._draw_base is not None or self.base is not None

    def param_key(self, salt: int) -> Any:
        """``fold_in(base, salt)``: the key of the parameter whose path hashes to ``salt``."""
        host = self._host
        if host is None:
            found = host_key(self.base)
            host = self._host = False if found is None else found
        return derive_key(self.base, None if host is False else host, salt)

    def draw(self) -> Any:
        """The next key of the sequence (call only when :meth:`can_draw`)."""
        base = self._draw_base if self._draw_base is not None else self.base
        n = self._count
        self._count = n + 1
        return jax.random.fold_in(jax.random.fold_in(base, _DRAW_SALT), n)

    def take(self, num: int) -> Any:
        """``num`` keys stacked: ``split`` of the next draw."""
        return jax.random.split(self.draw(), num)

    def reserve(self, num: int) -> None:
        """Nothing: seed keys derive from paths and counts, reserving changes none."""

    def swap_draws(self, base: Any, count: int = 0) -> tuple[Any, int]:
        """Draws from ``base`` from now on (``with_rng``); returns what to swap back."""
        saved = self._draw_base, self._count
        self._draw_base, self._count = base, count
        return saved

    def child(self, base: Any) -> Keys:
        """The keys of a frame run inside this one (a lifted pass) with key ``base``.

        With the same base the child continues this sequence of draws and
        shares the host copy of the key.
        """
        if base is not self.base:
            return Keys(base)
        keys = Keys(base, self._host)
        keys._draw_base, keys._count = self._draw_base, self._count
        return keys
