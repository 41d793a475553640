"""What every placement of a run offers: the trees it places, and the interface."""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from minihaiku.training._freeze import merge

__all__ = ["Placement", "Trees"]


class Trees(NamedTuple):
    """The arrays a run carries from step to step."""

    trainable: dict[str, Any]
    fixed: dict[str, Any]
    opt_state: Any
    state: Any
    key: Any


class Placement(Protocol):
    """Where a run's arrays live, and how they move to and from the devices.

    Three kinds: :class:`~minihaiku.training._placement.single.SingleDevice`,
    :class:`~minihaiku.training.DataParallel` (a mesh over one data axis,
    params replicated) and :class:`~minihaiku.training._placement.mesh.MeshPlan`.
    """

    #: Batches are split over several devices (no gathering on one device).
    splits_batches: bool

    def place(self, trees: Trees, optimizer: Any, loss_scale: Any) -> Trees:
        """``trees`` on the devices; a ``None`` optimizer state is made there."""
        ...

    def batch(self, tree: Any) -> Any:
        """One batch on the devices."""
        ...

    def stacked_batch(self, tree: Any) -> Any:
        """Stacked batches (steps on axis 0) on the devices."""
        ...

    def to_host(self, tree: Any) -> Any:
        """``tree`` copied to this host as numpy arrays."""
        ...

    def snapshot(self, trees: Trees) -> dict[str, Any]:
        """The trees a checkpoint or the result holds."""
        ...

    def jit_options(self, trees: Trees) -> dict[str, Any]:
        """``jax.jit`` options for the chunk program taking ``trees``."""
        ...


def snapshot_of(trees: Trees, get: Any) -> dict[str, Any]:
    """``{"params", "opt_state"[, "state"]}`` of ``trees``, each read with ``get``."""
    out = {
        "params": merge(get(trees.trainable), get(trees.fixed)),
        "opt_state": get(trees.opt_state),
    }
    if trees.state is not None:
        out["state"] = get(trees.state)
    return out
