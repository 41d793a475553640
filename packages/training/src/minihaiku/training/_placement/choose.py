"""The placement of a run: the arguments checked, the kind picked, a mesh's shardings found."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import numpy as np
from jax.sharding import Mesh

from minihaiku.core import InvalidArgumentError, TransformedWithState
from minihaiku.core import param_shardings as annotated_shardings
from minihaiku.training._data import _is_stream
from minihaiku.training._losses import Loss
from minihaiku.training._placement.base import Placement
from minihaiku.training._placement.data_parallel import DataParallel
from minihaiku.training._placement.mesh import MeshPlan, Rules
from minihaiku.training._placement.single import SingleDevice

__all__ = ["Chosen", "choose_placement"]


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


class Chosen(NamedTuple):
    """The placement of a run, and its ``data`` (an iterator read to trace comes back equal)."""

    placement: Placement
    data: Any


def choose_placement(
    mesh: Mesh | None,
    rules: Rules | None,
    param_shardings: Mapping[str, Any] | None,
    data_parallel: bool | None,
    loss: Loss,
    params: Mapping[str, Any],
    data: Any,
    batch_size: int | None,
) -> Chosen:
    """Checks ``train``'s placement arguments and picks the placement.

    With a mesh, each param's sharding is found: given, its own, from the
    model's annotations (traced on the shapes of the first batch) or
    replicated. Without one: :class:`DataParallel` when ``data_parallel``
    (default: more than one device), else :class:`SingleDevice`.
    """
    plan = _plan_mesh(mesh, rules, param_shardings, data_parallel)
    if plan is None:
        if data_parallel is None:
            data_parallel = jax.device_count() > 1
        return Chosen(DataParallel() if data_parallel else SingleDevice(), data)
    derived = None
    if loss.model is not None and not set(params) <= set(param_shardings or {}):
        x, data = _model_input(data, batch_size)
        if x is not None:
            derived = annotated_shardings(loss.model, x, mesh=plan.mesh, rules=plan.given_rules)
            if isinstance(loss.model, TransformedWithState):
                derived = derived[0]
    plan.shardings = plan.param_shardings(params, param_shardings, derived)
    return Chosen(plan, data)


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
