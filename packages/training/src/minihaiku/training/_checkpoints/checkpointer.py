"""Checkpoints with orbax-checkpoint: atomic, verified, locked saves; exact resume."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from minihaiku.training._checkpoints.digest import tree_digest
from minihaiku.training._checkpoints.dirs import ensure_writable_dir
from minihaiku.training._checkpoints.lock import DirectoryLock
from minihaiku.training._checkpoints.quiet import quiet_orbax
from minihaiku.training._errors import CheckpointError
from minihaiku.training._transfer import saveable

__all__ = ["Checkpointer", "Restored"]

# 2: with sha256 digests of every saved tree; 1: minihaiku-training 0.1.0,
# without digests (still restored, unverified).
_FORMAT = 2
_FORMATS = (1, 2)


@dataclass
class Restored:
    """What a checkpoint holds."""

    params: dict[str, jax.Array]
    opt_state: Any
    step: int
    losses: list[float]


def _describe(params: Any) -> dict[str, list[Any]]:
    """``{path: [shape, dtype]}``; dm-haiku's nested params by ``module/name`` paths."""
    out: dict[str, list[Any]] = {}
    for k, v in params.items():
        inner = v.items() if isinstance(v, Mapping) else [(None, v)]
        for n, leaf in inner:
            out[k if n is None else f"{k}/{n}"] = [list(np.shape(leaf)), str(leaf.dtype)]
    return out


def _losses_digest(losses: list[float]) -> str:
    return tree_digest(np.asarray(losses, np.float64))


