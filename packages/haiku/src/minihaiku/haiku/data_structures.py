"""dm-haiku's ``haiku.data_structures``: functions over nested ``{module: {name: value}}`` trees.

Entries are visited in dm-haiku's order: modules sorted, names sorted within
each module.

Examples:
  >>> import minihaiku.haiku as hk
  >>> params = {"linear": {"w": jnp.ones((2, 2)), "b": jnp.zeros(2)}}
  >>> hk.data_structures.filter(lambda module, name, value: name == "w", params)
  {'linear': {'w': Array([[1., 1.],
         [1., 1.]], dtype=float32)}}
  >>> hk.data_structures.tree_size(params)
  6
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import jax
import numpy as np

from minihaiku.core import InvalidArgumentError, tree_bytes, tree_size

__all__ = [
    "filter",
    "is_subset",
    "map",
    "merge",
    "partition",
    "partition_n",
    "to_haiku_dict",
    "to_immutable_dict",
    "to_mutable_dict",
    "traverse",
    "tree_bytes",
    "tree_size",
]

T = TypeVar("T")
Nested = Mapping[str, Mapping[str, Any]]


def traverse(structure: Nested) -> Iterator[tuple[str, str, Any]]:
    """Yields ``(module_name, name, value)`` for each entry, modules and names sorted.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> list(hk.data_structures.traverse({"b": {"y": 1, "x": 2}, "a": {"z": 3}}))
      [('a', 'z', 3), ('b', 'x', 2), ('b', 'y', 1)]
    """
    for module in sorted(structure):
        inner = structure[module]
        for name in sorted(inner):
            yield module, name, inner[name]


def _build(entries: Iterator[tuple[str, str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for module, name, value in entries:
        out.setdefault(module, {})[name] = value
    return out


def filter(
    predicate: Callable[[str, str, Any], bool], structure: Nested
) -> dict[str, dict[str, Any]]:
    """The entries for which ``predicate(module_name, name, value)`` holds.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> hk.data_structures.filter(lambda m, n, v: v > 1, {"a": {"x": 1, "y": 2}})
      {'a': {'y': 2}}
    """
    return _build(e for e in traverse(structure) if predicate(*e))


def partition(
    predicate: Callable[[str, str, Any], bool], structure: Nested
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """``(entries where predicate holds, the others)``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> hk.data_structures.partition(lambda m, n, v: n == "w", {"a": {"w": 1, "b": 2}})
      ({'a': {'w': 1}}, {'a': {'b': 2}})
    """
    yes, no = partition_n(lambda m, n, v: 0 if predicate(m, n, v) else 1, structure, 2)
    return yes, no


def partition_n(
    fn: Callable[[str, str, Any], int], structure: Nested, n: int
) -> tuple[dict[str, dict[str, Any]], ...]:
    """``n`` trees: entry ``(m, name, v)`` goes to tree ``fn(m, name, v)``.

    Raises:
      InvalidArgumentError: ``fn`` returned an index outside ``[0, n)`` (a ``ValueError``).

    Examples:
      >>> import minihaiku.haiku as hk
      >>> hk.data_structures.partition_n(lambda m, n, v: v % 3, {"a": {"x": 3, "y": 5}}, 3)
      ({'a': {'x': 3}}, {}, {'a': {'y': 5}})
    """
    parts: list[dict[str, dict[str, Any]]] = [{} for _ in range(n)]
    for module, name, value in traverse(structure):
        index = fn(module, name, value)
        if not isinstance(index, (int, np.integer)) or not 0 <= index < n:
            raise InvalidArgumentError(
                f"partition_n: fn returned {index!r} for {module}/{name}; it must return "
                f"an int in [0, {n}). Return the index of the tree the entry goes to."
            )
        parts[int(index)].setdefault(module, {})[name] = value
    return tuple(parts)


def map(fn: Callable[[str, str, Any], Any], structure: Nested) -> dict[str, dict[str, Any]]:
    """A tree of ``fn(module_name, name, value)`` for each entry.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> hk.data_structures.map(lambda m, n, v: f"{m}/{n}", {"a": {"w": 0}})
      {'a': {'w': 'a/w'}}
    """
    return _build((m, n, fn(m, n, v)) for m, n, v in traverse(structure))


def merge(*structures: Nested, check_duplicates: bool = False) -> dict[str, dict[str, Any]]:
    """One tree of all entries; where several have one, the last wins.

    Raises:
      InvalidArgumentError: with ``check_duplicates``, an entry found twice with a
        different shape or dtype (a ``ValueError``, as in dm-haiku).

    Examples:
      >>> import minihaiku.haiku as hk
      >>> hk.data_structures.merge({"a": {"w": 1}}, {"a": {"b": 2}, "c": {"w": 3}})
      {'a': {'w': 1, 'b': 2}, 'c': {'w': 3}}
    """
    out: dict[str, dict[str, Any]] = {}
    for structure in structures:
        for module, name, value in traverse(structure):
            inner = out.setdefault(module, {})
            if check_duplicates and name in inner:
                old = inner[name]
                a = (np.shape(old), np.dtype(_dtype(old)))
                b = (np.shape(value), np.dtype(_dtype(value)))
                if a != b:
                    raise InvalidArgumentError(
                        f"merge: {module}/{name} is in several structures with different "
                        f"shapes or dtypes ({a[1]}{list(a[0])} vs {b[1]}{list(b[0])}). "
                        "Rename one, or merge without check_duplicates to let the last win."
                    )
            inner[name] = value
    return out


def _dtype(value: Any) -> Any:
    return getattr(value, "dtype", None) or np.asarray(value).dtype


def is_subset(*, subset: Nested, superset: Nested) -> bool:
    """Whether every ``(module, name)`` of ``subset`` is in ``superset``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> hk.data_structures.is_subset(subset={"a": {"w": 1}}, superset={"a": {"w": 0, "b": 1}})
      True
    """
    for module, name, _ in traverse(subset):
        if module not in superset or name not in superset[module]:
            return False
    return True


def to_mutable_dict(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A plain nested ``dict`` copy of ``mapping``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> hk.data_structures.to_mutable_dict(hk.data_structures.to_immutable_dict({"a": {"w": 1}}))
      {'a': {'w': 1}}
    """
    return {k: to_mutable_dict(v) if isinstance(v, Mapping) else v for k, v in mapping.items()}


