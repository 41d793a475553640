"""``from_haiku`` / ``to_haiku``: move dm-haiku checkpoints to minihaiku and back.

dm-haiku keeps parameters (and state) as ``{module_name: {leaf: array}}``;
minihaiku as ``{path: array}``, whose paths are ``<module scope>/<leaf>``.
Both dicts list modules in the order their first entry was created, so the
same architecture gives the same sequence of modules on both sides, whatever
the two libraries call them. The conversion pairs modules by that order and
checks that each pair has the same leaf names and shapes. It needs no
dm-haiku: it only reads nested dicts of arrays.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core import InvalidArgumentTypeError, MinihaikuError

__all__ = ["ConversionError", "from_haiku", "to_haiku"]

_SORTED_HINT = (
    " Note: the dm-haiku modules are in alphabetical order, which is what jax.jit, "
    "jax.tree_util.tree_map and optax give back (they sort dict keys), not necessarily "
    "the creation order the conversion pairs by. If the model's modules were not "
    "created in alphabetical order, pass order= with the module names in creation "
    "order, e.g. order=<the dict an un-jitted hk.transform(f).init returned>."
)


class ConversionError(MinihaikuError, ValueError):
    """A dm-haiku checkpoint does not fit the minihaiku params it should fill."""


def _modules(flat: Mapping[str, Any], arg: str, fn: str) -> list[tuple[str, dict[str, Any]]]:
    """Groups minihaiku's flat ``path -> array`` by module scope, in dict order."""
    if not isinstance(flat, Mapping):
        raise InvalidArgumentTypeError(
            f"{fn}: {arg} must be minihaiku's flat mapping from path to array (what "
            f"init returned), got {type(flat).__name__}."
        )
    groups: dict[str, dict[str, Any]] = {}
    for path, value in flat.items():
        if not isinstance(path, str) or isinstance(value, Mapping):
            raise InvalidArgumentTypeError(
                f"{fn}: {arg} must be minihaiku's flat mapping from path to array, but "
                f"entry {path!r} holds a {type(value).__name__}. Pass what "
                "minihaiku's init returned (not a nested dm-haiku dict)."
            )
        scope, _, leaf = path.rpartition("/")
        groups.setdefault(scope, {})[leaf] = value
    return list(groups.items())


def _haiku_modules(
    nested: Mapping[str, Any], arg: str, fn: str
) -> list[tuple[str, Mapping[str, Any]]]:
    """Checks dm-haiku's ``{module: {leaf: array}}``; returns its items in dict order."""
    if not isinstance(nested, Mapping):
        raise InvalidArgumentTypeError(
            f"{fn}: {arg} must be dm-haiku's nested mapping {{module_name: {{leaf: "
            f"array}}}}, got {type(nested).__name__}."
        )
    for name, leaves in nested.items():
        if not isinstance(leaves, Mapping):
            raise InvalidArgumentTypeError(
                f"{fn}: {arg} must be dm-haiku's nested mapping {{module_name: {{leaf: "
                f"array}}}}, but {name!r} holds a {type(leaves).__name__}. Pass the "
                "dict dm-haiku's init returned (not minihaiku's flat one)."
            )
    return list(nested.items())


def _hint(hk_items: list[tuple[str, Any]], mh_items: list[tuple[str, Any]]) -> str:
    """Says when a side looks sorted (jit and tree_map sort dict keys)."""
    hk_names = [name for name, _ in hk_items]
    mh_names = [name for name, _ in mh_items]
    hk_sorted = len(hk_names) > 1 and hk_names == sorted(hk_names)
    mh_sorted = len(mh_names) > 1 and mh_names == sorted(mh_names)
    if hk_sorted and mh_sorted:
        return (
            " (Both dicts are in alphabetical order: if one went through jax.jit or "
            "tree_map, which sort dict keys, it is not in the creation order the "
            "pairing relies on.)"
        )
    if hk_sorted:
        return _SORTED_HINT
    if mh_sorted:
        return (
            " Note: the minihaiku modules are in alphabetical order; if the minihaiku "
            "params went through jax.jit, eval_shape or tree_map (which sort dict keys), "
            "take them from an un-jitted init, whose order is the creation order."
        )
    return ""


def _names(items: list[tuple[str, Any]], limit: int = 8) -> str:
    names = [name for name, _ in items[:limit]]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return f"{names}{more}"


_COUNTER = re.compile(r"(?<=_)(\d+)(?=/|$)")
_DIGITS = re.compile(r"(\d+)")


