"""Checkpoints with orbax-checkpoint: atomic saves, exact resume, clear errors."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from minihaiku.training._errors import CheckpointError

__all__ = ["Checkpointer", "Restored"]

_FORMAT = 1


@dataclass
class Restored:
    """What a checkpoint holds."""

    params: dict[str, jax.Array]
    opt_state: Any
    step: int
    losses: list[float]


def _describe(params: Any) -> dict[str, list[Any]]:
    return {k: [list(v.shape), str(v.dtype)] for k, v in params.items()}


class Checkpointer:
    """Saves and restores training state in a directory, one folder per step.

    Saves are atomic (orbax writes a temporary folder and renames it), so a
    crash mid-save leaves the previous checkpoints intact.

    Args:
      directory: where the checkpoints live (created if missing).
      max_to_keep: how many recent checkpoints to keep.

    Examples:
      >>> ckpt = Checkpointer("/tmp/run/checkpoints")  # doctest: +SKIP
      >>> ckpt.save(100, params, opt_state, losses)  # doctest: +SKIP
    """

    def __init__(self, directory: str | Path, max_to_keep: int = 3) -> None:
        import orbax.checkpoint as ocp

        self._ocp = ocp
        self.directory = Path(directory).absolute()
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
            item_names=("state", "meta"),
        )

    def latest_step(self) -> int | None:
        """The step of the newest checkpoint, or ``None`` if there is none."""
        return self._manager.latest_step()  # type: ignore[no-any-return]

    def save(self, step: int, params: Any, opt_state: Any, losses: list[float]) -> None:
        """Saves the state at ``step`` and waits until it is on disk."""
        ocp = self._ocp
        meta = {
            "format": _FORMAT,
            "step": int(step),
            "losses": [float(x) for x in losses],
            "params": _describe(params),
        }
        self._manager.save(
            int(step),
            args=ocp.args.Composite(
                state=ocp.args.StandardSave({"params": params, "opt_state": opt_state}),
                meta=ocp.args.JsonSave(meta),
            ),
            force=True,
        )
        self._manager.wait_until_finished()

    def restore(self, params: Any, opt_state: Any, step: int | None = None) -> Restored:
        """Restores the newest (or the given) checkpoint into the given structures.

        Args:
          params: the freshly initialized params; the checkpoint must have the
            same paths, shapes and dtypes.
          opt_state: the freshly initialized optimizer state, of the same
            structure as the saved one.
          step: which checkpoint; default the newest.

        Raises:
          CheckpointError: there is no checkpoint, it cannot be read, or it
            does not match ``params`` / ``opt_state``.
        """
        ocp = self._ocp
        if step is None:
            step = self.latest_step()
        if step is None:
            raise CheckpointError(
                f"there is no checkpoint in {self.directory} to resume from. Run "
                "without resume to start a new run, or point to the directory of "
                "an earlier run."
            )
        where = f"checkpoint at step {step} in {self.directory}"
        try:
            meta = self._manager.restore(
                step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())
            )["meta"]
        except Exception as e:
            raise CheckpointError(
                f"{where} cannot be read ({type(e).__name__}: {e}). It is corrupt "
                "or was not written by minihaiku.training; delete it to fall back "
                "to an older checkpoint, or start a new run in another directory."
            ) from e
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise CheckpointError(
                f"{where} has no minihaiku metadata (format {_FORMAT}); it was not "
                "written by minihaiku.training or is corrupt."
            )
        self._check_params(where, meta.get("params", {}), _describe(params))
        try:
            state = self._manager.restore(
                step,
                args=ocp.args.Composite(
                    state=ocp.args.StandardRestore({"params": params, "opt_state": opt_state})
                ),
            )["state"]
        except Exception as e:
            raise CheckpointError(
                f"{where} cannot be restored into this model and optimizer "
                f"({type(e).__name__}: {e}). Was it written with another "
                "optimizer? Resume with the same settings, or start a new run in "
                "another directory."
            ) from e
        self._check_tree(where, state["opt_state"], opt_state)
        losses = meta.get("losses", [])
        if not all(math.isfinite(x) for x in losses[-1:]):
            raise CheckpointError(f"{where} records a non-finite loss; it is not usable.")
        return Restored(dict(state["params"]), state["opt_state"], int(meta["step"]), losses)

    @staticmethod
    def _check_params(where: str, saved: dict[str, Any], want: dict[str, Any]) -> None:
        if saved == want:
            return
        missing = sorted(set(want) - set(saved))
        extra = sorted(set(saved) - set(want))
        differ = sorted(k for k in set(want) & set(saved) if want[k] != saved[k])
        parts = []
        if missing:
            parts.append(f"the model has params the checkpoint lacks: {missing[:5]}")
        if extra:
            parts.append(f"the checkpoint has params the model lacks: {extra[:5]}")
        for k in differ[:5]:
            parts.append(f"{k!r} is {saved[k]} in the checkpoint but {want[k]} in the model")
        raise CheckpointError(
            f"{where} does not match the model: " + "; ".join(parts) + ". Resume "
            "with the model that wrote it, or start a new run in another directory."
        )

    @staticmethod
    def _check_tree(where: str, got: Any, want: Any) -> None:
        got_leaves, got_def = jax.tree_util.tree_flatten(got)
        want_leaves, want_def = jax.tree_util.tree_flatten(want)
        same = got_def == want_def and all(  # type: ignore[operator]
            np.shape(a) == np.shape(b) for a, b in zip(got_leaves, want_leaves, strict=True)
        )
        if not same:
            raise CheckpointError(
                f"{where} holds an optimizer state of another structure than this "
                "optimizer's. Resume with the optimizer that wrote it."
            )

    def close(self) -> None:
        """Waits for pending saves and releases the manager."""
        self._manager.wait_until_finished()
        self._manager.close()
