"""dm-haiku's nested layout for the sharding functions: ``{module: {name: leaf}}``.

The axes record keys every entry by its flat path (``module/name`` under the
haiku scheme); ``init`` of a haiku-scheme transform returns a nested mapping.
These two helpers go from one to the other, so ``param_axes``,
``param_shardings``, ``init_shapes`` and ``sharded_init`` hand back trees of
the same structure as ``init``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["flat_paths", "per_entry"]


def _is_nested(tree: Mapping[str, Any]) -> bool:
    return any(isinstance(v, Mapping) for v in tree.values())


def flat_paths(tree: Mapping[str, Any]) -> dict[str, Any]:
    """``{path: leaf}`` of a flat or nested (``{module: {name: leaf}}``) mapping.

    Examples:
      >>> flat_paths({"mlp/~/linear_0": {"w": 1, "b": 2}})
      {'mlp/~/linear_0/w': 1, 'mlp/~/linear_0/b': 2}
      >>> flat_paths({"~/w": 1})
      {'~/w': 1}
    """
    if not _is_nested(tree):
        return dict(tree)
    return {f"{m}/{n}": v for m, inner in tree.items() for n, v in inner.items()}


def per_entry(tree: Mapping[str, Any], fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """``fn`` of ``tree``'s flat ``{path: leaf}`` view, back in ``tree``'s structure.

    Examples:
      >>> per_entry({"linear": {"w": 1}}, lambda flat: {p: p for p in flat})
      {'linear': {'w': 'linear/w'}}
    """
    out = fn(flat_paths(tree))
    if not _is_nested(tree):
        return out
    return {m: {n: out[f"{m}/{n}"] for n in inner} for m, inner in tree.items()}
