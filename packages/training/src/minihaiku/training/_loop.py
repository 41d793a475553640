"""The training loop: many steps per dispatch with ``lax.scan``."""

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
from jax.sharding import Mesh

from minihaiku.core import (
    InvalidArgumentError,
    Transformed,
    TransformedWithState,
)
from minihaiku.core.checks import check_int
from minihaiku.training._checkpoints import Checkpointer
from minihaiku.training._data import make_source
from minihaiku.training._errors import CheckpointError, NonFiniteLossError
from minihaiku.training._feed import Feeder
from minihaiku.training._freeze import (
    FrozenSpec,
    check_frozen_matches,
    frozen_predicate,
    partition,
)
from minihaiku.training._history import History
from minihaiku.training._loss_scale import LossScale, init_opt_state
from minihaiku.training._losses import Loss
from minihaiku.training._mesh import MeshPlan, Rules
from minihaiku.training._on_mesh import jit_options, on_mesh, snapshot
from minihaiku.training._parallel import DataParallel
from minihaiku.training._plan import plan_chunks
from minihaiku.training._records import (
    Pending,
    check_finite_loss,
    close_bar,
    host,
    newest_eval,
    record,
)
from minihaiku.training._result import TrainResult
from minihaiku.training._setup import (
    check_evaluate,
    check_params_and_optimizer,
    check_resume_from,
    default_per_dispatch,
    resolve_loss,
)
from minihaiku.training._step import check_outputs, make_chunk, normalize

__all__ = ["TrainResult", "train"]

LossFn = Callable[..., Any]


