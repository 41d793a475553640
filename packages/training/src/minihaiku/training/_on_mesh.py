"""train(mesh=...): the mesh arguments checked, the shardings found, the trees placed."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh

from minihaiku.core import InvalidArgumentError, TransformedWithState
from minihaiku.core import param_shardings as annotated_shardings
from minihaiku.training._data import _is_stream
from minihaiku.training._losses import Loss
from minihaiku.training._mesh import MeshPlan, Rules
from minihaiku.training._records import host

__all__ = ["jit_options", "on_mesh", "snapshot"]


def _plan_mesh(
    mesh: Mesh | None, rules: Rules | None, param_shardings: Any, data_parallel: bool | None
) -> MeshPlan | None:
    """The :class:`MeshPlan` of ``train(mesh=...)``; ``None`` without a mesh."""
    if mesh is None:
        if rules is not None or param_shardings is not None:
            what = "rules=" if rules is not None else "param_shardings="
            raise InvalidArgumentError(
                f"{what} needs mesh=, the device mesh to shard over, e.g. "
                "mesh=jax.make_mesh((4, 2), ('data', 'model'))."
            )
        return None
    if data_parallel:
        raise InvalidArgumentError(
            "mesh= and data_parallel=True were both given; a mesh already splits the "
            "batch over its data axis. Pass only mesh= (data_parallel=True is the mesh "
            "(n,) with every param replicated)."
        )
    return MeshPlan(mesh, rules)


def on_mesh(
    mesh: Mesh | None,
    rules: Rules | None,
    param_shardings: Mapping[str, Any] | None,
    data_parallel: bool | None,
    loss: Loss,
    optimizer: Any,
    batch_size: int | None,
    trees: tuple[Any, Any, Any, Any, Any, Any],
) -> tuple[MeshPlan | None, tuple[Any, Any, Any, Any, Any, Any]]:
    """Checks ``train``'s mesh arguments and places the params and states.

    ``trees`` is ``(params, data, trainable, fixed, opt_state, state)``; they
    come back placed (``params``: the placed ``trainable`` and ``fixed`` in
    the order of ``params``; an iterator ``data`` whose first batch was read
    to trace the model comes back as an equal iterator). Without a mesh they
    come back as they are, and the plan is ``None``.
    """
    plan = _plan_mesh(mesh, rules, param_shardings, data_parallel)
    if plan is None:
        return None, trees
    given, data, trainable, fixed, opt_state, state = trees
    params = {**trainable, **fixed}
    derived = None
    if loss.model is not None and not set(params) <= set(param_shardings or {}):
        x, data = _model_input(data, batch_size)
        if x is not None:
            derived = annotated_shardings(loss.model, x, mesh=plan.mesh, rules=plan.given_rules)
            if isinstance(loss.model, TransformedWithState):
                derived = derived[0]
    shardings = plan.param_shardings(params, param_shardings, derived)
    trainable, fixed, opt_state, state = plan.place(
        trainable, fixed, opt_state, state, optimizer, shardings
    )
    placed = {**trainable, **fixed}
    params = {k: placed[k] for k in given}
    return plan, (params, data, trainable, fixed, opt_state, state)


def _model_input(data: Any, batch_size: int | None) -> tuple[Any, Any]:
    """The shapes of the model's input ``x`` in a batch ``(x, y)``, and ``data``.

    An iterator's first batch is read and put back in front of the rest.
    """
    if batch_size is None and _is_stream(data):
        it = iter(data)
        first = next(it, None)
        if first is None:
            return None, iter(())
        example, data = first, itertools.chain([first], it)
    elif batch_size is not None:
        example = jax.tree_util.tree_map(lambda a: np.asarray(a)[:batch_size], data)
    else:
        example = data
    if not isinstance(example, (tuple, list)) or len(example) != 2:
        return None, data
    shapes = jax.tree_util.tree_map(
        lambda a: jax.ShapeDtypeStruct(np.shape(a), np.asarray(a).dtype), example[0]
    )
    return shapes, data


def snapshot(dp: Any, trainable: Any, fixed: Any, opt_state: Any, state: Any) -> dict[str, Any]:
    """The trees a checkpoint or the result holds.

    On a mesh, the sharded arrays themselves (orbax writes each device's shard,
    and nothing is gathered); otherwise copies on this host.
    """

    def get(tree: Any) -> Any:
        return tree if isinstance(dp, MeshPlan) else host(tree, dp)

    out = {"params": {**get(trainable), **get(fixed)}, "opt_state": get(opt_state)}
    if state is not None:
        out["state"] = get(state)
    return out


def jit_options(dp: Any, args: tuple[Any, ...]) -> dict[str, Any]:
    """``jax.jit`` options for the chunk: on a mesh, outputs keep the inputs' shardings."""
    if not isinstance(dp, MeshPlan):
        return {}
    trainable, _, opt_state, state = args[:4]

    def shard(tree: Any) -> Any:
        return jax.tree_util.tree_map(lambda x: x.sharding, tree)

    return {
        "out_shardings": (
            shard(trainable),
            shard(opt_state),
            shard(state),
            dp.replicated,
            dp.replicated,
        )
    }
