"""Sharded init: where each parameter goes on a mesh, and creating it there.

Everything here starts from one abstract trace of ``init``
(``jax.eval_shape``, no arrays) that records each parameter's logical axes.
:func:`sharded_init` then runs ``init`` once under ``jax.jit`` with those
shardings as ``out_shardings``: each device computes only its shard, and since
parameter keys are derived from paths, the values are those of the plain
``init``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
from jax.sharding import Mesh

from minihaiku.core._keys import as_key
from minihaiku.core._sharding.axes import Axes, AxesRecord, recording
from minihaiku.core._sharding.nested import per_entry
from minihaiku.core._sharding.rules import RulesLike, check_mesh, resolve_rules, shardings_for

__all__ = [
    "abstract_init",
    "param_axes",
    "param_shardings",
    "sharded_init",
    "shardings_of",
    "with_shardings",
]

#: What ``param_axes`` gives one entry: its logical axes, or None if unannotated.
AxesMap = dict[str, Axes | None]


def abstract_init(
    transformed: Any,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    rng: Any,
    what: str,
    keep_order: bool = True,
) -> tuple[Any, AxesRecord]:
    """``init``'s output as ShapeDtypeStructs, and the annotations it recorded.

    With ``keep_order`` the entries are in ``init``'s order, else sorted (as
    ``jax.eval_shape`` returns them).
    """
    key = rng if isinstance(rng, jax.ShapeDtypeStruct) else as_key(rng, what)
    order: list[Any] = []

    def init(k: Any, *a: Any) -> Any:
        out = transformed.init(k, *a, **kwargs)
        order.append(out)
        return out

    with recording() as record:
        shapes = jax.eval_shape(init, key, *args)
    return (in_order_of(shapes, order[0]) if keep_order else shapes), record


def in_order_of(out: Any, like: Any) -> Any:
    """``out`` (from a JAX transform: dict keys sorted) with ``like``'s key order.

    ``init`` returns parameters in creation order; JAX's pytrees sort them.
    """
    if isinstance(like, dict) and isinstance(out, dict):
        return {k: in_order_of(out[k], like[k]) for k in like}
    if isinstance(like, tuple) and isinstance(out, tuple) and len(like) == len(out):
        return tuple(in_order_of(o, lk) for o, lk in zip(out, like, strict=True))
    return out


def _split(out: Any) -> tuple[Mapping[str, Any], Mapping[str, Any] | None]:
    """``(params, state)`` of what ``init`` returns; state is None for plain ``transform``."""
    if isinstance(out, tuple) and len(out) == 2:
        return out[0], out[1]
    return out, None


def _axes_of(shapes: Any, record: AxesRecord) -> Any:
    params, state = _split(shapes)
    p = per_entry(params, lambda flat: {k: record.params.get(k) for k in flat})
    if state is None:
        return p
    return p, per_entry(state, lambda flat: {k: record.state.get(k) for k in flat})


def param_axes(transformed: Any, *args: Any, **kwargs: Any) -> Any:
    """The logical axes of every parameter ``init`` would create (no arrays are made).

    Args:
      transformed: what :func:`~minihaiku.core.transform` (or
        ``transform_with_state``) returned.
      *args: ``init``'s arguments after the key (arrays or ShapeDtypeStructs).
      **kwargs: ``init``'s keyword arguments.

    Returns:
      ``{path: axes}``, ``axes`` a tuple with a logical name or None per
      dimension, or None for an unannotated parameter. Inside ``layer_stack``
      the stacked leading axis is named ``"layers"``. For a stateful pair, a
      ``(params_axes, state_axes)`` pair, like ``init``.

    Examples:
      >>> from minihaiku.core import get_param, param_axes, transform
      >>> def f(x):
      ...   w = get_param("w", (x.shape[-1], 8), axes=("embed", "mlp"))
      ...   return x @ w + get_param("b", (8,))
      >>> param_axes(transform(f), jnp.ones((1, 4)))
      {'~/w': ('embed', 'mlp'), '~/b': None}
    """
    shapes, record = abstract_init(transformed, args, kwargs, 0, "param_axes")
    return _axes_of(shapes, record)


def shardings_of(shapes: Any, record: AxesRecord, rules: RulesLike, mesh: Any, what: str) -> Any:
    """The shardings of ``init``'s output ``shapes`` (same structure) on ``mesh``."""
    check_mesh(mesh, what)
    table = resolve_rules(rules)
    params, state = _split(shapes)
    if table.complete:  # report every uncovered name, params and state together
        everything = {**record.params, **record.state}
        shardings_for({}, everything, table, mesh)
    p = per_entry(params, lambda flat: shardings_for(flat, record.params, table, mesh))
    if state is None:
        return p
    return p, per_entry(
        state, lambda flat: shardings_for(flat, record.state, table, mesh, kind="state")
    )


