"""The training loop: many steps per dispatch with ``lax.scan``."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    NotCallableError,
    Transformed,
)
from minihaiku.training._checkpoint import Checkpointer
from minihaiku.training._errors import CheckpointError, NonFiniteLossError
from minihaiku.training._freeze import FrozenSpec, frozen_predicate, partition
from minihaiku.training._parallel import DataParallel

__all__ = ["TrainResult", "mse_loss", "train"]

LossFn = Callable[[Mapping[str, jax.Array], Any], jax.Array]


def mse_loss(model: Transformed) -> LossFn:
    """The mean squared error of ``model.apply`` on a batch ``(x, y)``.

    Examples:
      >>> loss = mse_loss(transform(lambda x: MLP([1])(x)))  # doctest: +SKIP
      >>> loss(params, (xs, ys))  # doctest: +SKIP
    """
    apply = model.apply

    def loss(params: Mapping[str, jax.Array], batch: Any) -> jax.Array:
        x, y = batch
        return jnp.mean((apply(params, x) - y) ** 2)

    return loss


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
      params: the trained params (frozen ones unchanged).
      opt_state: the optimizer state, for continuing.
      losses: the loss before each step, from step 0 (restored steps included).
      step: the number of steps done in all.
      final_loss: the loss at the final params.
      steps_per_second: steps done in this call per second of running them,
        compilation and checkpoint writing excluded.
      compile_seconds: time spent compiling.
    """

    params: dict[str, jax.Array]
    opt_state: Any
    losses: np.ndarray
    step: int
    final_loss: float
    steps_per_second: float
    compile_seconds: float
    resumed_from: int | None = None
    checkpoints: list[int] = field(default_factory=list)


def _check_steps(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidArgumentTypeError(f"{what} must be an int, got {type(value).__name__}.")
    if value < minimum:
        raise InvalidArgumentError(f"{what} must be >= {minimum}, got {value}.")
    return int(value)


def _make_chunk(
    loss: LossFn, optimizer: optax.GradientTransformation, length: int
) -> Callable[..., Any]:
    def chunk(trainable: Any, frozen: Any, opt_state: Any, data: Any) -> Any:
        def objective(t: Any) -> jax.Array:
            return loss({**t, **frozen}, data)

        def step(carry: Any, _: Any) -> Any:
            p, s = carry
            value, grads = jax.value_and_grad(objective)(p)
            updates, s = optimizer.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), value

        (p, s), losses = jax.lax.scan(step, (trainable, opt_state), None, length=length)
        return p, s, losses

    return chunk


