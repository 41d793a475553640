"""Random keys: checking what users pass, and deriving per-path keys."""

from __future__ import annotations

import zlib
from typing import Any

import jax
import numpy as np

from minihaiku.core._errors import RngError

__all__ = ["as_key", "path_key", "path_salt"]

_SALTS: dict[str, int] = {}


def path_salt(path: str) -> int:
    """A stable 32-bit number for ``path`` (CRC-32 of its UTF-8 bytes).

    Example:
      >>> path_salt("~/Linear_0/__call__/w") == path_salt("~/Linear_0/__call__/w")
      True
    """
    salt = _SALTS.get(path)
    if salt is None:
        salt = _SALTS[path] = zlib.crc32(path.encode())
    return salt


def path_key(key: jax.Array, path: str) -> jax.Array:
    """The key for ``path``: depends only on ``key`` and ``path``."""
    return jax.random.fold_in(key, path_salt(path))


def as_key(rng: Any, what: str) -> jax.Array:
    """Turns ``rng`` (a PRNG key or an int seed) into a key, or raises.

    Args:
      rng: a key from ``jax.random.key`` / ``jax.random.PRNGKey``, or an int.
      what: the function that received it, for the message.

    Example:
      >>> as_key(0, "init").shape
      (2,)
    """
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return jax.random.PRNGKey(rng)
    dtype = getattr(rng, "dtype", None)
    if dtype is not None:
        if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
            return rng  # type: ignore[no-any-return]
        if dtype == np.uint32 and getattr(rng, "ndim", 0) >= 1:
            return rng  # type: ignore[no-any-return]
        if jax.dtypes.issubdtype(dtype, np.integer) and getattr(rng, "ndim", 1) == 0:
            return jax.random.PRNGKey(rng)  # a traced int seed under jit
    raise RngError(
        f"{what} expects a PRNG key (jax.random.key(0) or "
        f"jax.random.PRNGKey(0)) or an int seed, got {type(rng).__name__} "
        f"{rng!r:.80}."
    )
