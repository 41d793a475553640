"""What ``init`` and ``apply`` check about their arguments, under every scheme."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minihaiku.core._errors import (
    InvalidArgumentTypeError,
    InvalidParamsError,
    NotCallableError,
    RngError,
)
from minihaiku.core._keys import as_key

__all__ = ["check_apply_rng", "check_callable", "check_mapping", "split_rng"]


def check_mapping(value: Any, what: str) -> Mapping[str, Any]:
    """Returns ``value`` if it is a mapping (params or state), else raises."""
    if type(value) is dict or isinstance(value, Mapping):
        return value
    raise InvalidParamsError(
        f"apply expects {what} as a mapping from path to array (what init "
        f"returned), got {type(value).__name__}. Pass the dict that init "
        "returned, or one with the same keys."
    )


def check_callable(f: Any, what: str) -> None:
    """Raises unless ``f`` is callable, naming the function ``what`` that got it."""
    if not callable(f):
        raise NotCallableError(
            f"{what} expects a function, got {type(f).__name__} {f!r:.60}. Pass "
            "the function (or module method) itself, e.g. "
            f"{what}(lambda x: MLP([3, 5])(x))."
        )


def split_rng(apply_rng: bool, args: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
    """Splits ``apply``'s key argument off ``args`` when ``apply_rng`` is set."""
    if not apply_rng:
        return None, args
    if not args:
        raise RngError(
            "apply was made with apply_rng=True and needs a key after params "
            "(and state): apply(params, rng, *args)."
        )
    rng = args[0]
    return (None if rng is None else as_key(rng, "apply")), args[1:]


def check_apply_rng(apply_rng: Any) -> None:
    if not isinstance(apply_rng, bool):
        raise InvalidArgumentTypeError(
            f"apply_rng must be True or False, got {type(apply_rng).__name__} "
            f"{apply_rng!r:.40}. Use transform(f, apply_rng=True), or "
            "@transform(apply_rng=True) as a decorator."
        )
