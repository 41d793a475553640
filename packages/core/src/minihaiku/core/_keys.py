"""Random keys: checking what users pass, and deriving per-path keys."""

from __future__ import annotations

import zlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from minihaiku.core._errors import RngError

__all__ = ["HostKey", "as_key", "derive_key", "host_key", "path_salt", "threefry2x32"]

_SALTS: dict[str, int] = {}
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
    if isinstance(key, jax.core.Tracer):
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


def path_salt(path: str) -> int:
    """A stable 32-bit number for ``path`` (CRC-32 of its UTF-8 bytes).

    Examples:
      >>> path_salt("~/Linear_0/__call__/w") == path_salt("~/Linear_0/__call__/w")
      True
    """
    salt = _SALTS.get(path)
    if salt is None:
        salt = _SALTS[path] = zlib.crc32(path.encode())
    return salt


def as_key(rng: Any, what: str) -> jax.Array:
    """Turns ``rng`` (a PRNG key or an int seed) into a key, or raises.

    Args:
      rng: a key from ``jax.random.key`` / ``jax.random.PRNGKey``, or an int.
      what: the function that received it, for the message.

    Examples:
      >>> as_key(0, "init").shape
      (2,)
    """
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return jax.random.PRNGKey(rng)
    dtype = getattr(rng, "dtype", None)
    if dtype is not None:
        if jnp.issubdtype(dtype, jax.dtypes.prng_key):
            return rng  # type: ignore[no-any-return]
        if dtype == np.uint32 and getattr(rng, "ndim", 0) >= 1:
            return rng  # type: ignore[no-any-return]
        if jnp.issubdtype(dtype, np.integer) and getattr(rng, "ndim", 1) == 0:
            return jax.random.PRNGKey(rng)  # a traced int seed under jit
    raise RngError(
        f"{what} expects a PRNG key (jax.random.key(0) or "
        f"jax.random.PRNGKey(0)) or an int seed, got {type(rng).__name__} "
        f"{rng!r:.80}."
    )