def train(
    loss: LossFn | Transformed | TransformedWithState | Loss,
    params: Mapping[str, jax.Array],
    data: Any,
    optimizer: optax.GradientTransformation,
    steps: int,
    *,
    frozen: FrozenSpec = None,
    steps_per_dispatch: int | None = None,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    progress: bool = True,
    report: Callable[[int, float], None] | None = None,
    data_parallel: bool | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    rng: bool | None = None,
    has_aux: bool | None = None,
    state: Mapping[str, jax.Array] | None = None,
    opt_state: Any = None,
    evaluate: Callable[..., Any] | None = None,
    eval_data: Any = None,
    eval_every: int | None = None,
    resume_from: TrainResult | None = None,
    mesh: Mesh | None = None,
    rules: Rules | None = None,
    param_shardings: Mapping[str, Any] | None = None,
    loss_scale: LossScale | None = None,
) -> TrainResult:
    """Trains ``params`` for ``steps`` steps on a full batch or on minibatches.

    Steps run ``steps_per_dispatch`` at a time inside one compiled
    ``lax.scan`` (minibatches are stacked, and the next stack is sent to the
    device while the current one runs); between dispatches the progress bar
    and ``report`` get the latest loss and metrics.

    Args:
      loss: ``loss(params, batch) -> scalar``, a :class:`Loss` (forms with
        state, a key, metrics), e.g. :func:`softmax_cross_entropy`, or a model
        (then :func:`mse_loss` on ``batch = (x, y)``).
      params: the initial params (flat path -> array mapping).
      data: one batch used at every step (any pytree of arrays); or an
        iterator of batches of equal shapes (one per step; a resumed run skips
        the ``step`` batches already consumed, so pass the same stream); or,
        with ``batch_size``, in-memory arrays with the examples on axis 0.
      optimizer: an optax optimizer, e.g. ``optax.sgd(0.003)``.
      steps: the step count to reach (with ``resume``, counted from step 0).
      frozen: params that get no updates: a predicate on the path, a glob
        pattern, or a list of patterns.
      steps_per_dispatch: steps per compiled call; default: about 1/20 of a
        long run, at least 200 (or the whole run), at most 1000.
      checkpoint_dir: where to save checkpoints (orbax); ``None`` saves none.
      checkpoint_every: also save every this many steps (always at the end).
      resume: continue from the newest checkpoint in ``checkpoint_dir``.
      progress: show a tqdm progress bar.
      report: called as ``report(step, loss)`` after each dispatch.
      data_parallel: replicate params and split the batch over all devices;
        default: when there is more than one device.
      batch_size: minibatches of this size, shuffled per epoch (epoch ``e``:
        ``np.random.default_rng((seed, e)).permutation(n)``), the last partial
        batch of each epoch dropped. Arrays up to 256 MiB in all are copied
        to the device once and each step's batch is gathered there (larger
        ones, and data-parallel runs, are stacked on the host per chunk).
      seed: the shuffling seed, and the key ``key(seed)`` of the losses that
        take one: step ``i`` gets ``jax.random.fold_in(key(seed), i)``.
      rng: the loss takes a key (a model made with ``apply_rng=True``).
      has_aux: the loss returns ``(loss, metrics)``, a dict of scalars.
      state: the initial model state (``transform_with_state`` models); it is
        carried through the steps, checkpointed and restored.
      opt_state: the optimizer state to continue from (e.g. a previous
        :class:`TrainResult`'s); default ``optimizer.init``.
      evaluate: ``evaluate(params, eval_data)`` (``(params, state, eval_data)``
        with state) -> dict of scalars, run every ``eval_every`` steps and at
        the end, e.g. :func:`accuracy`.
      eval_data: the batch ``evaluate`` gets.
      eval_every: evaluate every this many steps (default: only at the end).
      resume_from: a :class:`TrainResult` to continue without a checkpoint:
        its params, optimizer and model state, losses and step count (the
        shuffling and keys continue; ``steps`` counts from step 0). An
        iterator ``data`` is read on from where it is.
      mesh: a device mesh to train on (docs/training_mesh.md): params and their
        optimizer state sharded, the batch split over the data axis.
      rules: logical axis -> mesh axis; ``"batch"``: the data axis (default first).
      param_shardings: param path -> ``PartitionSpec`` (default: annotations).
      loss_scale: a :class:`DynamicLossScale` (float16 training: overflowing
        steps are skipped) or :class:`StaticLossScale`; its state rides in
        ``opt_state`` and the metrics gain ``loss_scale`` and ``overflow``.

    Returns:
      A :class:`TrainResult`.

    Raises:
      NonFiniteLossError: the loss, or before a save the params or optimizer
        state, became NaN or infinite (the error names the step and the last
        good checkpoint; a non-finite state is never saved).
      CheckpointError: resume found no usable checkpoint (missing, corrupt,
        mismatched), a fresh run would overwrite one, the directory cannot be
        written, or another process holds it.
      DataError: a batch's shapes differ from the first one's, or the
        iterator ran dry before ``steps`` (the steps done are checkpointed).
      InvalidArgumentError: a bad argument, a ``frozen`` spec that matches no
        parameter, ``steps`` below the resumed step, a loss that is not a float
        scalar, metrics that are not scalars, a state model without ``state=``.

    Examples:
      >>> import optax
      >>> from minihaiku.training import quadratic_data, quadratic_model, train
      >>> xs, ys = quadratic_data()
      >>> model = quadratic_model()
      >>> result = train(model, model.init(0, xs), (xs, ys), optax.adam(1e-2), 300,
      ...                batch_size=32, progress=False)
      >>> result.step, bool(result.final_loss < result.losses[0])
      (300, True)
    """
    if resume_from is not None:
        check_resume_from(resume_from, resume, steps)
        params, opt_state = resume_from.params, resume_from.opt_state
        state = resume_from.state if state is None else state
    the_loss = resolve_loss(loss, rng, state, has_aux)
    f = normalize(the_loss)
    check_params_and_optimizer(params, optimizer)
    steps = check_int(steps, "steps", "", minimum=0)
    seed = check_int(seed, "seed", "", minimum=0)
    if checkpoint_every is not None:
        checkpoint_every = check_int(checkpoint_every, "checkpoint_every", "", minimum=1)
        if checkpoint_dir is None:
            raise InvalidArgumentError("checkpoint_every needs a checkpoint_dir to save into.")
    if eval_every is not None:
        eval_every = check_int(eval_every, "eval_every", "", minimum=1)
    if resume and checkpoint_dir is None:
        raise InvalidArgumentError("resume needs the checkpoint_dir of the run to continue.")
    every = math.gcd(checkpoint_every or 0, eval_every or 0) or None
    if steps_per_dispatch is None:
        steps_per_dispatch = default_per_dispatch(steps, every)
    steps_per_dispatch = check_int(steps_per_dispatch, "steps_per_dispatch", "", minimum=1)

    is_frozen = frozen_predicate(frozen)
    check_frozen_matches(frozen, params)
    trainable, fixed = partition(params, is_frozen)
    if not trainable:
        raise InvalidArgumentError(
            f"frozen={frozen!r} freezes every parameter ({len(fixed)}); nothing "
            "would train. Loosen the pattern or predicate."
        )
    t = (params, data, trainable, fixed, opt_state, state)
    on, (params, data, trainable, fixed, opt_state, state) = on_mesh(
        mesh, rules, param_shardings, data_parallel, the_loss, optimizer, batch_size, t
    )
    opt_state = init_opt_state(optimizer, trainable, opt_state, loss_scale)
    key = jax.random.key(seed) if the_loss.rng else None
    ckpt: Checkpointer | None = None
    bar = None
    saved: list[int] = []
    resumed_from: int | None = None
    metrics: dict[str, list[float]] = {}
    evals: list[tuple[int, dict[str, float]]] = []

    def last_good() -> str:
        good = saved[-1] if saved else resumed_from
        if ckpt is None:
            return "No checkpoint is saved (no checkpoint_dir)."
        if good is None:
            return f"There is no good checkpoint in {ckpt.directory}; start afresh."
        return f"The last good checkpoint is step {good} in {ckpt.directory}; resume it."

    def trees() -> dict[str, Any]:
        return snapshot(dp, trainable, fixed, opt_state, state)

    def save(at: int) -> None:
        assert ckpt is not None
        if history is not None:
            history.steps(start, losses, metrics, at)
        got = trees()
        check_finite_loss(at, got["params"], got["opt_state"], last_good)
        ckpt.save_trees(at, got, losses)
        saved.append(at)

    def run_eval(at: int) -> None:
        assert eval_fn is not None
        out = host(eval_fn({**trainable, **fixed}, state, eval_batch), dp)
        evals.append((at, {k: float(v) for k, v in out.items()}))
        if history is not None:
            history.steps(start, losses, metrics, at)
            history.evaluation(at, evals[-1][1])

    dp: DataParallel | MeshPlan | None = None
    history: History | None = None
    try:
        start, losses = 0, []
        if resume_from is not None:
            start, losses = resume_from.step, resume_from.losses.tolist()
        if checkpoint_dir is not None:
            ckpt = Checkpointer(checkpoint_dir)
            latest = ckpt.latest_step()
            if resume:
                targets = {"params": {**trainable, **fixed}, "opt_state": opt_state}
                if state is not None:
                    targets["state"] = dict(state)
                restored, meta = ckpt.restore_trees(targets)
                if steps < meta["step"]:
                    raise InvalidArgumentError(
                        f"steps={steps} is below the step of the checkpoint to resume "
                        f"({meta['step']} in {ckpt.directory}); steps counts from step 0, "
                        f"so pass steps >= {meta['step']}, or start afresh in another "
                        "directory."
                    )
                trainable, fixed = partition(restored["params"], is_frozen)
                opt_state, state = restored["opt_state"], restored.get("state")
                start, losses = int(meta["step"]), list(meta["losses"])
                resumed_from = start
            elif latest is not None:
                raise CheckpointError(
                    f"{ckpt.directory} already holds a checkpoint (step {latest}). "
                    "Resume it (resume=True, --resume), or start the new run in "
                    "another directory, or delete the old checkpoints first."
                )
        skip = 0 if resume_from is not None else start
        source = make_source(data, batch_size, seed, start, skip)
        names = check_outputs(f, params, state, key, source.example())
        eval_fn = check_evaluate(evaluate, eval_data, eval_every, the_loss.state, params, state)
        if ckpt is not None and (names or eval_fn is not None):
            history = History(ckpt.directory, start)

        if data_parallel is None:
            data_parallel = jax.device_count() > 1
        dp = on or (DataParallel() if data_parallel else None)
        place = dp.batch if dp is not None else jax.device_put
        place_stack = dp.stacked_batch if dp is not None else jax.device_put
        if dp is not None:
            trainable, fixed, opt_state, state = dp.params((trainable, fixed, opt_state, state))
            key = None if key is None else jax.device_put(key, dp.replicated)
        else:
            trainable, fixed, opt_state, state, key = jax.device_put(
                (trainable, fixed, opt_state, state, key)
            )
        # Every chunk runs one program compiled for the largest chunk (see make_chunk).
        capacity = max(1, min(steps_per_dispatch, steps - start, every or steps_per_dispatch))
        feed = Feeder(source, place, place_stack, dp is not None, capacity)
        eval_batch = None if eval_fn is None else place(eval_data)

        compile_seconds = 0.0
        compiled: list[Any] = []  # the one chunk program of the run

        def chunk_fn(args: tuple[Any, ...]) -> Any:
            nonlocal compile_seconds
            if not compiled:
                t = time.perf_counter()
                chunk = make_chunk(f, optimizer, capacity, source.stacked, loss_scale, feed.gather)
                compiled.append(jax.jit(chunk, **jit_options(dp, args)).lower(*args).compile())
                compile_seconds += time.perf_counter() - t
            return compiled[0]

        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps, initial=start, unit="step", dynamic_ncols=True)
        step = start
        run_seconds = 0.0
        plan = plan_chunks(start, steps, steps_per_dispatch, every)
        n = next(plan, None)
        batch = feed.fetch(step, n)
        last_batch = batch if n is not None else feed.fetch(step, 1)
        pending: Pending | None = None
        t_run = time.perf_counter()
        while n is not None and batch is not None:
            args = (trainable, fixed, opt_state, state, key, np.uint32(step), np.int32(n), batch)
            fn = chunk_fn(args)
            trainable, opt_state, state, chunk_losses, chunk_metrics = fn(*args)
            last_batch = batch
            next_n = next(plan, None)
            batch = feed.fetch(step + n, next_n)  # sent to the device while this chunk runs
            if pending is not None:
                record(pending, losses, metrics, bar, report, last_good, newest_eval(evals))
            pending = (step, n, chunk_losses, chunk_metrics)  # the first n of capacity
            step += n
            at_ckpt = ckpt is not None and checkpoint_every and step % checkpoint_every == 0
            at_eval = eval_fn is not None and eval_every and step % eval_every == 0
            if (at_ckpt or at_eval) and step < steps:
                record(pending, losses, metrics, bar, report, last_good, newest_eval(evals))
                pending = None
                run_seconds += time.perf_counter() - t_run
                if at_eval:
                    run_eval(step)
                if at_ckpt:
                    save(step)
                t_run = time.perf_counter()
            n = next_n
        if pending is not None:
            record(pending, losses, metrics, bar, report, last_good, newest_eval(evals))
        run_seconds += time.perf_counter() - t_run  # record waited for the last chunk
        run_seconds -= compile_seconds  # every chunk compiled inside the timed stretches
        if feed.dry is not None:
            if ckpt is not None and step not in saved and step != resumed_from:
                save(step)
            raise feed.dry.error(step, steps, ckpt.directory if ckpt else None)
        final_batch = feed.last(last_batch)  # the last minibatch, or the full batch
        final_key = None if key is None else jax.random.fold_in(key, step)
        final = jax.jit(lambda t, fr, s, k, b: f({**t, **fr}, s, k, b)[0])
        final_loss = float(
            np.asarray(host(final(trainable, fixed, state, final_key, final_batch), dp))
        )
        if not math.isfinite(final_loss):
            raise NonFiniteLossError(
                f"the loss is {final_loss} after the last update (step {step}); the "
                f"run diverged and nothing was saved at step {step}. Lower the "
                f"learning rate. {last_good()}",
                step,
            )
        if eval_fn is not None and (not evals or evals[-1][0] != step):
            run_eval(step)
        if bar is not None:
            close_bar(bar, final_loss, metrics, newest_eval(evals))
        result_trees = trees()
        if ckpt is not None and step not in saved and step != resumed_from:
            save(step)
        if history is not None:
            history.steps(start, losses, metrics, step)
    finally:
        if bar is not None:
            bar.close()
        if ckpt is not None:
            ckpt.close()
    done = step - start
    return TrainResult(
        params={k: jnp.asarray(result_trees["params"][k]) for k in params},
        opt_state=jax.tree_util.tree_map(jnp.asarray, result_trees["opt_state"]),
        losses=np.asarray(losses, dtype=np.float32),
        step=step,
        final_loss=final_loss,
        steps_per_second=done / run_seconds if run_seconds > 0 else float("inf"),
        compile_seconds=compile_seconds,
        resumed_from=resumed_from,
        checkpoints=saved,
        state=None if state is None else jax.tree_util.tree_map(jnp.asarray, result_trees["state"]),
        metrics={k: np.asarray(v, np.float32) for k, v in metrics.items()},
        evals=evals,
    )
