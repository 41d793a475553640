"""What decides a run's batch order, recorded in its checkpoints and checked on resume.

A resumed run must see exactly the batches of an uninterrupted one; that holds
only if the data arguments that decide the order are the same. The record is
a small JSON dict in each checkpoint's metadata (checkpoints written before it
existed have none, and resume unchecked).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from minihaiku.training._data import ArrayBatches, FullBatch, Source
from minihaiku.training._errors import CheckpointError

__all__ = ["batch_order", "check_same_order", "describe_order"]


def batch_order(source: Source, seed: int, keyed: bool) -> dict[str, Any]:
    """The record of what decides the batches (and keys) each step gets.

    ``keyed``: the loss takes a key, so ``seed`` decides the keys too.

    Examples:
      >>> import numpy as np
      >>> from minihaiku.training._data import ArrayBatches
      >>> batch_order(ArrayBatches(np.zeros((10, 2)), 4, 3), 3, keyed=False)
      {'data': 'minibatches', 'batch_size': 4, 'examples': 10, 'seed': 3}
    """
    order: dict[str, Any]
    if isinstance(source, ArrayBatches):
        order = {"data": "minibatches", "batch_size": source.batch_size, "examples": source.n}
    elif isinstance(source, FullBatch):
        order = {"data": "full batch"}
    else:
        order = {"data": "iterator"}
    if isinstance(source, ArrayBatches) or keyed:
        order["seed"] = seed
    return order


def describe_order(order: Mapping[str, Any]) -> str:
    """The record in words, e.g. ``minibatches (batch_size=32 of 256 examples, seed=0)``."""
    if order.get("data") == "minibatches":
        what = (
            f"minibatches (batch_size={order.get('batch_size')} of {order.get('examples')} examples"
        )
    elif order.get("data") == "full batch":
        what = "one full batch (no batch_size"
    else:
        what = "an iterator of batches (no batch_size"
    seed = f", seed={order['seed']}" if "seed" in order else ""
    return f"{what}{seed})"


def check_same_order(
    saved: Any, now: Mapping[str, Any], step: int, directory: Path, allowed: bool
) -> None:
    """Refuses to resume the checkpoint of ``step`` on another batch order than ``saved``.

    ``saved`` is ``None`` for checkpoints written before the order was
    recorded: they resume unchecked. ``allowed`` (``train``'s
    ``allow_order_change``) continues on the new order.
    """
    if saved is None or allowed or dict(saved) == dict(now):
        return
    raise CheckpointError(
        f"the checkpoint of step {step} in {directory} was trained on "
        f"{describe_order(saved)}, this run on {describe_order(now)}: the resumed run "
        "would not see the batches of an uninterrupted run. Pass the data, batch_size "
        "and seed of the run that wrote the checkpoint, or allow_order_change=True to "
        "continue on the new order."
    )
