"""Freezing parameters by a predicate on their paths."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from minihaiku.core import InvalidArgumentTypeError

__all__ = ["FrozenSpec", "frozen_predicate", "partition"]

#: What ``frozen=`` accepts: a predicate on the path, a glob pattern
#: (``"~/MLP_0/__call__/Linear_0/*"``), or several patterns.
FrozenSpec = Callable[[str], bool] | str | Iterable[str] | None


def frozen_predicate(spec: FrozenSpec) -> Callable[[str], bool]:
    """Turns ``spec`` into a ``path -> bool`` predicate.

    Examples:
      >>> frozen_predicate("*/b")("~/Linear_0/__call__/b")
      True
    """
    if spec is None:
        return lambda path: False
    if isinstance(spec, str):
        return lambda path: fnmatch.fnmatchcase(path, spec)
    if callable(spec):
        return spec
    try:
        patterns = list(spec)
    except TypeError:
        patterns = None
    if patterns is None or not all(isinstance(p, str) for p in patterns):
        raise InvalidArgumentTypeError(
            f"frozen must be a predicate path -> bool, a glob pattern or a list "
            f"of glob patterns, got {type(spec).__name__} {spec!r:.60}."
        )
    return lambda path: any(fnmatch.fnmatchcase(path, p) for p in patterns)


def partition(
    params: Mapping[str, Any], is_frozen: Callable[[str], bool]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Splits ``params`` into (trainable, frozen) dicts.

    Examples:
      >>> partition({"a": 1, "b": 2}, lambda p: p == "b")
      ({'a': 1}, {'b': 2})
    """
    trainable: dict[str, Any] = {}
    frozen: dict[str, Any] = {}
    for path, value in params.items():
        (frozen if is_frozen(path) else trainable)[path] = value
    return trainable, frozen
