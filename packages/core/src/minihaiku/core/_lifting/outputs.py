"""Clear errors for lifted control flow whose branch outputs or loop carries differ.

JAX checks that ``cond``/``switch`` branches return the same structure, shapes
and dtypes, and that a loop body returns its carry unchanged in type; its
message names minihaiku's internal wrappers (and paths inside them). The
wrappers record what the user's functions returned while JAX traces them; when
JAX then raises its ``TypeError``, :func:`mismatch` says what differs, naming the
user's functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from minihaiku.core._errors import InvalidArgumentTypeError

__all__ = ["Recorder", "describe_fn", "mismatch"]


class _Leaf(NamedTuple):
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    weak: bool

    def __str__(self) -> str:
        return f"{self.dtype}{list(self.shape)}"


class _Out(NamedTuple):
    tree: Any  # jax.tree_util.PyTreeDef
    leaves: list[tuple[str, _Leaf]]


def _leaf(x: Any) -> _Leaf:
    if isinstance(x, (int, float, complex)) and not isinstance(x, bool):
        weak = True  # a Python scalar: JAX promotes it
    else:
        weak = bool(getattr(getattr(x, "aval", x), "weak_type", False))
    return _Leaf(tuple(np.shape(x)), np.dtype(jax.dtypes.result_type(x)), weak)


def outline(value: Any) -> _Out:
    """``value``'s tree structure and each leaf's path, shape and dtype."""
    leaves, tree = jax.tree_util.tree_flatten_with_path(value)
    return _Out(tree, [(jax.tree_util.keystr(p), _leaf(x)) for p, x in leaves])


class Recorder:
    """What each of ``n`` traced functions returned (``None`` until traced)."""

    def __init__(self, n: int) -> None:
        self.outs: list[_Out | None] = [None] * n

    def record(self, i: int, value: Any) -> None:
        try:
            self.outs[i] = outline(value)
        except Exception:  # a leaf that is not an array: JAX's own error says so
            self.outs[i] = None


def describe_fn(fn: Any) -> str:
    """``fn``'s ``__qualname__`` (or its type's name, for callable objects)."""
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return str(name)


def _difference(a: _Out, b: _Out, a_name: str, b_name: str) -> str | None:
    """Where ``a`` and ``b`` differ in a way JAX refuses (weak types promote), or None."""
    if a.tree != b.tree:
        return f"{a_name} the structure {a.tree} and {b_name} {b.tree}"
    for (path, x), (_, y) in zip(a.leaves, b.leaves, strict=True):
        if x.shape != y.shape or (x.dtype != y.dtype and not (x.weak or y.weak)):
            at = f" (at {path})" if path else ""
            return f"{a_name} {x} and {b_name} {y}{at}"
    return None


def mismatch(
    where: str,
    names: Sequence[str],
    outs: Sequence[_Out | None],
    what: str,
    fix: str,
) -> InvalidArgumentTypeError | None:
    """The error for the first of ``outs[1:]`` that differs from ``outs[0]``, or None.

    ``names`` label the outputs with their verb (``"true_fun (f) returns"``,
    ``"init_val is"``); ``what`` is the rule (``"true_fun and false_fun must
    return the same structure, shapes and dtypes"``); None when nothing recorded
    differs (JAX's error was about something else: it is raised as it is).
    """
    first = outs[0]
    if first is None:
        return None
    for name, out in zip(names[1:], outs[1:], strict=True):
        if out is None:
            continue
        diff = _difference(first, out, names[0], name)
        if diff is not None:
            return InvalidArgumentTypeError(f"{where}: {what}, but {diff}. {fix}")
    return None


def recording(rec: Recorder, i: int, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (returning ``(out, state)``) that also records ``out`` as output ``i``."""

    def wrapped(*args: Any) -> Any:
        out, state = fn(*args)
        rec.record(i, out)
        return out, state

    return wrapped
