"""One device: the default placement of a run."""

from __future__ import annotations

from typing import Any

import jax

from minihaiku.training._loss_scale import init_opt_state
from minihaiku.training._placement.base import Trees, snapshot_of

__all__ = ["SingleDevice"]


class SingleDevice:
    """Everything on JAX's default device; batches are put there whole.

    Examples:
      >>> from minihaiku.training._placement.single import SingleDevice
      >>> SingleDevice().to_host({"w": jnp.ones(2)})["w"]
      array([1., 1.], dtype=float32)
    """

    splits_batches = False

    def place(self, trees: Trees, optimizer: Any, loss_scale: Any) -> Trees:
        """``trees`` on the default device, the optimizer state made when ``None``."""
        opt_state = init_opt_state(optimizer, trees.trainable, trees.opt_state, loss_scale)
        placed: Trees = jax.device_put(trees._replace(opt_state=opt_state))
        return Trees(*placed)

    @staticmethod
    def batch(tree: Any) -> Any:
        """``tree`` on the default device."""
        return jax.device_put(tree)

    stacked_batch = batch

    @staticmethod
    def to_host(tree: Any) -> Any:
        """``tree`` as numpy arrays on this host."""
        return jax.device_get(tree)

    def snapshot(self, trees: Trees) -> dict[str, Any]:
        """Host copies of the params and states."""
        return snapshot_of(trees, self.to_host)

    @staticmethod
    def jit_options(trees: Trees) -> dict[str, Any]:
        """No options: the compiler keeps everything on the one device."""
        return {}
