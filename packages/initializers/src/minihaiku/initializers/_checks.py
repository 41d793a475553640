"""Argument checks shared by the built-in initializers."""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp
import numpy as np

from minihaiku.core import InitializerError

__all__ = [
    "check_finite",
    "check_float_dtype",
    "check_nonnegative",
    "check_one_of",
    "check_positive",
]


def _number(name: str, value: Any, where: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InitializerError(
            f"{where}: {name} must be a number, got {type(value).__name__} {value!r}."
        ) from None
    if not math.isfinite(v):
        raise InitializerError(f"{where}: {name} must be finite, got {value!r}.")
    return v


def check_finite(name: str, value: Any, where: str) -> float:
    """Returns ``value`` as a float, or raises if it is not a finite number."""
    return _number(name, value, where)


def check_nonnegative(name: str, value: Any, where: str) -> float:
    """Returns ``value`` as a float, or raises if it is negative or not finite."""
    v = _number(name, value, where)
    if v < 0:
        raise InitializerError(
            f"{where}: {name} must be >= 0, got {value!r}. A spread is never "
            f"negative: pass {name}={abs(v)!r} if that was meant."
        )
    return v


def check_positive(name: str, value: Any, where: str) -> float:
    """Returns ``value`` as a float, or raises if it is not > 0."""
    v = _number(name, value, where)
    if v <= 0:
        raise InitializerError(f"{where}: {name} must be > 0, got {value!r}.")
    return v


def check_one_of(name: str, value: Any, options: tuple[str, ...], where: str) -> str:
    """Returns ``value`` if it is one of ``options``, else raises."""
    if value not in options:
        raise InitializerError(
            f"{where}: {name} must be one of {', '.join(map(repr, options))}; got {value!r}."
        )
    return str(value)


_INEXACT: set[Any] = set()


def check_float_dtype(dtype: Any, where: str) -> None:
    """Raises if ``dtype`` is not a floating (or complex) dtype."""
    if dtype in _INEXACT:
        return
    if jnp.issubdtype(np.dtype(dtype), jnp.inexact):
        _INEXACT.add(dtype)
        return
    raise InitializerError(
        f"{where} draws random floats and cannot fill dtype {np.dtype(dtype)}; "
        "use a float dtype, or the 'constant'/'zeros' initializer for "
        "integer parameters."
    )
