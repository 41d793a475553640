"""Data parallelism with ``jax.sharding``: params replicated, batch sharded."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from minihaiku.core import InvalidArgumentError
from minihaiku.training._loss_scale import init_opt_state
from minihaiku.training._placement.base import Trees, snapshot_of

__all__ = ["DataParallel"]


class DataParallel:
    """Places params (replicated) and batches (split on axis 0) over all devices.

    Works in one process (all local devices) and across processes started with
    ``jax.distributed.initialize``: each process passes its own part of the
    batch, and the params, which every process holds in full. It is the
    placement of ``train(data_parallel=True)``: a mesh over one data axis.

    Examples:
      >>> dp = DataParallel()
      >>> x = dp.batch(np.ones((8, 1), np.float32))
    """

    def __init__(self, devices: list[jax.Device] | None = None) -> None:
        self.devices = list(devices if devices is not None else jax.devices())
        self.mesh = Mesh(np.array(self.devices), ("data",))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.split = NamedSharding(self.mesh, PartitionSpec("data"))

    #: Batches are split over the devices.
    splits_batches = True

    @property
    def size(self) -> int:
        """How many devices take part."""
        return len(self.devices)

    def params(self, tree: Any) -> Any:
        """Places every leaf of ``tree`` on every device (replicated)."""
        return jax.tree_util.tree_map(
            lambda x: jax.make_array_from_process_local_data(
                self.replicated, np.asarray(x), np.shape(x)
            ),
            tree,
        )

    def batch(self, tree: Any) -> Any:
        """Splits every leaf of ``tree`` on its first axis across the devices.

        In a multi-process run each process passes its own part; the global
        batch is the parts in process order.
        """
        n_proc = jax.process_count()
        local = len([d for d in self.devices if d.process_index == jax.process_index()])

        def put(x: Any) -> jax.Array:
            x = np.asarray(x)
            if x.ndim == 0 or x.shape[0] % local:
                raise InvalidArgumentError(
                    f"a batch leaf of shape {x.shape} cannot be split over "
                    f"{local} local devices: its first axis must be a multiple of "
                    f"{local}. Trim or pad the batch, or train on one device "
                    "(data_parallel=False)."
                )
            global_shape = (x.shape[0] * n_proc, *x.shape[1:])
            out: jax.Array = jax.make_array_from_process_local_data(self.split, x, global_shape)
            return out

        return jax.tree_util.tree_map(put, tree)

    def stacked_batch(self, tree: Any) -> Any:
        """Splits stacked batches (steps on axis 0, examples on axis 1) on axis 1.

        Examples:
          >>> dp = DataParallel()
          >>> x = dp.stacked_batch(np.ones((3, 8, 1), np.float32))
          >>> x.shape
          (3, 8, 1)
        """
        n_proc = jax.process_count()
        local = len([d for d in self.devices if d.process_index == jax.process_index()])
        split = NamedSharding(self.mesh, PartitionSpec(None, "data"))

        def put(x: Any) -> jax.Array:
            x = np.asarray(x)
            if x.ndim < 2 or x.shape[1] % local:
                raise InvalidArgumentError(
                    f"a batch leaf of shape {x.shape[1:]} cannot be split over "
                    f"{local} local devices: its first axis must be a multiple of "
                    f"{local}. Pick a batch size that is a multiple of {local}, or "
                    "train on one device (data_parallel=False)."
                )
            global_shape = (x.shape[0], x.shape[1] * n_proc, *x.shape[2:])
            out: jax.Array = jax.make_array_from_process_local_data(split, x, global_shape)
            return out

        return jax.tree_util.tree_map(put, tree)

    @staticmethod
    def to_host(tree: Any) -> Any:
        """Copies replicated arrays back to this host as numpy arrays."""
        return jax.tree_util.tree_map(
            lambda x: (
                np.asarray(x.addressable_shards[0].data)
                if isinstance(x, jax.Array) and not x.is_fully_addressable
                else np.asarray(x)
            ),
            tree,
        )

    def place(self, trees: Trees, optimizer: Any, loss_scale: Any) -> Trees:
        """``trees`` replicated on every device, the optimizer state made when ``None``."""
        opt_state = init_opt_state(optimizer, trees.trainable, trees.opt_state, loss_scale)
        trainable, fixed, opt_state, state = self.params(
            (trees.trainable, trees.fixed, opt_state, trees.state)
        )
        key = None if trees.key is None else jax.device_put(trees.key, self.replicated)
        return Trees(trainable, fixed, opt_state, state, key)

    def snapshot(self, trees: Trees) -> dict[str, Any]:
        """Host copies of the (replicated) params and states."""
        return snapshot_of(trees, self.to_host)

    @staticmethod
    def jit_options(trees: Trees) -> dict[str, Any]:
        """No options: the outputs follow the replicated inputs."""
        return {}
