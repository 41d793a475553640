"""The metrics history as JSON lines next to the checkpoints (``history.jsonl``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["HISTORY_NAME", "History"]

HISTORY_NAME = "history.jsonl"


class History:
    """Appends one line per step ``{"step", "loss", <metric>...}`` and per evaluation.

    An evaluation line is ``{"step": s, "eval": {...}}``. A resumed run first
    drops the lines of steps from ``start`` on (written after the checkpoint it
    resumes), so the file always tells one run's story.

    Examples:
      >>> import tempfile
      >>> from minihaiku.training._history import History
      >>> h = History(tempfile.mkdtemp(), start=0)
      >>> h.steps(0, [0.5, 0.25], {"accuracy": [0.5, 0.75]}, 2)
      >>> h.path.read_text().splitlines()[1]
      '{"step": 1, "loss": 0.25, "accuracy": 0.75}'
    """

    def __init__(self, directory: str | Path, start: int) -> None:
        self.path = Path(directory) / HISTORY_NAME
        self.start = start
        self.written = start
        if self.path.exists():
            kept = [line for line in self.path.read_text().splitlines() if _before(line, start)]
            self.path.write_text("".join(f"{line}\n" for line in kept))

    def steps(
        self,
        start: int,
        losses: Sequence[float],
        metrics: Mapping[str, Sequence[float]],
        upto: int,
    ) -> None:
        """Appends the steps from the last written one to ``upto``.

        ``losses`` counts from step 0, ``metrics`` from step ``start``.
        """
        with self.path.open("a") as f:
            for i in range(self.written, upto):
                line = {"step": i, "loss": losses[i]}
                line.update({k: v[i - start] for k, v in metrics.items()})
                f.write(json.dumps(line) + "\n")
        self.written = upto

    def evaluation(self, step: int, values: Mapping[str, float]) -> None:
        """Appends an evaluation line."""
        with self.path.open("a") as f:
            f.write(json.dumps({"step": step, "eval": dict(values)}) + "\n")


def _before(line: str, start: int) -> bool:
    """Whether ``line`` was written before the checkpoint at ``start`` (kept on resume).

    The evaluation at a checkpoint step runs right after the save, so it is kept.
    """
    if not line.strip():
        return False
    entry = json.loads(line)
    return bool(entry["step"] < start or ("eval" in entry and entry["step"] == start))
