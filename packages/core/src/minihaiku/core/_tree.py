"""Tools for the flat ``path -> array`` mappings that ``init`` returns."""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax
import numpy as np
from jax.sharding import NamedSharding

from minihaiku.core._errors import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    InvalidParamsError,
)

__all__ = [
    "PathFilter",
    "filter_params",
    "from_nested",
    "merge_params",
    "partition_params",
    "summary",
    "to_nested",
    "tree_bytes",
    "tree_size",
]

#: A glob pattern on the path (``"*/Linear_0/*"``), several patterns, or a
#: predicate ``(path, value) -> bool``.
PathFilter = str | Iterable[str] | Callable[[str, Any], bool]


def _predicate(spec: PathFilter) -> Callable[[str, Any], bool]:
    if isinstance(spec, str):
        return lambda path, value: fnmatch.fnmatchcase(path, spec)
    if callable(spec):
        return spec
    patterns = list(spec) if isinstance(spec, Iterable) else None
    if patterns is None or not all(isinstance(p, str) for p in patterns):
        raise InvalidArgumentTypeError(
            f"expected a glob pattern, a list of patterns or a predicate (path, value) "
            f"-> bool, got {type(spec).__name__} {spec!r:.60}."
        )
    return lambda path, value: any(fnmatch.fnmatchcase(path, p) for p in patterns)


