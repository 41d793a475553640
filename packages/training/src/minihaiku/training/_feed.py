"""Sends each chunk's batches to the device(s): stacked on the host, or gathered on the device.

In-memory arrays (``batch_size=``) up to :data:`DEVICE_GATHER_BYTES` are copied
to the device once; each chunk then gets only the ``(steps, batch_size)``
example indices and gathers its batches inside the compiled loop (no host-side
stacking, a few hundred bytes per step sent). Larger arrays, iterators and data
parallel runs stack each chunk's batches on the host and send the stack while
the previous chunk runs. Every chunk's stack holds ``capacity`` steps (a short
chunk's is padded with its last batch, or last index row), so one compiled
program serves all chunks of a run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from minihaiku.training._data import ArrayBatches, Source, _DryError

__all__ = ["DEVICE_GATHER_BYTES", "Feeder"]

#: In-memory data up to this size (all arrays together) is kept on the device.
DEVICE_GATHER_BYTES = 256 * 2**20


class Feeder:
    """The ``data`` argument of each chunk, and the batch of the last step.

    Args:
      source: where the batches come from.
      place: sends one batch (a full batch, the final minibatch) to the device(s).
      place_stack: sends a stack of batches (steps on axis 0).
      parallel: the run is data parallel (batches split over devices).
      capacity: the steps of every stack (the largest chunk); shorter chunks
        are padded by repeating their last batch.
    """

    def __init__(
        self,
        source: Source,
        place: Callable[[Any], Any],
        place_stack: Callable[[Any], Any],
        parallel: bool,
        capacity: int = 1,
    ) -> None:
        self.source = source
        self.capacity = capacity
        self._place = place
        self._place_stack = place_stack
        self.gather = (
            isinstance(source, ArrayBatches)
            and not parallel
            and sum(x.nbytes for x in jax.tree_util.tree_leaves(source.data)) <= DEVICE_GATHER_BYTES
        )
        self._table = place(source.data) if self.gather else None  # type: ignore[union-attr]
        self.fixed = None if source.stacked else place(source.example())
        self.dry: _DryError | None = None

    def fetch(self, at: int, n: int | None) -> Any:
        """The data of the chunk of steps ``at`` to ``at + n - 1`` (``None``: ran dry)."""
        if n is None or not self.source.stacked:
            return self.fixed
        if self.gather:
            assert isinstance(self.source, ArrayBatches)
            return self._table, jax.device_put(self._pad(self.source.take_indices(at, n)))
        try:
            return self._place_stack(self._pad(self.source.take(at, n)))  # type: ignore[union-attr]
        except _DryError as e:
            self.dry = e
            return None

    def _pad(self, stack: Any) -> Any:
        """``stack`` (steps on axis 0) padded to ``capacity`` steps with its last row."""

        def pad(x: np.ndarray) -> np.ndarray:
            short = self.capacity - x.shape[0]
            return np.concatenate([x, np.repeat(x[-1:], short, 0)]) if short > 0 else x

        return jax.tree_util.tree_map(pad, stack)

    def last(self, data: Any) -> Any:
        """The batch of the last step of a chunk given ``data`` (for the final loss).

        The padding repeats a chunk's last batch, so the last row is that batch.
        """
        if not self.source.stacked:
            return self.fixed
        if self.gather:
            assert isinstance(self.source, ArrayBatches)
            idx = np.asarray(data[1][-1])
            return self._place(jax.tree_util.tree_map(lambda x: x[idx], self.source.data))
        return jax.tree_util.tree_map(lambda x: x[-1], data)
