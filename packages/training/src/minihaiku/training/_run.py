"""One training run as an object: its phases are the methods :func:`train` calls in order."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minihaiku.core import InvalidArgumentError
from minihaiku.core.checks import check_int
from minihaiku.training._checkpoints import Checkpointer
from minihaiku.training._data import make_source
from minihaiku.training._errors import CheckpointError, NonFiniteLossError
from minihaiku.training._feed import Feeder
from minihaiku.training._freeze import (
    FrozenSpec,
    check_frozen_matches,
    flat_view,
    frozen_filter,
    merge,
    partition,
)
from minihaiku.training._history import History
from minihaiku.training._keep import save_then_raise
from minihaiku.training._loss_scale import LossScale
from minihaiku.training._losses import Loss
from minihaiku.training._order import batch_order, check_same_order
from minihaiku.training._placement import Trees, choose_placement
from minihaiku.training._plan import plan_chunks
from minihaiku.training._records import (
    Pending,
    check_finite_loss,
    close_bar,
    newest_eval,
    record,
)
from minihaiku.training._result import TrainResult
from minihaiku.training._setup import check_evaluate, default_per_dispatch
from minihaiku.training._step import check_outputs, make_chunk, normalize

__all__ = ["Run"]


class Run:
    """One call of :func:`train`: the arguments checked and the trees placed, then its phases.

    :func:`train` calls :meth:`start` (open or resume the checkpoint),
    :meth:`prepare` (the data source and the feed of the chunks),
    :meth:`run_chunks`, :meth:`finish` (final loss, last evaluation and
    save), :meth:`close` (always) and :meth:`result`.
    """

    def __init__(
        self,
        the_loss: Loss,
        params: Mapping[str, jax.Array],
        data: Any,
        optimizer: optax.GradientTransformation,
        steps: int,
        options: Mapping[str, Any],
    ) -> None:
        o = dict(options)
        self.loss, self.optimizer, self.data = the_loss, optimizer, data
        self.f = normalize(the_loss)
        self.steps = check_int(steps, "steps", "", minimum=0)
        self.seed = check_int(o["seed"], "seed", "", minimum=0)
        self.checkpoint_dir: str | Path | None = o["checkpoint_dir"]
        self.checkpoint_every = self._every(o["checkpoint_every"], "checkpoint_every")
        if self.checkpoint_every is not None and self.checkpoint_dir is None:
            raise InvalidArgumentError("checkpoint_every needs a checkpoint_dir to save into.")
        self.eval_every = self._every(o["eval_every"], "eval_every")
        self.resume: bool = o["resume"]
        if self.resume and self.checkpoint_dir is None:
            raise InvalidArgumentError("resume needs the checkpoint_dir of the run to continue.")
        self.every = math.gcd(self.checkpoint_every or 0, self.eval_every or 0) or None
        per = o["steps_per_dispatch"]
        per = default_per_dispatch(self.steps, self.every) if per is None else per
        self.per_dispatch = check_int(per, "steps_per_dispatch", "", minimum=1)
        self.progress: bool = o["progress"]
        self.report: Callable[[int, float], None] | None = o["report"]
        self.batch_size: int | None = o["batch_size"]
        self.evaluate, self.eval_data = o["evaluate"], o["eval_data"]
        self.loss_scale: LossScale | None = o["loss_scale"]
        self.resume_from: TrainResult | None = o["resume_from"]
        self.allow_order_change: bool = o["allow_order_change"]
        self.saved_order: Any = None  # the resumed checkpoint's record of the batch order
        trainable, fixed = self._freeze(o["frozen"], params)
        self._place(params, trainable, fixed, o)
        self.ckpt: Checkpointer | None = None
        self.bar: Any = None
        self.history: History | None = None
        self.saved: list[int] = []
        self.resumed_from: int | None = None
        self.metrics: dict[str, list[float]] = {}
        self.evals: list[tuple[int, dict[str, float]]] = []
        self.compile_seconds = self.run_seconds = 0.0
        self._compiled: list[Any] = []  # the one chunk program of the run
        self.start_step = self.step = 0
        self.losses: list[float] = []

    @staticmethod
    def _every(value: int | None, name: str) -> int | None:
        return None if value is None else check_int(value, name, "", minimum=1)

    def _freeze(self, frozen: FrozenSpec, params: Mapping[str, jax.Array]) -> tuple[Any, Any]:
        """Splits the params into the trainable and the frozen (``fixed``) ones."""
        self.is_frozen = frozen_filter(frozen)
        check_frozen_matches(frozen, flat_view(params))
        trainable, fixed = partition(params, self.is_frozen)
        if not trainable:
            raise InvalidArgumentError(
                f"frozen={frozen!r} freezes every parameter ({len(fixed)}); nothing "
                "would train. Loosen the pattern or predicate."
            )
        return trainable, fixed

    def _place(self, params: Any, trainable: Any, fixed: Any, o: Mapping[str, Any]) -> None:
        """Checks the placement arguments, picks the placement and puts the trees there."""
        self.params = dict(params)
        chosen = choose_placement(
            o["mesh"],
            o["rules"],
            o["param_shardings"],
            o["data_parallel"],
            self.loss,
            self.params,
            self.data,
            self.batch_size,
        )
        self.placement, self.data = chosen
        key = jax.random.key(self.seed) if self.loss.rng else None
        trees = Trees(trainable, fixed, o["opt_state"], o["state"], key)
        self.trees = t = self.placement.place(trees, self.optimizer, self.loss_scale)
        placed = merge(t.trainable, t.fixed)
        self.params = {k: placed[k] for k in params}  # placed, in the order given

    def last_good(self) -> str:
        """The sentence naming the checkpoint to go back to."""
        good = self.saved[-1] if self.saved else self.resumed_from
        if self.ckpt is None:
            return "No checkpoint is saved (no checkpoint_dir)."
        if good is None:
            return f"There is no good checkpoint in {self.ckpt.directory}; start afresh."
        return f"The last good checkpoint is step {good} in {self.ckpt.directory}; resume it."

    def snapshot(self) -> dict[str, Any]:
        """The trees a checkpoint or the result holds."""
        return self.placement.snapshot(self.trees)

    def start(self) -> None:
        """Continues ``resume_from``, or opens the checkpoint directory (and resumes it)."""
        if self.resume_from is not None:
            self.start_step = self.resume_from.step
            self.losses = self.resume_from.losses.tolist()
        if self.checkpoint_dir is None:
            return
        self.ckpt = ckpt = Checkpointer(self.checkpoint_dir)
        latest = ckpt.latest_step()
        if self.resume:
            self._restore(ckpt)
        elif latest is not None:
            raise CheckpointError(
                f"{ckpt.directory} already holds a checkpoint (step {latest}). "
                "Resume it (resume=True, --resume), or start the new run in "
                "another directory, or delete the old checkpoints first."
            )

    def _restore(self, ckpt: Checkpointer) -> None:
        t = self.trees
        targets = {"params": merge(t.trainable, t.fixed), "opt_state": t.opt_state}
        if t.state is not None:
            targets["state"] = dict(t.state)
        restored, meta = ckpt.restore_trees(targets)
        if self.steps < meta["step"]:
            raise InvalidArgumentError(
                f"steps={self.steps} is below the step of the checkpoint to resume "
                f"({meta['step']} in {ckpt.directory}); steps counts from step 0, "
                f"so pass steps >= {meta['step']}, or start afresh in another "
                "directory."
            )
        trainable, fixed = partition(restored["params"], self.is_frozen)
        opt_state, state = restored["opt_state"], restored.get("state")
        self.trees = Trees(trainable, fixed, opt_state, state, t.key)
        self.start_step, self.losses = int(meta["step"]), list(meta["losses"])
        self.resumed_from = self.start_step
        self.saved_order = meta.get("order")

    def prepare(self) -> None:
        """Builds the data source, checks the outputs, readies the feed of the chunks."""
        start = self.start_step
        skip = 0 if self.resume_from is not None else start
        self.source = make_source(self.data, self.batch_size, self.seed, start, skip)
        self.order = batch_order(self.source, self.seed, self.loss.rng)
        if self.ckpt is not None and self.resumed_from is not None:
            d, allow = self.ckpt.directory, self.allow_order_change
            check_same_order(self.saved_order, self.order, start, d, allow)
        state, key = self.trees.state, self.trees.key
        names = check_outputs(self.f, self.params, state, key, self.source.example())
        self.eval_fn = check_evaluate(
            self.evaluate, self.eval_data, self.eval_every, self.loss.has_state, self.params, state
        )
        if self.ckpt is not None and (names or self.eval_fn is not None):
            self.history = History(self.ckpt.directory, start)
        placement = self.placement
        # Every chunk runs one program compiled for the largest chunk (see make_chunk),
        # the same whatever step the run starts from: a resumed run runs the same program.
        every = self.every or self.per_dispatch
        self.capacity = max(1, min(self.per_dispatch, self.steps, every))
        self.feed = Feeder(
            self.source,
            placement.batch,
            placement.stacked_batch,
            placement.splits_batches,
            self.capacity,
        )
        self.eval_batch = None if self.eval_fn is None else placement.batch(self.eval_data)
        self.step = start

    def chunk_fn(self, args: tuple[Any, ...]) -> Any:
        """The run's one chunk program, compiled at the first call (timed)."""
        if not self._compiled:
            t = time.perf_counter()
            chunk = make_chunk(
                self.f,
                self.optimizer,
                self.capacity,
                self.source.stacked,
                self.loss_scale,
                self.feed.gather,
            )
            options = self.placement.jit_options(self.trees)
            compiled = jax.jit(chunk, **options).lower(*args).compile()
            self._compiled.append(compiled)
            self.compile_seconds += time.perf_counter() - t
        return self._compiled[0]

    def _record(self, pending: Pending) -> None:
        record(
            pending,
            self.losses,
            self.metrics,
            self.bar,
            self.report,
            self.last_good,
            newest_eval(self.evals),
        )

    def run_chunks(self) -> None:
        """Runs the chunks, recording each one dispatch late; evaluates and saves between."""
        if self.progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=self.steps, initial=self.start_step, unit="step", dynamic_ncols=True
            )
        plan = plan_chunks(self.start_step, self.steps, self.per_dispatch, self.every)
        n = next(plan, None)
        batch = self.feed.fetch(self.step, n)
        self.last_batch = batch if n is not None else self.feed.fetch(self.step, 1)
        pending: Pending | None = None
        failed: Exception | None = None
        t_run = time.perf_counter()
        while n is not None and batch is not None:
            step = self.step
            args = (
                *self.trees,
                np.uint32(step),
                np.int32(n),
                batch,
            )
            fn = self.chunk_fn(args)
            trainable, opt_state, state, chunk_losses, chunk_metrics = fn(*args)
            self.trees = self.trees._replace(trainable=trainable, opt_state=opt_state, state=state)
            self.last_batch = batch
            next_n = next(plan, None)
            try:
                batch = self.feed.fetch(step + n, next_n)  # sent while this chunk runs
            except Exception as e:  # the data failed: keep the finished steps, then raise
                failed, batch, next_n = e, None, None
            if pending is not None:
                self._record(pending)
            pending = (step, n, chunk_losses, chunk_metrics)  # the first n of capacity
            self.step = step = step + n
            at_ckpt = (
                self.ckpt is not None
                and self.checkpoint_every
                and step % self.checkpoint_every == 0
            )
            at_eval = self.eval_fn is not None and self.eval_every and step % self.eval_every == 0
            if (at_ckpt or at_eval) and step < self.steps:
                self._record(pending)
                pending = None
                self.run_seconds += time.perf_counter() - t_run
                if at_ckpt:  # first: a failing evaluation keeps the checkpoint
                    self.save(step)
                if at_eval:
                    self.run_eval(step)
                t_run = time.perf_counter()
            n = next_n
        if pending is not None:
            self._record(pending)
        self.run_seconds += time.perf_counter() - t_run  # record waited for the last chunk
        self.run_seconds -= self.compile_seconds  # every chunk compiled inside the timed stretches
        if failed is not None:
            save_then_raise(self, failed)

    def run_eval(self, at: int) -> None:
        """Evaluates the params at step ``at``."""
        assert self.eval_fn is not None
        t = self.trees
        params = merge(t.trainable, t.fixed)
        out = self.placement.to_host(self.eval_fn(params, t.state, self.eval_batch))
        self.evals.append((at, {k: float(v) for k, v in out.items()}))
        if self.history is not None:
            self.history.steps(self.start_step, self.losses, self.metrics, at)
            self.history.evaluation(at, self.evals[-1][1])

    def save(self, at: int) -> None:
        """Saves a checkpoint at step ``at`` after checking the trees are finite."""
        assert self.ckpt is not None
        if self.history is not None:
            self.history.steps(self.start_step, self.losses, self.metrics, at)
        got = self.snapshot()
        check_finite_loss(at, got["params"], got["opt_state"], self.last_good)
        self.ckpt.save_trees(at, got, self.losses, order=self.order)
        self.saved.append(at)

    def unsaved(self) -> bool:
        return (
            self.ckpt is not None and self.step not in self.saved and self.step != self.resumed_from
        )

    def finish(self) -> None:
        """The dry-iterator error, the final loss, the last evaluation and save."""
        step = self.step
        if self.feed.dry is not None:
            if self.unsaved():
                self.save(step)
            raise self.feed.dry.error(step, self.steps, self.ckpt.directory if self.ckpt else None)
        final_batch = self.feed.last(self.last_batch)  # the last minibatch, or the full batch
        t = self.trees
        final_key = None if t.key is None else jax.random.fold_in(t.key, step)
        f = self.f
        final = jax.jit(lambda t, fr, s, k, b: f(merge(t, fr), s, k, b)[0])
        out = final(t.trainable, t.fixed, t.state, final_key, final_batch)
        self.final_loss = final_loss = float(np.asarray(self.placement.to_host(out)))
        if not math.isfinite(final_loss):
            raise NonFiniteLossError(
                f"the loss is {final_loss} after the last update (step {step}); the "
                f"run diverged and nothing was saved at step {step}. Lower the "
                f"learning rate. {self.last_good()}",
                step,
            )
        self.result_trees = self.snapshot()
        if self.unsaved():  # before the last evaluation, which may fail
            self.save(step)
        if self.eval_fn is not None and (not self.evals or self.evals[-1][0] != step):
            self.run_eval(step)
        if self.bar is not None:
            close_bar(self.bar, final_loss, self.metrics, newest_eval(self.evals))
        if self.history is not None:
            self.history.steps(self.start_step, self.losses, self.metrics, step)

    def close(self) -> None:
        """Closes the progress bar and the checkpointer, also after an error."""
        if self.bar is not None:
            self.bar.close()
        if self.ckpt is not None:
            self.ckpt.close()

    def result(self) -> TrainResult:
        """The :class:`TrainResult` of a finished run."""
        trees, done = self.result_trees, self.step - self.start_step
        state = (
            None
            if self.trees.state is None
            else jax.tree_util.tree_map(jnp.asarray, trees["state"])
        )
        return TrainResult(
            # one entry per key of the given params, in their order (nested ones too: hk)
            params={
                k: jax.tree_util.tree_map(jnp.asarray, trees["params"][k]) for k in self.params
            },
            opt_state=jax.tree_util.tree_map(jnp.asarray, trees["opt_state"]),
            losses=np.asarray(self.losses, dtype=np.float32),
            step=self.step,
            final_loss=self.final_loss,
            steps_per_second=done / self.run_seconds if self.run_seconds > 0 else float("inf"),
            compile_seconds=self.compile_seconds,
            resumed_from=self.resumed_from,
            checkpoints=self.saved,
            state=state,
            metrics={k: np.asarray(v, np.float32) for k, v in self.metrics.items()},
            evals=self.evals,
        )
