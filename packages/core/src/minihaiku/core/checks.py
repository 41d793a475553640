"""Argument checks shared by every minihaiku package: one order, one error family.

Every check takes ``(value, name, where, ...)``: the value given, the
argument's name as the user wrote it, and where it was given (a module's
``module_label`` such as ``"Linear ~/Linear_0"``, a function such as
``"train"``, or ``""`` when the name alone says it). Extra options come
after, keyword-only. A bad argument is an
:class:`~minihaiku.core.InvalidArgumentTypeError` (the wrong kind of value,
also a ``TypeError``) or an :class:`~minihaiku.core.InvalidArgumentError`
(a value out of range, also a ``ValueError``); the message names the
argument, the value and what to pass instead. Each check returns the value
in its canonical form (an ``int``, a ``float``, a ``str``).

Examples:
  >>> from minihaiku.core import checks
  >>> checks.check_positive_int(3, "output_size", "Linear ~/Linear_0")
  3
  >>> checks.check_int(0, "steps", "train", minimum=1)
  Traceback (most recent call last):
    ...
  minihaiku.core._errors.InvalidArgumentError: train: steps must be >= 1, got 0.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import jax.numpy as jnp
import numpy as np

from minihaiku.core._concrete import is_tracer
from minihaiku.core._errors import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    NotCallableError,
    UnknownInitializerError,
)
from minihaiku.core._plugins.default import get_initializer

__all__ = [
    "check_bool",
    "check_callable",
    "check_each",
    "check_finite",
    "check_float_dtype",
    "check_initializer",
    "check_int",
    "check_nonnegative",
    "check_one_of",
    "check_positive",
    "check_positive_int",
    "is_tracer",
    "prefix",
]

T = TypeVar("T")


def prefix(where: str) -> str:
    """``"where: "``, or ``""`` when ``where`` is empty: how every message starts.

    Examples:
      >>> prefix("Linear ~/Linear_0"), prefix("")
      ('Linear ~/Linear_0: ', '')
    """
    return f"{where}: " if where else ""


def _shown(value: Any) -> str:
    return f"{type(value).__name__} {value!r:.60}"


def check_int(value: Any, name: str, where: str, *, minimum: int | None = None) -> int:
    """``value`` as an ``int`` (not a bool), at least ``minimum`` when given.

    Examples:
      >>> check_int(np.int64(5), "steps", "train", minimum=1)
      5
      >>> check_int(2.5, "steps", "train")
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.InvalidArgumentTypeError: train: steps must be an int, got float 2.5.
    """
    if isinstance(value, bool):
        raise InvalidArgumentTypeError(
            f"{prefix(where)}{name} must be an int, got the bool {value!r}."
        )
    try:
        number = operator.index(value)
    except TypeError:
        raise InvalidArgumentTypeError(
            f"{prefix(where)}{name} must be an int, got {_shown(value)}."
        ) from None
    if minimum is not None and number < minimum:
        raise InvalidArgumentError(f"{prefix(where)}{name} must be >= {minimum}, got {number}.")
    return number


def check_positive_int(value: Any, name: str, where: str) -> int:
    """``value`` as an ``int`` > 0 (not a bool); one message for every wrong value.

    Examples:
      >>> check_positive_int(2, "stride", "Conv2D ~/Conv2D_0")
      2
      >>> check_positive_int(0, "stride", "Conv2D ~/Conv2D_0")
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.InvalidArgumentError: Conv2D ~/Conv2D_0: stride must be a
      positive int, got int 0.
    """
    if not isinstance(value, bool):
        try:
            number = operator.index(value)
        except TypeError:
            pass
        else:
            if number > 0:
                return number
    raise InvalidArgumentError(
        f"{prefix(where)}{name} must be a positive int, got {_shown(value)}."
    )


def check_finite(value: Any, name: str, where: str) -> float:
    """``value`` as a finite ``float``.

    Examples:
      >>> check_finite(1, "stddev", "'normal'")
      1.0
      >>> check_finite(float("nan"), "stddev", "'normal'")
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.InvalidArgumentError: 'normal': stddev must be finite, got nan.
    """
    if isinstance(value, (str, bytes)):
        raise InvalidArgumentTypeError(
            f"{prefix(where)}{name} must be a number, got {type(value).__name__} {value!r}."
        )
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentTypeError(
            f"{prefix(where)}{name} must be a number, got {type(value).__name__} {value!r}."
        ) from None
    if not math.isfinite(number):
        raise InvalidArgumentError(f"{prefix(where)}{name} must be finite, got {value!r}.")
    return number


def check_nonnegative(value: Any, name: str, where: str) -> float:
    """``value`` as a finite ``float`` >= 0.

    Examples:
      >>> check_nonnegative(-0.5, "stddev", "'normal'")
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.InvalidArgumentError: 'normal': stddev must be >= 0, got -0.5.
      A spread is never negative: pass stddev=0.5 if that was meant.
    """
    number = check_finite(value, name, where)
    if number < 0:
        raise InvalidArgumentError(
            f"{prefix(where)}{name} must be >= 0, got {value!r}. A spread is never "
            f"negative: pass {name}={abs(number)!r} if that was meant."
        )
    return number


def check_positive(value: Any, name: str, where: str) -> float:
    """``value`` as a finite ``float`` > 0.

    Examples:
      >>> check_positive(0, "scale", "'variance_scaling'")
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.InvalidArgumentError: 'variance_scaling': scale must be > 0, got 0.
    """
    number = check_finite(value, name, where)
    if number <= 0:
        raise InvalidArgumentError(f"{prefix(where)}{name} must be > 0, got {value!r}.")
    return number


def check_one_of(value: Any, name: str, where: str, *, options: Sequence[T]) -> T:
    """``value`` if it is one of ``options``.

    Examples:
      >>> check_one_of("fan_in", "mode", "'variance_scaling'", options=("fan_in", "fan_out"))
      'fan_in'
      >>> check_one_of("fan", "mode", "'variance_scaling'", options=("fan_in", "fan_out"))
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.InvalidArgumentError: 'variance_scaling': mode must be one of
      'fan_in', 'fan_out'; got 'fan'.
    """
    try:
        found = value in options
    except TypeError:  # an unhashable value against a set
        found = False
    if not found:
        raise InvalidArgumentError(
            f"{prefix(where)}{name} must be one of {', '.join(map(repr, options))}; "
            f"got {value!r:.60}."
        )
    return value  # type: ignore[no-any-return]


def check_bool(value: Any, name: str, where: str) -> bool:
    """``value`` if it is a ``bool`` (or a numpy bool).

    Examples:
      >>> check_bool("yes", "with_bias", "Linear ~/Linear_0")
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.InvalidArgumentTypeError: Linear ~/Linear_0: with_bias must be
      True or False, got str 'yes'.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise InvalidArgumentTypeError(
        f"{prefix(where)}{name} must be True or False, got {_shown(value)}."
    )