def to_haiku_dict(structure: Any) -> Any:
    """dm-haiku's params type: a plain nested ``dict`` (as :func:`to_mutable_dict`).

    As in dm-haiku it always copies: anything but a mapping (inside the
    mapping or given itself) is copied as a JAX pytree (new containers, the
    same leaves).

    Examples:
      >>> import minihaiku.haiku as hk
      >>> hk.data_structures.to_haiku_dict({"a": {"w": 1}})
      {'a': {'w': 1}}
      >>> hk.data_structures.to_haiku_dict(3)
      3
    """
    if isinstance(structure, Mapping):
        return {k: to_haiku_dict(v) for k, v in structure.items()}
    leaves, treedef = jax.tree_util.tree_flatten(structure)
    return jax.tree_util.tree_unflatten(treedef, leaves)


class FrozenDict(Mapping[str, Any]):
    """A read-only mapping and JAX pytree (dm-haiku's ``FlatMap``); ``dict`` compares equal."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"FrozenDict({self._items!r})"


jax.tree_util.register_pytree_with_keys(
    FrozenDict,
    lambda d: (
        [(jax.tree_util.DictKey(k), d[k]) for k in sorted(d)],
        tuple(sorted(d)),
    ),
    lambda keys, values: FrozenDict(dict(zip(keys, values, strict=True))),
)


def to_immutable_dict(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only nested copy of ``mapping`` (item assignment is a ``TypeError``).

    Examples:
      >>> import minihaiku.haiku as hk
      >>> frozen = hk.data_structures.to_immutable_dict({"a": {"w": 1}})
      >>> frozen["a"]["w"], frozen == {"a": {"w": 1}}
      (1, True)
    """
    return FrozenDict(
        {k: to_immutable_dict(v) if isinstance(v, Mapping) else v for k, v in mapping.items()}
    )