def _counter_key(name: str) -> tuple[str | int, ...]:
    """Sorts ``x_2`` before ``x_10``: the numbers dm-haiku and minihaiku append to names."""
    parts = _COUNTER.split(name)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def _natural_key(name: str) -> tuple[str | int, ...]:
    """Sorts every run of digits by its value."""
    parts = _DIGITS.split(name)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def _unsort(items: list[tuple[str, Any]], side: str, arg: str, fn: str) -> list[tuple[str, Any]]:
    """Puts a dict that jit or tree_map sorted back in numeric order, or refuses.

    Sorting puts ``linear_10`` before ``linear_2``, which no creation order
    does; modules of equal shapes would then pair with the wrong layer.
    """
    names = [name for name, _ in items]
    if len(names) < 2 or names != sorted(names):
        return items
    numeric = sorted(items, key=lambda item: _counter_key(item[0]))
    numeric_names = [name for name, _ in numeric]
    if numeric_names == names:
        return items
    first = next(i for i, (a, b) in enumerate(zip(names, numeric_names, strict=True)) if a != b)
    ahead, behind = names[first], numeric_names[first]
    keys = {_counter_key(name) for name in names}
    natural = sorted(names, key=_natural_key)
    if side == "minihaiku":
        remedy = f"Pass {arg} from an un-jitted minihaiku init (creation order)"
    elif fn == "from_haiku":
        remedy = (
            "Pass order= with the dm-haiku module names in creation order, e.g. "
            "order=<the dict an un-jitted hk.transform(f).init returned>"
        )
    else:
        remedy = f"Pass {arg} from an un-jitted hk.transform(f).init (creation order)"
    if len(keys) != len(names) or natural != numeric_names:
        raise ConversionError(
            f"{fn}: the {side} {arg} are in alphabetical order (jax.jit, "
            "jax.tree_util.tree_map and optax sort dict keys), which puts "
            f"{ahead!r} before {behind!r}, so they are not in creation order, and their "
            f"numeric order is ambiguous (numbers with leading zeros or inside names). {remedy}."
        )
    moved = [name for name, old in zip(numeric_names, names, strict=True) if name != old]
    more = f" and {len(moved) - 8} more" if len(moved) > 8 else ""
    warnings.warn(
        f"{fn}: the {side} {arg} are in alphabetical order (jax.jit, "
        "jax.tree_util.tree_map and optax sort dict keys), which puts "
        f"{ahead!r} before {behind!r}: no creation order does that. Paired them in "
        f"numeric order instead, which moved {moved[:8]}{more}. {remedy}, to silence this.",
        UserWarning,
        stacklevel=4,
    )
    return numeric


def _reorder(
    items: list[tuple[str, Mapping[str, Any]]], order: Iterable[str], fn: str
) -> list[tuple[str, Mapping[str, Any]]]:
    """``items`` in the order of the module names ``order``."""
    if isinstance(order, (str, bytes)) or not isinstance(order, Iterable):
        raise InvalidArgumentTypeError(
            f"{fn}: order must be the dm-haiku module names in creation order (a list, "
            f"or an un-jitted init's dict), got {type(order).__name__} {order!r:.60}."
        )
    names = list(order)
    by_name = dict(items)
    missing = [n for n in names if n not in by_name]
    extra = [n for n in by_name if n not in set(names)]
    if missing or extra or len(set(names)) != len(names):
        raise ConversionError(
            f"{fn}: order must name each dm-haiku module once; not in the dict: "
            f"{missing[:5]}, not in order: {extra[:5]}"
            f"{'' if len(set(names)) == len(names) else ', and some names repeat'}. Pass the "
            "names (or the dict) an un-jitted init of the same model gives."
        )
    return [(n, by_name[n]) for n in names]


def _pair(
    haiku: Mapping[str, Any],
    flat: Mapping[str, Any],
    fn: str,
    hk_arg: str,
    mh_arg: str,
    order: Iterable[str] | None = None,
) -> list[tuple[str, Mapping[str, Any], str, dict[str, Any]]]:
    """Pairs modules by order; checks counts, leaf names and shapes."""
    hk_items = _haiku_modules(haiku, hk_arg, fn)
    if order is not None:
        hk_items = _reorder(hk_items, order, fn)
    else:
        hk_items = _unsort(hk_items, "dm-haiku", hk_arg, fn)
    mh_items = _unsort(_modules(flat, mh_arg, fn), "minihaiku", mh_arg, fn)
    hint = _hint(hk_items, mh_items)
    if len(hk_items) != len(mh_items):
        raise ConversionError(
            f"{fn}: the dm-haiku {hk_arg} have {len(hk_items)} modules but the minihaiku "
            f"{mh_arg} have {len(mh_items)}. dm-haiku: {_names(hk_items)}; minihaiku: "
            f"{_names(mh_items)}. Build the same architecture on both sides (same "
            "layers, sizes and options) and init the minihaiku model on inputs of the "
            f"same shapes.{hint}"
        )
    pairs = []
    for i, ((hk_name, hk_leaves), (mh_scope, mh_leaves)) in enumerate(
        zip(hk_items, mh_items, strict=True)
    ):
        if set(hk_leaves) != set(mh_leaves):
            raise ConversionError(
                f"{fn}: module #{i} does not match: dm-haiku {hk_name!r} has the leaves "
                f"{sorted(hk_leaves)} but minihaiku {mh_scope!r} has {sorted(mh_leaves)}. "
                f"{'The modules before it matched; c' if i else 'C'}heck that both models "
                "create their layers in the same order with the same options (e.g. "
                f"with_bias).{hint}"
            )
        for leaf, mh_value in mh_leaves.items():
            hk_shape = tuple(jnp.shape(hk_leaves[leaf]))
            mh_shape = tuple(jnp.shape(mh_value))
            if hk_shape != mh_shape:
                raise ConversionError(
                    f"{fn}: module #{i} does not match: dm-haiku '{hk_name}/{leaf}' has "
                    f"shape {hk_shape} but minihaiku '{mh_scope}/{leaf}' has shape "
                    f"{mh_shape}. Build both models with the same sizes and init the "
                    f"minihaiku model on inputs of the same shapes.{hint}"
                )
        pairs.append((hk_name, hk_leaves, mh_scope, mh_leaves))
    return pairs