def check_callable(value: Any, name: str, where: str, *, expected: str = "a callable") -> Any:
    """``value`` if it is callable, else a :class:`~minihaiku.core.NotCallableError`.

    ``expected`` describes the callable wanted, e.g. ``"a (key, shape, dtype)
    -> Array callable"``.

    Examples:
      >>> check_callable(3, "activation", "MLP ~/MLP_0")
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.NotCallableError: MLP ~/MLP_0: activation must be a callable,
      got int 3.
    """
    if not callable(value):
        raise NotCallableError(f"{prefix(where)}{name} must be {expected}, got {_shown(value)}.")
    return value


_INEXACT: set[Any] = set()


def check_float_dtype(value: Any, name: str, where: str) -> np.dtype[Any]:
    """``value`` as a numpy dtype if it is floating or complex.

    Examples:
      >>> check_float_dtype(jnp.bfloat16, "dtype", "'normal'")
      dtype(bfloat16)
      >>> check_float_dtype("int32", "dtype", "'normal'")
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.InvalidArgumentError: 'normal': dtype must be a floating dtype,
      got int32.
    """
    try:
        dtype: np.dtype[Any] = np.dtype(value)
    except TypeError:
        raise InvalidArgumentTypeError(
            f"{prefix(where)}{name} must be a dtype such as jnp.float32, got {_shown(value)}."
        ) from None
    if dtype in _INEXACT:
        return dtype
    if jnp.issubdtype(dtype, jnp.inexact):
        _INEXACT.add(dtype)
        return dtype
    raise InvalidArgumentError(f"{prefix(where)}{name} must be a floating dtype, got {dtype}.")


def check_each(
    values: Sequence[Any], name: str, where: str, check: Callable[[Any, str, str], T]
) -> tuple[T, ...]:
    """``check`` applied to every entry, each named ``name[i]``.

    Examples:
      >>> check_each([1, 2], "output_sizes", "MLP ~/MLP_0", check_positive_int)
      (1, 2)
    """
    return tuple(check(v, f"{name}[{i}]", where) for i, v in enumerate(values))


def check_initializer(value: Any, name: str, where: str, *, default: Any) -> Callable[..., Any]:
    """``value`` as an initializer callable: ``None`` gives ``default``, a name is looked up.

    ``value`` (and ``default``) may be ``None``, a registered initializer name
    such as ``"zeros"`` (resolved with :func:`~minihaiku.core.get_initializer`)
    or a ``(key, shape, dtype) -> Array`` callable. An unknown name is an
    :class:`~minihaiku.core.UnknownInitializerError` that lists the registered
    names; anything else is a :class:`~minihaiku.core.NotCallableError`.

    Examples:
      >>> zeros = check_initializer("zeros", "b_init", "Linear ~/Linear_0", default=None)
      >>> zeros(None, (2,), jnp.float32)
      Array([0., 0.], dtype=float32)
      >>> check_initializer(None, "b_init", "Linear ~/Linear_0", default="ones")(
      ...     None, (1,), jnp.float32)
      Array([1.], dtype=float32)
      >>> check_initializer(3, "w_init", "Linear ~/Linear_0", default="zeros")
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.NotCallableError: Linear ~/Linear_0: w_init must be a (key,
      shape, dtype) -> Array callable or a registered initializer name, got int 3.
    """
    if value is None:
        value = default
    if isinstance(value, str):
        try:
            return get_initializer(value)
        except UnknownInitializerError as e:
            raise UnknownInitializerError(f"{prefix(where)}{name}={value!r}: {e}") from e
    if not callable(value):
        raise NotCallableError(
            f"{prefix(where)}{name} must be a (key, shape, dtype) -> Array callable or "
            f"a registered initializer name, got {_shown(value)}."
        )
    return value  # type: ignore[no-any-return]
