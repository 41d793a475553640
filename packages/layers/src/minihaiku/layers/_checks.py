"""Argument checks shared by the layers."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from minihaiku.core import (
    InitLike,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    NotCallableError,
    UnknownInitializerError,
    get_initializer,
)

__all__ = ["check_size", "resolve_init"]


def check_size(value: Any, what: str, where: str) -> int:
    """Returns ``value`` if it is a positive int, else raises.

    Examples:
      >>> check_size(3, "output_size", "Linear")
      3
    """
    if isinstance(value, bool):
        raise InvalidArgumentTypeError(
            f"{where}: {what} must be a positive int, got the bool {value!r}."
        )
    try:
        size = operator.index(value)
    except TypeError:
        raise InvalidArgumentTypeError(
            f"{where}: {what} must be a positive int, got "
            f"{type(value).__name__} {value!r}. Pass e.g. {what}=128."
        ) from None
    if size <= 0:
        raise InvalidArgumentError(
            f"{where}: {what} must be a positive int, got {size}. A layer needs "
            "at least one output unit."
        )
    return size


def resolve_init(
    init: InitLike, default: Callable[..., Any], what: str, where: str
) -> Callable[..., Any]:
    """Turns ``init`` (None, a registered name or a callable) into a callable."""
    if init is None:
        return default
    if isinstance(init, str):
        try:
            return get_initializer(init)
        except UnknownInitializerError as e:
            raise UnknownInitializerError(f"{where}: {what}={init!r}: {e}") from e
    if not callable(init):
        raise NotCallableError(
            f"{where}: {what} must be a (key, shape, dtype) -> Array callable or "
            f"a registered initializer name, got {type(init).__name__} {init!r:.60}."
        )
    return init
