"""Freezing parameters by a predicate on their paths."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError

__all__ = ["FrozenSpec", "check_frozen_matches", "frozen_predicate", "partition"]

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


def check_frozen_matches(spec: FrozenSpec, paths: Iterable[str]) -> None:
    """Raises if ``spec`` (or one of its patterns) matches none of ``paths``.

    A pattern with a typo would otherwise freeze nothing, silently.

    Examples:
      >>> from minihaiku.core import InvalidArgumentError
      >>> try:
      ...     check_frozen_matches("*/b", ["~/Linear_0/__call__/w"])
      ... except InvalidArgumentError as e:
      ...     print(str(e).split(".")[0])
      frozen pattern '*/b' matches no parameter
    """
    if spec is None:
        return
    paths = sorted(paths)
    some = ", ".join(repr(p) for p in paths[:3]) + (", ..." if len(paths) > 3 else "")
    if callable(spec) and not isinstance(spec, str):
        if not any(spec(p) for p in paths):
            raise InvalidArgumentError(
                f"the frozen predicate {getattr(spec, '__name__', spec)!r} matches no "
                f"parameter. The parameter paths look like {some}; fix the predicate "
                "or pass frozen=None."
            )
        return
    patterns = [spec] if isinstance(spec, str) else list(spec)
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(p, pattern) for p in paths):
            raise InvalidArgumentError(
                f"frozen pattern {pattern!r} matches no parameter. The parameter "
                f"paths look like {some}; fix the pattern (a glob such as "
                "'~/MLP_0/__call__/Linear_0/*') or leave it out."
            )