class Checkpointer:
    """Saves and restores training state in a directory, one folder per step.

    Saves are atomic (orbax writes a temporary folder and renames it), so a
    crash mid-save leaves the previous checkpoints intact. Each save records a
    sha256 digest of every tree it holds, checked on restore, so a damaged
    checkpoint is an error, never silently different numbers. The directory is
    checked for writability at once and locked (see :class:`DirectoryLock`)
    until :meth:`close`, so two runs never write into one directory.

    Args:
      directory: where the checkpoints live (created if missing).
      max_to_keep: how many recent checkpoints to keep.

    Raises:
      CheckpointError: the directory cannot be written, or another process
        holds it.

    Examples:
      >>> ckpt = Checkpointer("/tmp/run/checkpoints")  # doctest: +SKIP
      >>> trees = {"params": params, "opt_state": opt_state}  # doctest: +SKIP
      >>> ckpt.save_trees(100, trees, losses)  # doctest: +SKIP
    """

    def __init__(self, directory: str | Path, max_to_keep: int = 3) -> None:
        import orbax.checkpoint as ocp

        self._ocp = ocp
        self.directory = ensure_writable_dir(directory, "the checkpoint directory", CheckpointError)
        # One lock per run: across hosts every process opens the directory,
        # the first one holds it.
        self._lock = DirectoryLock(self.directory) if jax.process_index() == 0 else None
        if self._lock is not None:
            self._lock.acquire()
        try:
            self._manager = ocp.CheckpointManager(
                self.directory,
                options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
                item_names=("state", "meta"),
            )
        except Exception as e:
            self._release()
            raise CheckpointError(
                f"cannot open the checkpoint directory {self.directory} ({type(e).__name__}: {e})."
            ) from e

    def latest_step(self) -> int | None:
        """The step of the newest checkpoint, or ``None`` if there is none."""
        return self._manager.latest_step()  # type: ignore[no-any-return]

    def save_trees(
        self,
        step: int,
        trees: Mapping[str, Any],
        losses: list[float],
        order: Mapping[str, Any] | None = None,
    ) -> None:
        """Saves named pytrees (params, opt_state, model state, ...) at ``step``.

        Each tree's digest goes into the checkpoint's JSON metadata, and so
        does ``order``, the record of what decides the run's batch order
        (``restore_trees``' metadata has it as ``"order"``, absent if not given).
        """
        ocp = self._ocp
        meta: dict[str, Any] = {
            "format": _FORMAT,
            "step": int(step),
            "losses": [float(x) for x in losses],
            "digests": {name: tree_digest(tree) for name, tree in trees.items()},
        }
        meta["digests"]["losses"] = _losses_digest(meta["losses"])
        if "params" in trees:
            meta["params"] = _describe(trees["params"])
        if order is not None:
            meta["order"] = dict(order)
        try:
            self._manager.save(
                int(step),
                args=ocp.args.Composite(
                    state=ocp.args.StandardSave(saveable(dict(trees))),
                    meta=ocp.args.JsonSave(meta),
                ),
                force=True,
            )
            self._manager.wait_until_finished()
        except Exception as e:
            raise CheckpointError(
                f"saving the checkpoint at step {step} into {self.directory} failed "
                f"({type(e).__name__}: {e}). Check the disk space and permissions; "
                "the checkpoints saved before are kept."
            ) from e

    def restore(self, params: Any, opt_state: Any, step: int | None = None) -> Restored:
        """Restores the newest (or the given) checkpoint into the given structures.

        Args:
          params: the freshly initialized params; the checkpoint must have the
            same paths, shapes and dtypes.
          opt_state: the freshly initialized optimizer state, of the same
            structure as the saved one.
          step: which checkpoint; default the newest.

        Raises:
          CheckpointError: there is no checkpoint, it cannot be read, it is
            corrupt (its digest does not match), or it does not match
            ``params`` / ``opt_state``.
        """
        trees, meta = self.restore_trees({"params": params, "opt_state": opt_state}, step)
        return Restored(
            dict(trees["params"]), trees["opt_state"], int(meta["step"]), meta["losses"]
        )

    def restore_trees(
        self, targets: Mapping[str, Any], step: int | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Restores named pytrees into ``targets``' structures; returns them and the metadata."""
        if step is None:
            step = self.latest_step()
        if step is None:
            raise CheckpointError(
                f"there is no checkpoint in {self.directory} to resume from. Run "
                "without resume to start a new run, or point to the directory of "
                "an earlier run."
            )
        where = f"checkpoint at step {step} in {self.directory}"
        todo = (
            f"Resume an earlier checkpoint (delete {self.directory / str(step)} to fall "
            "back to the one before), or start afresh in another directory."
        )
        meta = self._read_meta(step, where, todo)
        if "params" in targets:
            self._check_params(where, meta.get("params", {}), _describe(targets["params"]))
        ocp = self._ocp
        try:
            with quiet_orbax():
                state = self._manager.restore(
                    step,
                    args=ocp.args.Composite(state=ocp.args.StandardRestore(dict(targets))),
                )["state"]
        except Exception as e:
            raise CheckpointError(
                f"{where} cannot be restored into this model and optimizer "
                f"({type(e).__name__}: {e}). It is corrupt, or it was written with "
                "another model or optimizer: resume with the settings that wrote it. " + todo
            ) from e
        trees = {name: state[name] for name in targets}
        for name in targets:
            if name != "params":
                self._check_tree(where, name, trees[name], targets[name])
        losses = meta.get("losses", [])
        if meta["format"] >= 2:
            digests = meta.get("digests", {})
            got = {name: tree_digest(tree) for name, tree in trees.items()}
            got["losses"] = _losses_digest(losses)
            for name, digest in got.items():
                if digests.get(name) != digest:
                    raise CheckpointError(
                        f"{where} is corrupt: its {name} read back differ from what "
                        f"was saved (sha256 digest mismatch). {todo}"
                    )
        if not all(math.isfinite(x) for x in losses[-1:]):
            raise CheckpointError(f"{where} records a non-finite loss; it is not usable. {todo}")
        return trees, meta

    def _read_meta(self, step: int, where: str, todo: str) -> dict[str, Any]:
        ocp = self._ocp
        try:
            with quiet_orbax():
                meta = self._manager.restore(
                    step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())
                )["meta"]
        except Exception as e:
            raise CheckpointError(
                f"{where} cannot be read ({type(e).__name__}: {e}). It is corrupt "
                f"or was not written by minihaiku.training. {todo}"
            ) from e
        if (
            not isinstance(meta, dict)
            or meta.get("format") not in _FORMATS
            or not isinstance(meta.get("step"), int)
            or not isinstance(meta.get("losses"), list)
        ):
            raise CheckpointError(
                f"{where} has no minihaiku metadata (format {_FORMAT}); it was not "
                f"written by minihaiku.training or is corrupt. {todo}"
            )
        return meta

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
    def _check_tree(where: str, name: str, got: Any, want: Any) -> None:
        got_leaves, got_def = jax.tree_util.tree_flatten(got)
        want_leaves, want_def = jax.tree_util.tree_flatten(want)
        same = got_def == want_def and all(  # type: ignore[operator]
            np.shape(a) == np.shape(b) for a, b in zip(got_leaves, want_leaves, strict=True)
        )
        if not same:
            what = "an optimizer state" if name == "opt_state" else f"a {name}"
            raise CheckpointError(
                f"{where} holds {what} of another structure than this run's. "
                "Resume with the optimizer and model that wrote it."
            )

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def close(self) -> None:
        """Waits for pending saves, releases the manager and the directory lock."""
        try:
            self._manager.wait_until_finished()
            self._manager.close()
        finally:
            self._release()
