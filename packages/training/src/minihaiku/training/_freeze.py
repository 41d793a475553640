"""Freezing parameters by core's path filters: globs, lists of globs, predicates."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    PathFilter,
    filter_params,
    partition_params,
)
from minihaiku.training._nested_params import flatten, is_nested, nest

__all__ = [
    "FrozenSpec",
    "check_frozen_matches",
    "flat_view",
    "frozen_filter",
    "frozen_predicate",
    "merge",
    "partition",
]

#: What ``frozen=`` accepts: core's :data:`~minihaiku.core.PathFilter` (a glob
#: pattern such as ``"~/MLP_0/__call__/Linear_0/*"``, several patterns, or a
#: predicate ``(path, value) -> bool``), or a predicate on the path alone.
FrozenSpec = PathFilter | Callable[[str], bool] | None


def _takes_value(fn: Callable[..., Any]) -> bool:
    """Whether the predicate ``fn`` takes ``(path, value)`` rather than ``path``."""
    try:
        inspect.signature(fn).bind(None, None)
    except TypeError:
        return False
    except ValueError:  # no signature (a builtin): the path alone, as before
        return False
    return True


def frozen_filter(spec: FrozenSpec) -> PathFilter:
    """``spec`` as a core :data:`~minihaiku.core.PathFilter` (``None``: freezes nothing).

    Examples:
      >>> from minihaiku.core import filter_params
      >>> filter_params({"~/a/b": 1, "~/a/w": 2}, frozen_filter(lambda path: path.endswith("b")))
      {'~/a/b': 1}
    """
    if spec is None:
        return lambda path, value: False
    if isinstance(spec, str):
        return spec
    if callable(spec):
        fn: Callable[..., Any] = spec
        if _takes_value(fn):
            return lambda path, value: bool(fn(path, value))
        return lambda path, value: bool(fn(path))
    try:
        patterns = list(spec)
    except TypeError:
        patterns = None
    if patterns is None or not all(isinstance(p, str) for p in patterns):
        raise InvalidArgumentTypeError(
            f"frozen must be a predicate path -> bool or (path, value) -> bool, a glob "
            f"pattern or a list of glob patterns, got {type(spec).__name__} {spec!r:.60}."
        )
    return patterns


def frozen_predicate(spec: FrozenSpec) -> Callable[[str], bool]:
    """Turns ``spec`` into a ``path -> bool`` predicate (a ``(path, value)`` one sees ``None``).

    Examples:
      >>> frozen_predicate("*/b")("~/Linear_0/__call__/b")
      True
    """
    keep = frozen_filter(spec)
    return lambda path: bool(filter_params({path: None}, keep))


def flat_view(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """``params`` by path: nested ones as ``module/name`` (``"mlp/~/linear_0/w"``).

    Examples:
      >>> flat_view({"linear": {"w": 1, "b": 2}})
      {'linear/w': 1, 'linear/b': 2}
      >>> flat_view({"~/w": 1})
      {'~/w': 1}
    """
    return flatten(params) if is_nested(params) else params


def partition(params: Mapping[str, Any], spec: PathFilter) -> tuple[dict[str, Any], dict[str, Any]]:
    """Splits ``params`` into (trainable, frozen) dicts with core's ``partition_params``.

    Nested params (dm-haiku's layout) are split leaf by leaf, by their
    ``module/name`` paths, and come back nested.

    Examples:
      >>> partition({"a": 1, "b": 2}, "b")
      ({'a': 1}, {'b': 2})
      >>> partition({"linear": {"w": 1, "b": 2}}, "*/b")
      ({'linear': {'w': 1}}, {'linear': {'b': 2}})
    """
    if is_nested(params):
        frozen, trainable = partition_params(flat_view(params), spec)
        return nest(trainable), nest(frozen)
    frozen, trainable = partition_params(params, spec)
    return trainable, frozen


def merge(trainable: Mapping[str, Any], fixed: Mapping[str, Any]) -> dict[str, Any]:
    """The trainable and frozen params together again (module by module when nested).

    Examples:
      >>> merge({"a": 1}, {"b": 2})
      {'a': 1, 'b': 2}
      >>> merge({"linear": {"w": 1}}, {"linear": {"b": 2}})
      {'linear': {'w': 1, 'b': 2}}
    """
    if not (is_nested(trainable) or is_nested(fixed)):
        return {**trainable, **fixed}
    out: dict[str, Any] = {m: dict(inner) for m, inner in trainable.items()}
    for m, inner in fixed.items():
        out.setdefault(m, {}).update(inner)
    return out


def check_frozen_matches(spec: FrozenSpec, paths: Mapping[str, Any] | Iterable[str]) -> None:
    """Raises if ``spec`` (or one of its patterns) matches none of ``paths``.

    A pattern with a typo would otherwise freeze nothing, silently. ``paths``:
    the params (a ``(path, value)`` predicate sees each value), or their paths.

    Examples:
      >>> from minihaiku.core import InvalidArgumentError
      >>> try:
      ...     check_frozen_matches("*/b", {"~/Linear_0/__call__/w": 0})
      ... except InvalidArgumentError as e:
      ...     print(str(e).split(".")[0])
      frozen pattern '*/b' matches no parameter
    """
    if spec is None:
        return
    params = paths if isinstance(paths, Mapping) else dict.fromkeys(paths)
    paths = sorted(params)
    some = ", ".join(repr(p) for p in paths[:3]) + (", ..." if len(paths) > 3 else "")
    if callable(spec) and not isinstance(spec, str):
        if not filter_params(params, frozen_filter(spec)):
            raise InvalidArgumentError(
                f"the frozen predicate {getattr(spec, '__name__', spec)!r} matches no "
                f"parameter. The parameter paths look like {some}; fix the predicate "
                "or pass frozen=None."
            )
        return
    patterns: Iterable[str] = [spec] if isinstance(spec, str) else list(spec)
    for pattern in patterns:
        if not filter_params(params, pattern):
            raise InvalidArgumentError(
                f"frozen pattern {pattern!r} matches no parameter. The parameter "
                f"paths look like {some}; fix the pattern (a glob such as "
                "'~/MLP_0/__call__/Linear_0/*') or leave it out."
            )
