"""Rules tables: logical axis names to mesh axes, and the PartitionSpecs they give.

A rules table maps each logical name (what ``get_param(..., axes=...)``
records) to a mesh axis name, a tuple of mesh axis names, or ``None``
(replicated). It is set in one place: :func:`axis_rules` as a context
manager, or the ``rules=`` argument of the sharding functions (the argument
wins). A logical name no rule covers is replicated, unless the rules are
declared ``complete``, in which case it is an error.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Mapping
from typing import Any

from jax.sharding import Mesh, NamedSharding, PartitionSpec

from minihaiku.core._errors import InvalidArgumentTypeError, ShardingError
from minihaiku.core._sharding.axes import Axes, check_axes

__all__ = [
    "AxisRules",
    "RulesLike",
    "axis_rules",
    "check_mesh",
    "logical_to_spec",
    "resolve_rules",
    "shardings_for",
]

#: What one rule maps a logical name to.
MeshAxes = str | tuple[str, ...] | None


class AxisRules:
    """A checked rules table; a context manager that makes it the current one.

    Made by :func:`axis_rules`; pass it as ``rules=`` too.

    Attributes:
      rules: logical name -> mesh axis name, tuple of mesh axis names, or None.
      complete: whether a logical name without a rule is an error (else replicated).

    Examples:
      >>> from minihaiku.core import AxisRules, axis_rules
      >>> r = axis_rules({"mlp": "model", "batch": ("data",)}, complete=True)
      >>> isinstance(r, AxisRules), r.rules["batch"], r.complete
      (True, 'data', True)
    """

    __slots__ = ("_tokens", "complete", "rules")

    def __init__(self, rules: Mapping[str, Any], complete: bool = False) -> None:
        self.rules: dict[str, MeshAxes] = _check_rules(rules)
        if not isinstance(complete, bool):
            raise InvalidArgumentTypeError(
                f"axis_rules: complete must be True or False, got "
                f"{type(complete).__name__} {complete!r:.40}."
            )
        self.complete = complete
        self._tokens: list[contextvars.Token[AxisRules | None]] = []

    def __repr__(self) -> str:
        return f"AxisRules({self.rules!r}, complete={self.complete})"

    def __enter__(self) -> AxisRules:
        self._tokens.append(_RULES.set(self))
        return self

    def __exit__(self, *exc: object) -> None:
        _RULES.reset(self._tokens.pop())


#: What ``rules=`` accepts: a mapping, an :class:`AxisRules`, or None (the current rules).
RulesLike = Mapping[str, Any] | AxisRules | None

_RULES: contextvars.ContextVar[AxisRules | None] = contextvars.ContextVar(
    "minihaiku_axis_rules", default=None
)


def _check_rules(rules: Any) -> dict[str, MeshAxes]:
    if not isinstance(rules, Mapping):
        raise InvalidArgumentTypeError(
            f"axis rules must be a mapping from logical axis name to a mesh axis name, "
            f"a tuple of mesh axis names or None, got {type(rules).__name__} "
            f"{rules!r:.60}. Example: {{'batch': 'data', 'mlp': 'model', 'embed': None}}."
        )
    out: dict[str, MeshAxes] = {}
    for name, target in rules.items():
        if not isinstance(name, str):
            raise InvalidArgumentTypeError(
                f"axis rules: the logical axis name {name!r:.40} is a "
                f"{type(name).__name__}; logical names are str."
            )
        if isinstance(target, (tuple, list)) and all(isinstance(t, str) for t in target):
            target = tuple(target)
            target = None if not target else target[0] if len(target) == 1 else target
        elif target is not None and not isinstance(target, str):
            raise InvalidArgumentTypeError(
                f"axis rules: the rule for {name!r} maps it to {type(target).__name__} "
                f"{target!r:.40}; map a logical name to a mesh axis name, a tuple of "
                "mesh axis names, or None (replicated)."
            )
        out[name] = target
    return out


_EMPTY = AxisRules({})


def axis_rules(rules: Mapping[str, Any], complete: bool = False) -> AxisRules:
    """A rules table: use it as a context manager (``with``) or pass it as ``rules=``.

    Args:
      rules: logical axis name -> mesh axis name, tuple of mesh axis names
        (the dimension is split over all of them), or ``None`` (replicated).
      complete: when True, a logical name used by a parameter but missing
        from ``rules`` is an error; when False (default) it is replicated.

    Returns:
      An :class:`AxisRules`; entering it makes it the current rules of
      :func:`logical_to_spec`, :func:`~minihaiku.core.init_shapes`,
      :func:`~minihaiku.core.param_shardings` and
      :func:`~minihaiku.core.sharded_init` (a ``rules=`` argument wins).

    Examples:
      >>> from jax.sharding import PartitionSpec
      >>> from minihaiku.core import axis_rules, logical_to_spec
      >>> with axis_rules({"batch": "data", "mlp": "model", "embed": None}):
      ...   print(logical_to_spec(("embed", "mlp")) == PartitionSpec(None, "model"))
      True
    """
    return AxisRules(rules, complete)


def resolve_rules(rules: RulesLike) -> AxisRules:
    """``rules`` as :class:`AxisRules`: the argument, else the current rules, else none."""
    if rules is None:
        current = _RULES.get()
        return current if current is not None else _EMPTY
    if isinstance(rules, AxisRules):
        return rules
    return AxisRules(rules)


def check_mesh(mesh: Any, what: str) -> Mesh:
    """Returns ``mesh`` if it is a ``jax.sharding.Mesh``, else raises."""
    if not isinstance(mesh, Mesh):
        raise InvalidArgumentTypeError(
            f"{what} expects a jax.sharding.Mesh as mesh, got {type(mesh).__name__} "
            f"{mesh!r:.60}. Make one with jax.make_mesh((4, 2), ('data', 'model'))."
        )
    return mesh


def _uncovered_error(missing: Mapping[str, list[str]]) -> ShardingError:
    where = "; ".join(
        f"{name!r} in {', '.join(repr(p) for p in paths[:3])}"
        + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        for name, paths in sorted(missing.items())
    )
    return ShardingError(
        f"the axis rules are complete=True but have no rule for the logical axis "
        f"name(s) {sorted(missing)}, used by: {where}. Add a rule for each (map it "
        "to None to replicate it), or use complete=False to replicate unknown names."
    )


def logical_to_spec(
    axes: Iterable[str | None] | None,
    rules: RulesLike = None,
    mesh: Mesh | None = None,
    *,
    shape: tuple[int, ...] | None = None,
    path: str = "<axes>",
    kind: str = "parameter",
) -> PartitionSpec:
    """The PartitionSpec that ``rules`` give one parameter's logical ``axes``.

    Args:
      axes: a logical name or None per dimension (``None``: unannotated, replicated).
      rules: a mapping or :func:`axis_rules`; ``None`` uses the current rules.
      mesh: when given, the mesh axes the rules name must exist in it, and
        (with ``shape``) divide the dimensions they shard.
      shape: the parameter's shape, to check the rank and divisibility.
      path: the parameter's path, for error messages.
      kind: ``"parameter"`` or ``"state"``, for error messages.

    Raises:
      ShardingError: a rule names a mesh axis the mesh does not have, one mesh
        axis is used twice, a dimension is not divisible by its mesh axes, the
        rank is wrong, or (complete rules) a name has no rule.

    Examples:
      >>> from minihaiku.core import logical_to_spec
      >>> mesh = jax.make_mesh((1, 1), ("data", "model"))
      >>> rules = {"batch": "data", "mlp": "model", "heads": ("data", "model")}
      >>> tuple(logical_to_spec(("embed", "mlp"), rules, mesh, shape=(4, 8)))
      (None, 'model')
      >>> tuple(logical_to_spec(("heads", None), rules))
      (('data', 'model'), None)
      >>> tuple(logical_to_spec(None, rules))  # unannotated: replicated
      ()
    """
    table = resolve_rules(rules)
    if axes is None:
        return PartitionSpec()  # type: ignore[no-untyped-call]
    if shape is None:  # no rank to check against: any length fits
        shape = tuple(0 for _ in axes) if isinstance(axes, (tuple, list)) else ()
        sized = False
    else:
        sized = True
    names: Axes = check_axes(axes, path, kind, shape)
    if table.complete:
        missing = {n: [path] for n in names if n is not None and n not in table.rules}
        if missing:
            raise _uncovered_error(missing)
    mesh_axes = dict(mesh.shape) if mesh is not None else None
    used: dict[str, tuple[int, str | None]] = {}
    spec: list[MeshAxes] = []
    for dim, name in enumerate(names):
        target = table.rules.get(name) if name is not None else None
        spec.append(target)
        if target is None:
            continue
        targets = (target,) if isinstance(target, str) else target
        for t in targets:
            if mesh_axes is not None and t not in mesh_axes:
                raise ShardingError(
                    f"{kind} {path!r}: the rule {name!r}: {target!r} names mesh axis "
                    f"{t!r}, which the mesh does not have (its axes: "
                    f"{tuple(mesh_axes)}). Fix the rule or use a mesh with that axis."
                )
            if t in used:
                d0, n0 = used[t]
                raise ShardingError(
                    f"{kind} {path!r} (axes {names!r}) uses mesh axis {t!r} twice: for "
                    f"{n0!r} (dimension {d0}) and {name!r} (dimension {dim}). A mesh axis "
                    "can shard only one dimension of an array: map one of these names "
                    "to None or to another mesh axis."
                )
            used[t] = (dim, name)
        if mesh_axes is not None and sized:
            size = 1
            for t in targets:
                size *= mesh_axes[t]
            if shape[dim] % size:
                raise ShardingError(
                    f"{kind} {path!r}: dimension {dim} ({name!r}, size {shape[dim]}) "
                    f"cannot be split over mesh axes {targets} of total size {size}. "
                    f"Make the size a multiple of {size}, or map {name!r} to other mesh "
                    "axes or to None (replicated)."
                )
    return PartitionSpec(*spec)  # type: ignore[no-untyped-call]


def shardings_for(
    shapes: Mapping[str, Any],
    axes: Mapping[str, Axes],
    rules: RulesLike,
    mesh: Mesh,
    kind: str = "parameter",
) -> dict[str, NamedSharding]:
    """The NamedSharding of every entry of ``shapes`` (unannotated: replicated).

    With complete rules, every uncovered name is reported at once, with paths.
    """
    table = resolve_rules(rules)
    if table.complete:
        missing: dict[str, list[str]] = {}
        for path, names in axes.items():
            for n in names:
                if n is not None and n not in table.rules:
                    paths = missing.setdefault(n, [])
                    if path not in paths:
                        paths.append(path)
        if missing:
            raise _uncovered_error(missing)
    out: dict[str, NamedSharding] = {}
    for path, value in shapes.items():
        spec = logical_to_spec(
            axes.get(path), table, mesh, shape=tuple(value.shape), path=path, kind=kind
        )
        out[path] = NamedSharding(mesh, spec)
    return out
