"""Checks on the values, shapes and dtypes that parameters and state hold."""

from __future__ import annotations

import functools
import math
import operator
import os
from typing import Any

import jax
import numpy as np

from minihaiku.core._errors import (
    InvalidArgumentTypeError,
    InvalidParamsError,
    ParameterDtypeError,
    ParameterShapeError,
)

__all__ = [
    "ARRAY_TYPES",
    "DTYPES",
    "canonical_dtype",
    "check_allocatable",
    "check_value",
    "is_array",
    "norm_shape",
]

#: Concrete array types seen so far (a handful: numpy, jax's ArrayImpl, tracers).
ARRAY_TYPES: set[type] = {np.ndarray}
_MAX_ARRAY_TYPES = 64


#: dtype-like -> canonical numpy dtype, for the few dtype-likes a program uses
#: (bounded: at most ``_MAX_DTYPES`` entries); read directly on hot paths.
DTYPES: dict[Any, np.dtype[Any]] = {}
_MAX_DTYPES = 256


def _canonical_hashable(dtype: Any) -> np.dtype[Any]:
    d = DTYPES.get(dtype)
    if d is None:
        d = np.dtype(jax.dtypes.canonicalize_dtype(dtype))
        if len(DTYPES) < _MAX_DTYPES:
            DTYPES[dtype] = d
    return d


def canonical_dtype(dtype: Any, path: str | None = None) -> np.dtype[Any]:
    """The numpy dtype JAX stores ``dtype`` as (float64 -> float32 without x64).

    Raises:
      InvalidArgumentTypeError: ``dtype`` is not a dtype (named with ``path``).

    Examples:
      >>> canonical_dtype("float32")
      dtype('float32')
    """
    try:
        return _canonical_hashable(dtype)
    except TypeError as e:  # not a dtype, or unhashable (a list)
        where = f" for {path!r}" if path else ""
        raise InvalidArgumentTypeError(
            f"dtype{where} is {type(dtype).__name__} {dtype!r:.60}, which is not a "
            "dtype; pass a dtype such as jnp.float32 or 'float32'."
        ) from e


def norm_shape(shape: Any, path: str) -> tuple[int, ...]:
    """``shape`` as a tuple of non-negative ints, or a clear error naming ``path``.

    Examples:
      >>> norm_shape([2, np.int64(3)], "~/w")
      (2, 3)
    """
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise ParameterShapeError(
            f"shape for {path!r} must be a sequence of non-negative ints, got "
            f"{shape!r:.80}. Pass e.g. (x.shape[-1], 128)."
        ) from None
    if any(d < 0 for d in dims):
        raise ParameterShapeError(
            f"shape for {path!r} has a negative dimension: {shape!r}. Every dimension must be >= 0."
        )
    return dims


def is_array(value: Any) -> bool:
    """Whether ``value`` is a jax or numpy array (tracers included).

    Examples:
      >>> is_array(np.zeros(2)), is_array([1.0])
      (True, False)
    """
    t = type(value)
    if t in ARRAY_TYPES:
        return True
    if isinstance(value, (jax.Array, np.ndarray)):
        if len(ARRAY_TYPES) < _MAX_ARRAY_TYPES:
            ARRAY_TYPES.add(t)
        return True
    return False


def check_value(
    value: Any,
    path: str,
    kind: str,
    shape: tuple[int, ...],
    dtype: Any,
    initializing: bool = False,
    delivered: Any = None,
) -> None:
    """Raises if ``value`` is not an array of ``shape`` and ``dtype``.

    ``delivered`` is what the parameter interceptors turned ``value`` into: if
    it has the asked dtype, a stored value of another dtype is accepted.
    """
    if not is_array(value):
        raise InvalidParamsError(
            f"{kind} {path!r} is a {type(value).__name__}, not an array. "
            f"{kind.capitalize()} values must be jax or numpy arrays (what init "
            "returns); convert with jnp.asarray, or pass the flat "
            "path-to-array dict that init returned."
        )
    if initializing:
        fix = (
            "It was created earlier in this init: a shared module is called "
            "with inputs of different sizes, or two get_param calls use one name."
        )
    else:
        fix = (
            "The params were made for other inputs or another model: run init "
            "again with the inputs you apply to."
        )
    if value.shape != shape:
        raise ParameterShapeError(
            f"{kind} {path!r} has shape {tuple(value.shape)}, but the code asks "
            f"for shape {shape}. {fix}"
        )
    want = canonical_dtype(dtype, path)
    if value.dtype != want and getattr(delivered, "dtype", None) != want:
        raise ParameterDtypeError(
            f"{kind} {path!r} has dtype {value.dtype}, but the code asks for "
            f"dtype {want}. {fix} Or cast the value back to {want}."
        )


@functools.lru_cache(maxsize=1)
def _memory_limit() -> int:
    """Bytes one array may take on the default device: its memory, or the host's RAM."""
    try:
        stats = jax.devices()[0].memory_stats() or {}
        limit = int(stats.get("bytes_limit", 0))
    except Exception:  # pragma: no cover - backends without memory stats
        limit = 0
    if limit <= 0:
        try:
            limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
            limit = 2**62
    return limit


def check_allocatable(path: str, kind: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
    """Raises before an array of ``shape`` that no device could hold reaches XLA.

    Raises:
      ParameterShapeError: naming the path, the shape and the bytes it needs.

    Examples:
      >>> check_allocatable("~/w", "parameter", (10**9, 10**9), np.dtype("float32"))
      Traceback (most recent call last):
      ...
      minihaiku.core._errors.ParameterShapeError: parameter '~/w' of shape (1000000000, ...
    """
    nbytes = math.prod(shape) * dtype.itemsize
    limit = _memory_limit()
    if nbytes > limit:
        raise ParameterShapeError(
            f"{kind} {path!r} of shape {shape} and dtype {dtype} needs "
            f"{nbytes / 2**30:,.1f} GiB, more than the device's memory "
            f"({limit / 2**30:,.1f} GiB). Check the sizes given to the module that "
            "creates it (a size that is far too large, or a typo)."
        )
