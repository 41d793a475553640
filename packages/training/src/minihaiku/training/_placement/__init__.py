"""Where a run's arrays live: one device, data parallel (a one-axis mesh), or a mesh.

Every placement offers the one interface of :class:`base.Placement`: place
the params and states, put batches, read trees back for checkpoints and
results, and give the chunk's ``jax.jit`` options.
"""

from minihaiku.training._placement.base import Placement, Trees
from minihaiku.training._placement.choose import Chosen, choose_placement
from minihaiku.training._placement.data_parallel import DataParallel
from minihaiku.training._placement.mesh import MeshPlan, Rules
from minihaiku.training._placement.single import SingleDevice

__all__ = [
    "Chosen",
    "DataParallel",
    "MeshPlan",
    "Placement",
    "Rules",
    "SingleDevice",
    "Trees",
    "choose_placement",
]