def with_shardings(shapes: Any, shardings: Any) -> Any:
    """Each ShapeDtypeStruct of ``shapes`` with its sharding from ``shardings``."""
    if isinstance(shapes, tuple):
        return tuple(with_shardings(s, sh) for s, sh in zip(shapes, shardings, strict=True))
    return {
        k: with_shardings(s, shardings[k])
        if isinstance(s, Mapping)
        else jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=shardings[k])  # type: ignore[no-untyped-call]
        for k, s in shapes.items()
    }


def param_shardings(
    transformed: Any, *args: Any, mesh: Mesh, rules: RulesLike = None, **kwargs: Any
) -> Any:
    """The NamedSharding of every parameter ``init`` would create on ``mesh``.

    Args:
      transformed: what :func:`~minihaiku.core.transform` (or
        ``transform_with_state``) returned.
      *args: ``init``'s arguments after the key.
      mesh: the ``jax.sharding.Mesh``.
      rules: the rules table (a mapping or :func:`~minihaiku.core.axis_rules`);
        None uses the current ``with axis_rules(...)`` rules. Unannotated
        parameters, and names without a rule unless the rules are complete,
        are replicated.
      **kwargs: ``init``'s keyword arguments.

    Returns:
      ``{path: NamedSharding}``, or a ``(params, state)`` pair for a stateful pair.

    Raises:
      ShardingError: the annotations, rules and mesh do not fit (see
        :func:`~minihaiku.core.logical_to_spec`).

    Examples:
      >>> from minihaiku.core import get_param, param_shardings, transform
      >>> f = transform(lambda x: x @ get_param("w", (x.shape[-1], 8), axes=("embed", "mlp")))
      >>> mesh = jax.make_mesh((1, 1), ("data", "model"))
      >>> s = param_shardings(f, jnp.ones((1, 4)), mesh=mesh, rules={"mlp": "model"})
      >>> tuple(s["~/w"].spec)
      (None, 'model')
    """
    check_mesh(mesh, "param_shardings")
    shapes, record = abstract_init(transformed, args, kwargs, 0, "param_shardings")
    return shardings_of(shapes, record, rules, mesh, "param_shardings")


def sharded_init(transformed: Any, mesh: Mesh, rules: RulesLike = None) -> Callable[..., Any]:
    """An ``init`` that creates every parameter directly in its sharding on ``mesh``.

    The returned function ``init(rng, *args, **kwargs)`` traces ``init``
    abstractly to find each parameter's sharding (from its ``axes=`` and the
    rules), then runs ``init`` once under ``jax.jit(..., out_shardings=...)``:
    each device computes only its own shard, so no parameter ever exists in
    full on one device. The values equal ``transformed.init(rng, *args)``'s
    (parameter keys depend only on the path). ``args`` are traced as under
    ``jax.jit``; pass Python flags as keyword arguments (they are static).

    Args:
      transformed: what :func:`~minihaiku.core.transform` (or
        ``transform_with_state``) returned.
      mesh: the ``jax.sharding.Mesh``.
      rules: the rules table; None uses the rules current when ``init`` is
        called (``with axis_rules(...)``).

    Returns:
      ``init(rng, *args, **kwargs) -> params`` (or ``(params, state)``).

    Examples:
      >>> from minihaiku.core import get_param, sharded_init, transform
      >>> f = transform(lambda x: x @ get_param("w", (x.shape[-1], 8), axes=("embed", "mlp")))
      >>> mesh = jax.make_mesh((1, 1), ("data", "model"))
      >>> init = sharded_init(f, mesh, rules={"mlp": "model"})
      >>> params = init(0, jnp.ones((1, 4)))
      >>> tuple(params["~/w"].sharding.spec)
      (None, 'model')
      >>> bool((params["~/w"] == f.init(0, jnp.ones((1, 4)))["~/w"]).all())
      True
    """
    check_mesh(mesh, "sharded_init")
    if rules is not None:
        rules = resolve_rules(rules)  # check it now

    def init(rng: Any, *args: Any, **kwargs: Any) -> Any:
        key = as_key(rng, "sharded_init")
        shapes, record = abstract_init(transformed, args, kwargs, key, "sharded_init")
        shardings = shardings_of(shapes, record, rules, mesh, "sharded_init")
        jitted = jax.jit(lambda k, *a: transformed.init(k, *a, **kwargs), out_shardings=shardings)
        return in_order_of(jitted(key, *args), shapes)

    return init
