"""Where train() puts params, optimizer state and batches on a device mesh."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from minihaiku.core import (
    AxisRules,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    logical_to_spec,
)
from minihaiku.training._loss_scale import init_opt_state
from minihaiku.training._placement.base import Trees, snapshot_of
from minihaiku.training._transfer import to_numpy

__all__ = ["MeshPlan", "Rules"]

#: Logical axis name -> mesh axis (or axes, or ``None``: not split), or an
#: :class:`~minihaiku.core.AxisRules`; ``None``: the current ``with axis_rules(...)``.
Rules = Mapping[str, str | tuple[str, ...] | None] | AxisRules


def _axes(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


class MeshPlan:
    """Where :func:`train` puts everything on a mesh, and how it reads it back.

    Params go where their shardings say (replicated when none is known), the
    optimizer state like the params it mirrors (scalars replicated), the
    model state and the key replicated, and each batch split on its first
    axis over the data axis (the rules' ``"batch"`` entry, default the mesh's
    first axis).

    Args:
      mesh: the device mesh.
      rules: logical axis name -> mesh axis; its ``"batch"`` entry names the
        data axis.

    Raises:
      InvalidArgumentError: a rule names an axis the mesh lacks.

    Examples:
      >>> from minihaiku.training._placement.mesh import MeshPlan
      >>> plan = MeshPlan(jax.make_mesh((1,), ("data",)), {"batch": "data"})
      >>> plan.batch_axes, plan.data_size
      (('data',), 1)
    """

    #: Batches are split over the data axis.
    splits_batches = True

    def __init__(self, mesh: Mesh, rules: Rules | None) -> None:
        if not isinstance(mesh, Mesh):
            raise InvalidArgumentTypeError(
                f"mesh must be a jax.sharding.Mesh, e.g. jax.make_mesh((4, 2), "
                f"('data', 'model')), got {type(mesh).__name__}."
            )
        mesh = _auto(mesh)
        names = tuple(str(a) for a in mesh.axis_names)
        self.given_rules = rules
        if rules is None:  # the current rules: only "batch" is read here
            batch = logical_to_spec(("batch",))[0]
            rules = {} if batch is None else {"batch": batch}
        rules = dict(rules.rules if isinstance(rules, AxisRules) else rules)
        for logical, value in rules.items():
            if not isinstance(value, (str, tuple, list, type(None))):
                raise InvalidArgumentTypeError(
                    f"rules[{logical!r}] must be a mesh axis name, a tuple of them or "
                    f"None, got {type(value).__name__}."
                )
            missing = [a for a in _axes(value) if a not in names]
            if missing and logical == "batch":
                raise InvalidArgumentError(
                    f"the mesh has no axis {missing[0]!r}, the data axis that "
                    f"rules['batch'] = {value!r} names to split the batch over (the "
                    f"mesh's axes: {names}). Build the mesh with that axis, or name one "
                    "of its axes in rules['batch']."
                )
            if missing:
                raise InvalidArgumentError(
                    f"rules[{logical!r}] = {value!r} names mesh axis {missing[0]!r}, but "
                    f"the mesh has only the axes {names}. Name one of them, or build "
                    "the mesh with that axis."
                )
        self.mesh = mesh
        self.rules = rules
        self.batch_axes = _axes(rules.get("batch", names[0]))
        self.data_size = math.prod(mesh.shape[a] for a in self.batch_axes)
        self.replicated = NamedSharding(mesh, PartitionSpec())
        batch_spec = self.batch_axes if len(self.batch_axes) != 1 else self.batch_axes[0]
        self.split = NamedSharding(mesh, PartitionSpec(batch_spec or None))
        self.split_stacked = NamedSharding(mesh, PartitionSpec(None, batch_spec or None))
        here = jax.process_index()
        coords = {
            tuple(idx[names.index(a)] for a in self.batch_axes)
            for idx, d in np.ndenumerate(mesh.devices)
            if d.process_index == here
        }
        self.local_data = max(1, len(coords))
        #: Each param's sharding, set by :func:`choose_placement` before :meth:`place`.
        self.shardings: dict[str, NamedSharding] = {}

    # -- params and optimizer state -----------------------------------------------------

    def spec_sharding(self, path: str, value: Any, spec: Any) -> NamedSharding:
        """``spec`` (a PartitionSpec or a NamedSharding) on this mesh, checked for ``value``."""
        if isinstance(spec, NamedSharding):
            spec = spec.spec
        if not isinstance(spec, PartitionSpec):
            raise InvalidArgumentTypeError(
                f"the sharding of param {path!r} must be a PartitionSpec or a "
                f"NamedSharding, got {type(spec).__name__}."
            )
        shape = np.shape(value)
        shown = "P(" + ", ".join(repr(e) for e in spec) + ")"
        if len(spec) > len(shape):
            raise InvalidArgumentError(
                f"the sharding {shown} of param {path!r} has {len(spec)} entries but the "
                f"param has rank {len(shape)} (shape {shape}); give one entry per dimension."
            )
        names = tuple(str(a) for a in self.mesh.axis_names)
        used = [a for entry in spec for a in _axes(entry)]
        twice = sorted({a for a in used if used.count(a) > 1})
        if twice:
            raise InvalidArgumentError(
                f"the sharding {shown} of param {path!r} uses mesh axis {twice[0]!r} for "
                "two dimensions; a mesh axis can split one dimension of a param only. "
                "Split the other dimension over another axis, or leave it unsplit (None)."
            )
        for dim, entry in enumerate(spec):
            axes = _axes(entry)
            missing = [a for a in axes if a not in names]
            if missing:
                raise InvalidArgumentError(
                    f"the sharding {shown} of param {path!r} names mesh axis "
                    f"{missing[0]!r}, but the mesh has only the axes {names}. Name one "
                    "of them, or leave that dimension unsplit (None)."
                )
            size = math.prod(self.mesh.shape[a] for a in axes)
            if shape[dim] % size:
                raise InvalidArgumentError(
                    f"param {path!r} of shape {shape} cannot be split on dimension {dim} "
                    f"(size {shape[dim]}) over mesh axes {axes} ({size} devices): the size "
                    f"must be a multiple of {size}. Leave that dimension unsplit (None) "
                    "or pick a mesh that divides it."
                )
        return NamedSharding(self.mesh, spec)

    def param_shardings(
        self,
        params: Mapping[str, Any],
        given: Mapping[str, Any] | None,
        derived: Mapping[str, Any] | None,
    ) -> dict[str, NamedSharding]:
        """Each param's sharding: ``given``, else its own (already sharded), else ``derived``.

        ``derived`` holds the shardings from the model's annotations; a param
        none of them covers is replicated.
        """
        given = dict(given or {})
        unknown = sorted(set(given) - set(params))
        if unknown:
            raise InvalidArgumentError(
                f"param_shardings names {unknown[:3]}, which are not params of this "
                f"model (its params: {sorted(params)[:3]}...). Use the paths init "
                "returned."
            )
        out: dict[str, NamedSharding] = {}
        for path, value in params.items():
            own = getattr(value, "sharding", None)
            if path in given:
                spec = given[path]
            elif isinstance(own, NamedSharding) and any(e is not None for e in own.spec):
                spec = own
            elif derived is not None and path in derived:
                spec = derived[path]
            else:
                spec = PartitionSpec()
            out[path] = self.spec_sharding(path, value, spec)
        return out

    def put(self, value: Any, sharding: NamedSharding) -> jax.Array:
        """``value`` placed in ``sharding``; only each device's part is copied."""
        if isinstance(value, jax.Array) and value.sharding == sharding:
            return value
        local = isinstance(value, jax.Array) and value.is_fully_addressable
        if local and sharding.is_fully_addressable:
            out: jax.Array = jax.device_put(value, sharding)
            return out
        host = to_numpy(value)
        return jax.make_array_from_callback(host.shape, sharding, lambda i: host[i])

    def opt_shardings(self, opt_state: Any, params: Mapping[str, Any]) -> Any:
        """Shardings for ``opt_state``, like the params its leaves mirror.

        A leaf under a param's path, of its shape (adam's moments), is sharded
        like the param; every other leaf (step counts) is replicated.
        """

        def pick(path: Any, leaf: Any) -> NamedSharding:
            key = getattr(path[-1], "key", None) if path else None
            if isinstance(key, str) and key in params and np.shape(leaf) == np.shape(params[key]):
                return self.shardings[key]
            return self.replicated

        return jax.tree_util.tree_map_with_path(pick, opt_state)

    def place(self, trees: Trees, optimizer: Any, loss_scale: Any) -> Trees:
        """Places the params by :attr:`shardings`, the rest replicated.

        The optimizer state is sharded like the params it mirrors (made so
        when ``None``); the model state and the key are replicated.
        """
        shardings = self.shardings
        trainable = {k: self.put(v, shardings[k]) for k, v in trees.trainable.items()}
        fixed = {k: self.put(v, shardings[k]) for k, v in trees.fixed.items()}
        opt_state = trees.opt_state
        if opt_state is None:
            shapes = jax.eval_shape(optimizer.init, trainable)
            out = self.opt_shardings(shapes, trainable)
            opt_state = jax.jit(optimizer.init, out_shardings=out)(trainable)
        else:
            out = self.opt_shardings(opt_state, trainable)
            opt_state = jax.tree_util.tree_map(self.put, opt_state, out)
        opt_state = init_opt_state(optimizer, trainable, opt_state, loss_scale)
        state = trees.state
        if state is not None:
            state = {k: self.put(v, self.replicated) for k, v in state.items()}
        key = None if trees.key is None else jax.device_put(trees.key, self.replicated)
        return Trees(trainable, fixed, opt_state, state, key)

    def snapshot(self, trees: Trees) -> dict[str, Any]:
        """The sharded arrays themselves: orbax writes each device's shard, nothing is gathered."""
        return snapshot_of(trees, lambda tree: tree)

    def jit_options(self, trees: Trees) -> dict[str, Any]:
        """The chunk's outputs keep the inputs' shardings."""

        def shard(tree: Any) -> Any:
            return jax.tree_util.tree_map(lambda x: x.sharding, tree)

        out = (shard(trees.trainable), shard(trees.opt_state), shard(trees.state))
        return {"out_shardings": (*out, self.replicated, self.replicated)}

    # -- batches and reading back --------------------------------------------------------

    def _split(self, tree: Any, axis: int, sharding: NamedSharding) -> Any:
        n_proc_parts = self.data_size // self.local_data

        def put(x: Any) -> jax.Array:
            x = np.asarray(x)
            if x.ndim <= axis or x.shape[axis] % self.local_data:
                where = "each process's part of the batch" if jax.process_count() > 1 else "it"
                raise InvalidArgumentError(
                    f"a batch leaf of shape {x.shape[axis:]} cannot be split over the "
                    f"data axis {self.batch_axes} of the mesh ({self.data_size} shards, "
                    f"{self.local_data} in this process): the examples on its first "
                    f"axis must be a multiple of {self.local_data} in {where}. Pick a "
                    "batch size that is a multiple of it, or a mesh with a smaller data "
                    "axis."
                )
            shape = list(x.shape)
            shape[axis] *= n_proc_parts
            out: jax.Array = jax.make_array_from_process_local_data(sharding, x, tuple(shape))
            return out

        return jax.tree_util.tree_map(put, tree)

    def batch(self, tree: Any) -> Any:
        """Splits every leaf of ``tree`` on its first axis over the data axis."""
        return self._split(tree, 0, self.split)

    def stacked_batch(self, tree: Any) -> Any:
        """Splits stacked batches (steps on axis 0) on axis 1 over the data axis."""
        return self._split(tree, 1, self.split_stacked)

    @staticmethod
    def to_host(tree: Any) -> Any:
        """Copies ``tree`` to this host as numpy arrays (sharded ones gathered)."""
        return jax.tree_util.tree_map(to_numpy, tree)


def _auto(mesh: Mesh) -> Mesh:
    """``mesh`` with every axis in Auto mode.

    Newer ``jax.make_mesh`` makes Explicit axes, whose shardings are part of
    the types; here the compiler places the intermediate values, not the
    model's code.
    """
    types = getattr(mesh, "axis_types", None)
    auto = getattr(jax.sharding, "AxisType", None)
    if types is None or auto is None or all(t == auto.Auto for t in types):
        return mesh
    return Mesh(mesh.devices, mesh.axis_names, axis_types=(auto.Auto,) * len(types))
