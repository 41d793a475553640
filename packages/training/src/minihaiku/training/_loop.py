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
from minihaiku.training._freeze import (
    FrozenSpec,
    check_frozen_matches,
    frozen_predicate,
    partition,
)
from minihaiku.training._parallel import DataParallel
from minihaiku.training._plan import chunk_lengths, plan_chunks

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
      NonFiniteLossError: the loss, or before a save the params or optimizer
        state, became NaN or infinite (the error names the step and the last
        good checkpoint; a non-finite state is never saved).
      CheckpointError: resume found no usable checkpoint (missing, corrupt,
        mismatched), a fresh run would overwrite one, the directory cannot be
        written, or another process holds it.
      InvalidArgumentError: a bad argument, a ``frozen`` pattern or predicate
        that matches no parameter, or ``steps`` below the resumed step.

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
    check_frozen_matches(frozen, params)
    trainable, fixed = partition(params, is_frozen)
    if not trainable:
        raise InvalidArgumentError(
            f"frozen={frozen!r} freezes every parameter ({len(fixed)}); nothing "
            "would train. Loosen the pattern or predicate."
        )
    opt_state = optimizer.init(trainable)
    ckpt: Checkpointer | None = None
    bar = None
    saved: list[int] = []
    resumed_from: int | None = None

    def last_good() -> str:
        good = saved[-1] if saved else resumed_from
        if ckpt is None:
            return "No checkpoint is saved (no checkpoint_dir)."
        if good is None:
            return f"There is no good checkpoint in {ckpt.directory}; start afresh."
        return f"The last good checkpoint is step {good} in {ckpt.directory}; resume it."

    try:
        start, losses = 0, []
        if checkpoint_dir is not None:
            ckpt = Checkpointer(checkpoint_dir)
            latest = ckpt.latest_step()
            if resume:
                restored = ckpt.restore(dict(params), opt_state)
                if steps < restored.step:
                    raise InvalidArgumentError(
                        f"steps={steps} is below the step of the checkpoint to resume "
                        f"({restored.step} in {ckpt.directory}); steps counts from step 0, "
                        f"so pass steps >= {restored.step}, or start afresh in another "
                        "directory."
                    )
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

        t0 = time.perf_counter()
        compiled = {
            n: jax.jit(_make_chunk(loss, optimizer, n))
            .lower(trainable, fixed, opt_state, data)
            .compile()
            for n in sorted(chunk_lengths(start, steps, steps_per_dispatch, checkpoint_every))
        }
        final_fn = (
            jax.jit(lambda t, f, d: loss({**t, **f}, d)).lower(trainable, fixed, data).compile()
        )
        compile_seconds = time.perf_counter() - t0

        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps, initial=start, unit="step", dynamic_ncols=True)
        step = start
        run_seconds = 0.0
        t_run = time.perf_counter()
        # (first step of a chunk, its losses): read one dispatch late, so the
        # device already runs the next chunk while the host reports.
        pending = None
        for n in plan_chunks(start, steps, steps_per_dispatch, checkpoint_every):
            trainable, opt_state, chunk_losses = compiled[n](trainable, fixed, opt_state, data)
            if pending is not None:
                _record(pending, losses, bar, report, last_good)
            pending = (step, chunk_losses)
            step += n
            if (
                ckpt is not None
                and checkpoint_every
                and step % checkpoint_every == 0
                and step < steps
            ):
                _record(pending, losses, bar, report, last_good)
                pending = None
                run_seconds += time.perf_counter() - t_run
                host_params = {**_host(trainable, dp), **_host(fixed, dp)}
                host_opt = _host(opt_state, dp)
                _check_finite(step, host_params, host_opt, last_good)
                ckpt.save(step, host_params, host_opt, losses)
                saved.append(step)
                t_run = time.perf_counter()
        if pending is not None:
            _record(pending, losses, bar, report, last_good)
        run_seconds += time.perf_counter() - t_run  # _record waited for the last chunk
        final_loss = float(np.asarray(_host(final_fn(trainable, fixed, data), dp)))
        if not math.isfinite(final_loss):
            raise NonFiniteLossError(
                f"the loss is {final_loss} after the last update (step {step}); the "
                f"run diverged and nothing was saved at step {step}. Lower the "
                f"learning rate. {last_good()}",
                step,
            )
        host_params = {**_host(trainable, dp), **_host(fixed, dp)}
        host_opt = _host(opt_state, dp)
        if ckpt is not None and step not in saved and step != resumed_from:
            _check_finite(step, host_params, host_opt, last_good)
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
    last_good: Callable[[], str],
) -> None:
    first, chunk_losses = pending
    values = np.asarray(DataParallel.to_host(chunk_losses))
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        at = first + int(bad[0])
        raise NonFiniteLossError(
            f"the loss is {values[bad[0]]} at step {at}; the run diverged. Lower "
            f"the learning rate or check the data. {last_good()}",
            at,
        )
    losses.extend(values.tolist())
    step = first + values.size
    if bar is not None:
        bar.update(values.size)
        bar.set_postfix(loss=f"{values[-1]:.4g}", refresh=False)
    if report is not None:
        report(step, float(values[-1]))


def _check_finite(
    step: int, params: Mapping[str, Any], opt_state: Any, last_good: Callable[[], str]
) -> None:
    """Raises before a save if the params or optimizer state hold NaN or inf.

    The losses are taken before each update, so the update ending at ``step``
    is seen only here; a non-finite checkpoint would look resumable.
    """
    named = [(repr(k), params[k]) for k in sorted(params)]
    named += [
        (f"opt_state{jax.tree_util.keystr(path)}", leaf)
        for path, leaf in jax.tree_util.tree_flatten_with_path(opt_state)[0]
    ]
    for name, value in named:
        array = np.asarray(value)
        if np.issubdtype(array.dtype, np.inexact) and not np.isfinite(array).all():
            raise NonFiniteLossError(
                f"the update that ends at step {step} made {name} non-finite (NaN or "
                f"inf); the run diverged and nothing was saved at step {step}. Lower "
                f"the learning rate or check the data. {last_good()}",
                step,
            )