def _plan(start: int, stop: int, per_dispatch: int, every: int | None) -> list[int]:
    """Chunk lengths from ``start`` to ``stop``, ending at each checkpoint step."""
    sizes = []
    step = start
    while step < stop:
        boundary = stop
        if every:
            boundary = min(stop, (step // every + 1) * every)
        n = min(per_dispatch, boundary - step)
        sizes.append(n)
        step += n
    return sizes


def train(
    loss: LossFn | Transformed,
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
) -> TrainResult:
    """Trains ``params`` on one full batch ``data`` for ``steps`` steps.

    Steps run ``steps_per_dispatch`` at a time inside one compiled
    ``lax.scan``, so the loop is as fast as a hand-written jitted scan; between
    dispatches the progress bar and ``report`` get the latest loss.

    Args:
      loss: ``loss(params, data) -> scalar``, or a transformed model, trained
        with the mean squared error on ``data = (x, y)``.
      params: the initial params (flat path -> array mapping).
      data: the batch (any pytree of arrays), the same at every step.
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

    Returns:
      A :class:`TrainResult`.

    Raises:
      NonFiniteLossError: the loss became NaN or infinite (the error names the
        step; checkpoints saved before stay as they are).
      CheckpointError: resume found no usable checkpoint, or a fresh run would
        overwrite one.

    Examples:
      >>> result = train(model, params, (xs, ys), optax.sgd(0.003), 5000)  # doctest: +SKIP
      >>> result.final_loss < 0.005  # doctest: +SKIP
      True
    """
    if isinstance(loss, Transformed):
        loss = mse_loss(loss)
    if not callable(loss):
        raise NotCallableError(
            f"loss must be a function loss(params, data) -> scalar or a transformed "
            f"model, got {type(loss).__name__}."
        )
    if not isinstance(params, Mapping):
        raise InvalidArgumentTypeError(
            f"params must be the mapping init returned, got {type(params).__name__}."
        )
    if not isinstance(optimizer, optax.GradientTransformation):
        raise InvalidArgumentTypeError(
            f"optimizer must be an optax GradientTransformation such as "
            f"optax.sgd(0.003), got {type(optimizer).__name__}."
        )
    steps = _check_steps(steps, "steps", 0)
    if checkpoint_every is not None:
        checkpoint_every = _check_steps(checkpoint_every, "checkpoint_every", 1)
        if checkpoint_dir is None:
            raise InvalidArgumentError("checkpoint_every needs a checkpoint_dir to save into.")
    if resume and checkpoint_dir is None:
        raise InvalidArgumentError("resume needs the checkpoint_dir of the run to continue.")
    if steps_per_dispatch is None:
        # About 20 dispatches for long runs (so the bar moves), few for short
        # ones (so dispatch overhead stays small), at most 1000 steps each.
        chunks = max(1, min(20, steps // 200))
        steps_per_dispatch = max(1, min(1000, math.ceil(steps / chunks)))
        if checkpoint_every:
            steps_per_dispatch = min(steps_per_dispatch, checkpoint_every)
    steps_per_dispatch = _check_steps(steps_per_dispatch, "steps_per_dispatch", 1)

    is_frozen = frozen_predicate(frozen)
    trainable, fixed = partition(params, is_frozen)
    if not trainable:
        raise InvalidArgumentError(
            f"frozen={frozen!r} freezes every parameter ({len(fixed)}); nothing "
            "would train. Loosen the pattern or predicate."
        )
    opt_state = optimizer.init(trainable)
    ckpt = Checkpointer(checkpoint_dir) if checkpoint_dir is not None else None
    bar = None
    try:
        start, losses, resumed_from = 0, [], None
        if ckpt is not None:
            latest = ckpt.latest_step()
            if resume:
                restored = ckpt.restore(dict(params), opt_state)
                trainable, fixed = partition(restored.params, is_frozen)
                opt_state, start, losses = restored.opt_state, restored.step, restored.losses
                resumed_from = start
            elif latest is not None:
                raise CheckpointError(
                    f"{ckpt.directory} already holds a checkpoint (step {latest}). "
                    "Resume it (resume=True, --resume), or start the new run in "
                    "another directory, or delete the old checkpoints first."
                )

        if data_parallel is None:
            data_parallel = jax.device_count() > 1
        dp = DataParallel() if data_parallel else None
        if dp is not None:
            trainable, fixed, opt_state = dp.params((trainable, fixed, opt_state))
            data = dp.batch(data)
        else:
            trainable, fixed, opt_state, data = jax.device_put((trainable, fixed, opt_state, data))

        sizes = _plan(start, steps, steps_per_dispatch, checkpoint_every)
        t0 = time.perf_counter()
        compiled = {
            n: jax.jit(_make_chunk(loss, optimizer, n))
            .lower(trainable, fixed, opt_state, data)
            .compile()
            for n in sorted(set(sizes))
        }
        final_fn = (
            jax.jit(lambda t, f, d: loss({**t, **f}, d)).lower(trainable, fixed, data).compile()
        )
        compile_seconds = time.perf_counter() - t0

        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps, initial=start, unit="step", dynamic_ncols=True)
        saved: list[int] = []
        step = start
        run_seconds = 0.0
        t_run = time.perf_counter()
        # (first step of a chunk, its losses): read one dispatch late, so the
        # device already runs the next chunk while the host reports.
        pending = None
        for i, n in enumerate(sizes):
            trainable, opt_state, chunk_losses = compiled[n](trainable, fixed, opt_state, data)
            if pending is not None:
                _record(pending, losses, bar, report)
            pending = (step, chunk_losses)
            step += n
            if (
                ckpt is not None
                and checkpoint_every
                and step % checkpoint_every == 0
                and (i < len(sizes) - 1)
            ):
                _record(pending, losses, bar, report)
                pending = None
                run_seconds += time.perf_counter() - t_run
                ckpt.save(
                    step, {**_host(trainable, dp), **_host(fixed, dp)}, _host(opt_state, dp), losses
                )
                saved.append(step)
                t_run = time.perf_counter()
        if pending is not None:
            _record(pending, losses, bar, report)
        run_seconds += time.perf_counter() - t_run  # _record waited for the last chunk
        final_loss = float(np.asarray(_host(final_fn(trainable, fixed, data), dp)))
        if not math.isfinite(final_loss):
            raise NonFiniteLossError(
                f"the loss is {final_loss} after the last update (step {step}); the "
                "run diverged. Lower the learning rate; checkpoints saved before "
                "are kept.",
                step,
            )
        host_params = {**_host(trainable, dp), **_host(fixed, dp)}
        host_opt = _host(opt_state, dp)
        if ckpt is not None and step not in saved and step != resumed_from:
            ckpt.save(step, host_params, host_opt, losses)
            saved.append(step)
    finally:
        if bar is not None:
            bar.close()
        if ckpt is not None:
            ckpt.close()
    done = step - start
    return TrainResult(
        params={k: jnp.asarray(host_params[k]) for k in params},
        opt_state=jax.tree_util.tree_map(jnp.asarray, host_opt),
        losses=np.asarray(losses, dtype=np.float32),
        step=step,
        final_loss=final_loss,
        steps_per_second=done / run_seconds if run_seconds > 0 else float("inf"),
        compile_seconds=compile_seconds,
        resumed_from=resumed_from,
        checkpoints=saved,
    )


def _host(tree: Any, dp: DataParallel | None) -> Any:
    return DataParallel.to_host(tree) if dp is not None else jax.device_get(tree)


def _record(
    pending: tuple[int, jax.Array],
    losses: list[float],
    bar: Any,
    report: Callable[[int, float], None] | None,
) -> None:
    first, chunk_losses = pending
    values = np.asarray(DataParallel.to_host(chunk_losses))
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        at = first + int(bad[0])
        raise NonFiniteLossError(
            f"the loss is {values[bad[0]]} at step {at}; the run diverged. Lower "
            "the learning rate or check the data; checkpoints saved before step "
            f"{at} are kept and can be resumed.",
            at,
        )
    losses.extend(values.tolist())
    step = first + values.size
    if bar is not None:
        bar.update(values.size)
        bar.set_postfix(loss=f"{values[-1]:.4g}", refresh=False)
    if report is not None:
        report(step, float(values[-1]))