def _mapping(params: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(params, Mapping):
        raise InvalidParamsError(
            f"{what} expects a flat mapping from path to array (what init returns), "
            f"got {type(params).__name__}."
        )
    return params


def filter_params(params: Mapping[str, Any], spec: PathFilter) -> dict[str, Any]:
    """The entries whose path matches ``spec`` (a glob, globs, or a predicate).

    Examples:
      >>> filter_params({"~/a/w": 1, "~/b/w": 2}, "~/a/*")
      {'~/a/w': 1}
    """
    keep = _predicate(spec)
    return {k: v for k, v in _mapping(params, "filter_params").items() if keep(k, v)}


def partition_params(
    params: Mapping[str, Any], spec: PathFilter
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Splits into (matching, the rest); :func:`merge_params` undoes it.

    Examples:
      >>> partition_params({"~/a/w": 1, "~/b/w": 2}, lambda p, v: "a" in p)
      ({'~/a/w': 1}, {'~/b/w': 2})
    """
    keep = _predicate(spec)
    yes: dict[str, Any] = {}
    no: dict[str, Any] = {}
    for k, v in _mapping(params, "partition_params").items():
        (yes if keep(k, v) else no)[k] = v
    return yes, no


def merge_params(*parts: Mapping[str, Any], overwrite: bool = False) -> dict[str, Any]:
    """Merges flat mappings; a path in two of them is an error unless ``overwrite``.

    Examples:
      >>> merge_params({"a": 1}, {"b": 2})
      {'a': 1, 'b': 2}
    """
    out: dict[str, Any] = {}
    for i, part in enumerate(parts):
        for k, v in _mapping(part, "merge_params").items():
            if not overwrite and k in out:
                raise InvalidArgumentError(
                    f"merge_params: {k!r} is in mapping {i} and in an earlier one. Pass "
                    "disjoint mappings (as partition_params returns), or overwrite=True "
                    "to let later mappings win."
                )
            out[k] = v
    return out


def tree_size(tree: Any) -> int:
    """The number of elements in all arrays of ``tree`` (params, state, shapes).

    Examples:
      >>> tree_size({"w": np.zeros((3, 4)), "b": np.zeros(4)})
      16
    """
    return sum(math.prod(np.shape(x)) for x in jax.tree_util.tree_leaves(tree))


def tree_bytes(tree: Any) -> int:
    """The bytes taken by all arrays of ``tree`` (works on ShapeDtypeStructs too).

    Examples:
      >>> tree_bytes({"w": np.zeros((3, 4), np.float32)})
      48
    """
    return sum(
        math.prod(np.shape(x)) * np.dtype(x.dtype).itemsize for x in jax.tree_util.tree_leaves(tree)
    )


def to_nested(params: Mapping[str, Any]) -> dict[str, Any]:
    """A nested dict, one level per path component (``{"~": {"MLP_0": ...}}``).

    Examples:
      >>> to_nested({"~/a/w": 1, "~/a/b": 2, "s": 3})
      {'~': {'a': {'w': 1, 'b': 2}}, 's': 3}
    """
    out: dict[str, Any] = {}
    for path, value in _mapping(params, "to_nested").items():
        *scopes, name = path.split("/")
        node = out
        for i, s in enumerate(scopes):
            child = node.setdefault(s, {})
            if not isinstance(child, dict):
                raise InvalidParamsError(
                    f"to_nested: {'/'.join(scopes[: i + 1])!r} is both a parameter and a "
                    f"scope (of {path!r}); such params have no nested form."
                )
            node = child
        if name in node:
            raise InvalidParamsError(
                f"to_nested: {path!r} is both a parameter and a scope; such params have "
                "no nested form."
            )
        node[name] = value
    return out


def from_nested(nested: Mapping[str, Any]) -> dict[str, Any]:
    """The flat ``path -> value`` form of :func:`to_nested`'s output.

    Examples:
      >>> from_nested({"~": {"a": {"w": 1}}})
      {'~/a/w': 1}
    """
    out: dict[str, Any] = {}

    def walk(prefix: str, node: Mapping[str, Any]) -> None:
        for k, v in node.items():
            path = f"{prefix}/{k}" if prefix else k
            if isinstance(v, Mapping):
                walk(path, v)
            else:
                out[path] = v

    walk("", _mapping(nested, "from_nested"))
    return out


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def _spec(value: Any) -> str | None:
    """``P(None, 'model')`` for a value placed by a NamedSharding, else None."""
    sharding = getattr(value, "sharding", None)
    if not isinstance(sharding, NamedSharding):
        return None
    return "P(" + ", ".join(repr(e) for e in sharding.spec) + ")"


def summary(params: Mapping[str, Any], policies: Mapping[str, Any] | None = None) -> str:
    """A table of the parameters: scope, name, shape, dtype, count and bytes, with totals.

    Works on params, state, or the ShapeDtypeStructs from :func:`init_shapes`.
    When some entries are placed by a ``NamedSharding`` (``init_shapes(...,
    mesh=...)``, or params from ``sharded_init``), a ``sharding`` column shows
    each one's PartitionSpec.
    With ``policies`` (from :func:`param_policies`: path -> policy or ``None``)
    a last column shows the mixed-precision policy each parameter is read
    under (``-``: none).

    Examples:
      >>> from minihaiku.core import Module, get_param, init_shapes, summary, transform
      >>> class Linear(Module):
      ...   def __call__(self, x):
      ...     return x @ get_param("w", (x.shape[-1], 2)) + get_param("b", (2,))
      >>> print(summary(init_shapes(transform(lambda x: Linear()(x)), jnp.ones((1, 3)))))
      scope                name  shape   dtype    size  bytes
      -------------------  ----  ------  -------  ----  -----
      ~/Linear_0/__call__  b     (2,)    float32     2    8 B
      ~/Linear_0/__call__  w     (3, 2)  float32     6   24 B
      -------------------  ----  ------  -------  ----  -----
      total (2 arrays)                               8   32 B
      >>> f = transform(lambda x: x @ get_param("w", (3, 4), axes=("embed", "mlp")))
      >>> mesh = jax.make_mesh((1, 1), ("data", "model"))
      >>> print(summary(init_shapes(f, jnp.ones((1, 3)), mesh=mesh, rules={"mlp": "model"})))
      scope            name  shape   dtype    size  bytes  sharding
      ---------------  ----  ------  -------  ----  -----  ----------------
      ~                w     (3, 4)  float32    12   48 B  P(None, 'model')
      ---------------  ----  ------  -------  ----  -----  ----------------
      total (1 array)                           12   48 B
      >>> from minihaiku.core import Module, param_policies, policy_scope
      >>> f = transform(lambda x: Linear()(x))
      >>> with policy_scope(Module, "params=float32,compute=bfloat16,output=float32"):
      ...   policies = param_policies(f, jnp.ones((1, 3)))
      >>> print(summary(init_shapes(f, jnp.ones((1, 3))), policies).splitlines()[2])
      ~/Linear_0/__call__  b     (2,)    float32     2    8 B  params=float32,compute=bfloat16,...
    """
    if policies is not None and not isinstance(policies, Mapping):
        raise InvalidArgumentTypeError(
            f"summary's policies must map paths to policies (what param_policies "
            f"returns), got {type(policies).__name__}."
        )
    rows: list[tuple[str, ...]] = []
    specs = [_spec(v) for v in _mapping(params, "summary").values()]
    sharded = any(sp is not None for sp in specs)
    for (path, value), spec in zip(params.items(), specs, strict=True):
        scope, _, name = path.rpartition("/")
        shape = tuple(np.shape(value))
        dtype = np.dtype(value.dtype)
        size = math.prod(shape)
        row: tuple[str, ...] = (
            scope or "(top level)",
            name,
            str(shape),
            dtype.name,
            f"{size:,}",
            _human(size * dtype.itemsize),
        )
        if sharded:
            row = (*row, spec or "-")
        if policies is not None:
            row = (*row, str(policies.get(path) or "-"))
        rows.append(row)
    total_size = tree_size(dict(params))
    total_bytes = tree_bytes(dict(params))
    header: tuple[str, ...] = ("scope", "name", "shape", "dtype", "size", "bytes")
    count = f"{len(rows)} array" + ("" if len(rows) == 1 else "s")
    footer: tuple[str, ...] = (
        f"total ({count})",
        "",
        "",
        "",
        f"{total_size:,}",
        _human(total_bytes),
    )
    if sharded:
        header, footer = (*header, "sharding"), (*footer, "")
    if policies is not None:
        header, footer = (*header, "policy"), (*footer, "")
    widths = [max(len(r[i]) for r in [header, footer, *rows]) for i in range(len(header))]
    right = {4, 5}

    def line(r: tuple[str, ...]) -> str:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *map(line, rows), rule, line(footer)])
