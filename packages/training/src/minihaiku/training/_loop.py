"""The training loop: many steps per dispatch with ``lax.scan``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import optax
from jax.sharding import Mesh

from minihaiku.core import Transformed, TransformedWithState
from minihaiku.training._freeze import FrozenSpec
from minihaiku.training._loss_scale import LossScale
from minihaiku.training._losses import Loss
from minihaiku.training._placement import Rules
from minihaiku.training._result import TrainResult
from minihaiku.training._run import Run
from minihaiku.training._setup import (
    check_params_and_optimizer,
    check_resume_from,
    resolve_loss,
)

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
    allow_order_change: bool = False,
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
      frozen: params that get no updates: a core path filter (a glob
        pattern, a list of patterns, or a predicate ``(path, value) -> bool``,
        as :func:`~minihaiku.core.partition_params` takes), or a predicate on
        the path alone.
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
      allow_order_change: resume although the data arguments that decide the
        batch order (full batch, iterator or ``batch_size=``; the number of
        examples; ``seed`` for minibatches and keys) differ from those the
        checkpoint records: the run continues on the new order. Without it
        such a resume is a :class:`CheckpointError` naming both. Checkpoints
        written before the order was recorded resume unchecked.

    Returns:
      A :class:`TrainResult`.

    Raises:
      NonFiniteLossError: the loss, or before a save the params or optimizer
        state, became NaN or infinite (the error names the step and the last
        good checkpoint; a non-finite state is never saved).
      CheckpointError: resume found no usable checkpoint (missing, corrupt,
        mismatched), a fresh run would overwrite one, the directory cannot be
        written, another process holds it, or the resumed run would see another
        batch order than the checkpoint's (see ``allow_order_change``).
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
    check_params_and_optimizer(params, optimizer)
    options = {
        "frozen": frozen,
        "steps_per_dispatch": steps_per_dispatch,
        "checkpoint_dir": checkpoint_dir,
        "checkpoint_every": checkpoint_every,
        "resume": resume,
        "progress": progress,
        "report": report,
        "data_parallel": data_parallel,
        "batch_size": batch_size,
        "seed": seed,
        "state": state,
        "opt_state": opt_state,
        "evaluate": evaluate,
        "eval_data": eval_data,
        "eval_every": eval_every,
        "resume_from": resume_from,
        "mesh": mesh,
        "rules": rules,
        "param_shardings": param_shardings,
        "loss_scale": loss_scale,
        "allow_order_change": allow_order_change,
    }
    run = Run(the_loss, params, data, optimizer, steps, options)
    try:
        run.start()
        run.prepare()
        run.run_chunks()
        run.finish()
    finally:
        run.close()
    return run.result()