def from_haiku(
    haiku_params: Mapping[str, Any],
    params: Mapping[str, Any],
    *,
    order: Iterable[str] | None = None,
) -> dict[str, jax.Array]:
    """Fills minihaiku ``params`` with the values of a dm-haiku checkpoint of the same model.

    Modules are paired by the order in which they were created (the order
    of both dicts), then each pair must have the same leaf names and shapes.
    Works the same for state: ``from_haiku(haiku_state, state)``.

    Args:
      haiku_params: dm-haiku's nested ``{module_name: {leaf: array}}``
        (params or state), in creation order (as ``init`` returned it).
      params: the flat params (or state) of the minihaiku model, e.g. from its
        ``init`` (only their paths, order and shapes are used).
      order: the dm-haiku module names in creation order, when
        ``haiku_params`` is not in that order (``jax.jit``, ``jax.grad``,
        ``tree_map`` and optax sort dict keys): e.g. the dict an un-jitted
        dm-haiku ``init`` returned, or a list of its names. Without it, a dict
        in alphabetical order that no creation order gives (``linear_10``
        before ``linear_2``) is paired in numeric order, with a warning naming
        the modules that moved (the same for a sorted ``params``).

    Returns:
      A new flat dict with the paths of ``params`` and dm-haiku's values.

    Raises:
      ConversionError: the module counts, a module's leaf names or a leaf's
        shape differ, or ``order`` does not name each module once; the message
        names the first mismatch on both sides. Also when a dict is sorted
        (``x_10`` before ``x_2``) and its numeric order is ambiguous.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import MLP, from_haiku
      >>> hk_params = {  # what hk.transform(lambda x: hk.nets.MLP([3, 1])(x)).init gives
      ...     "mlp/~/linear_0": {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)},
      ...     "mlp/~/linear_1": {"w": jnp.ones((3, 1)), "b": jnp.zeros(1)},
      ... }
      >>> f = transform(lambda x: MLP([3, 1])(x))
      >>> params = from_haiku(hk_params, f.init(0, jnp.ones((1, 2))))
      >>> f.apply(params, jnp.ones((1, 2)))
      Array([[6.]], dtype=float32)
      >>> shuffled = dict(reversed(hk_params.items()))  # e.g. sorted by jit
      >>> params = from_haiku(shuffled, params, order=hk_params)
    """
    out: dict[str, jax.Array] = {}
    for _, hk_leaves, mh_scope, mh_leaves in _pair(
        haiku_params, params, "from_haiku", "haiku_params", "params", order
    ):
        for leaf in mh_leaves:
            out[f"{mh_scope}/{leaf}"] = jnp.asarray(hk_leaves[leaf])
    return out


def to_haiku(params: Mapping[str, Any], haiku_params: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`from_haiku`: minihaiku values in dm-haiku's nested layout.

    Args:
      params: the flat minihaiku params (or state) whose values to take.
      haiku_params: a dm-haiku dict of the same model giving the module and leaf
        names (e.g. from dm-haiku's ``init``; only names, order and shapes are
        used).

    Returns:
      A new ``{module_name: {leaf: array}}`` with minihaiku's values.

    Raises:
      ConversionError: as :func:`from_haiku`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.layers import to_haiku
      >>> to_haiku({"~/Linear_0/__call__/w": jnp.ones(2)}, {"linear": {"w": jnp.zeros(2)}})
      {'linear': {'w': Array([1., 1.], dtype=float32)}}
    """
    out: dict[str, Any] = {}
    for hk_name, hk_leaves, _, mh_leaves in _pair(
        haiku_params, params, "to_haiku", "haiku_params", "params"
    ):
        out[hk_name] = {leaf: jnp.asarray(mh_leaves[leaf]) for leaf in hk_leaves}
    return out
