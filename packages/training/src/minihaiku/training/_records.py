"""Host-side bookkeeping between dispatches: losses, metrics, finiteness before saves."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from minihaiku.training._errors import NonFiniteLossError
from minihaiku.training._placement.data_parallel import DataParallel
from minihaiku.training._transfer import to_numpy

__all__ = ["Pending", "check_finite_loss", "close_bar", "newest_eval", "record"]

#: (first step of a chunk, its step count n, its losses, its metrics), read one
#: dispatch late; the losses and metrics hold at least n entries, the first n count.
Pending = tuple[int, int, jax.Array, Mapping[str, jax.Array]]


def record(
    pending: Pending,
    losses: list[float],
    metrics: dict[str, list[float]],
    bar: Any,
    report: Callable[[int, float], None] | None,
    last_good: Callable[[], str],
    latest_eval: Mapping[str, float],
) -> None:
    """Appends a chunk's losses and metrics; raises at the first non-finite loss.

    A non-finite loss at a step that loss scaling skipped (metric
    ``overflow`` 1) is not an error: the scale was lowered instead.
    """
    first, n, chunk_losses, chunk_metrics = pending
    values = np.asarray(DataParallel.to_host(chunk_losses))[:n]
    skipped = chunk_metrics.get("overflow") if "loss_scale" in chunk_metrics else None
    ok = np.isfinite(values)
    if skipped is not None:
        ok |= np.asarray(DataParallel.to_host(skipped))[:n] > 0
    bad = np.flatnonzero(~ok)
    if bad.size:
        at = first + int(bad[0])
        raise NonFiniteLossError(
            f"the loss is {values[bad[0]]} at step {at}; the run diverged. Lower "
            f"the learning rate or check the data. {last_good()}",
            at,
        )
    losses.extend(values.tolist())
    latest = {"loss": f"{values[-1]:.4g}"}
    for name, value in DataParallel.to_host(dict(chunk_metrics)).items():
        got = np.asarray(value, np.float64)[:n]
        metrics.setdefault(name, []).extend(got.tolist())
        latest[name] = f"{got[-1]:.4g}"
    latest.update({f"eval_{k}": f"{v:.4g}" for k, v in latest_eval.items()})
    step = first + values.size
    if bar is not None:
        bar.update(values.size)
        bar.set_postfix(latest, refresh=False)
    if report is not None:
        report(step, float(values[-1]))


def close_bar(
    bar: Any,
    final_loss: float,
    metrics: Mapping[str, list[float]],
    latest_eval: Mapping[str, float],
) -> None:
    """Shows the run's closing numbers on the bar, as the result and the summary have them.

    The loss after the last update (``TrainResult.final_loss``) and the final
    evaluation; during the run the bar shows each chunk's last loss, taken before its update.
    """
    latest = {"loss": f"{final_loss:.4g}"}
    latest.update({name: f"{values[-1]:.4g}" for name, values in metrics.items() if values})
    latest.update({f"eval_{k}": f"{v:.4g}" for k, v in latest_eval.items()})
    bar.set_postfix(latest, refresh=True)


def check_finite_loss(
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
        array = to_numpy(value)
        if np.issubdtype(array.dtype, np.inexact) and not np.isfinite(array).all():
            raise NonFiniteLossError(
                f"the update that ends at step {step} made {name} non-finite (NaN or "
                f"inf); the run diverged and nothing was saved at step {step}. Lower "
                f"the learning rate or check the data. {last_good()}",
                step,
            )


def newest_eval(evals: list[tuple[int, dict[str, float]]]) -> dict[str, float]:
    """The metrics of the newest evaluation (empty before the first)."""
    return evals[-1][1] if evals else {}
