"""Plots of a fit (matplotlib, from the ``plot`` extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from minihaiku.training._errors import TrainingError

__all__ = ["plot_fit"]


def plot_fit(
    xs: np.ndarray,
    ys: np.ndarray,
    prediction: np.ndarray,
    path: str | Path,
    losses: np.ndarray | None = None,
) -> Path:
    """Saves the data (dots) and the model's prediction (a line), and the loss curve, as a PNG.

    Examples:
      >>> plot_fit(xs, ys, apply(params, xs), "fit.png")  # doctest: +SKIP
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise TrainingError(
            "plotting needs matplotlib: pip install 'minihaiku-training[plot]', or pass --no-plot."
        ) from e
    path = Path(path)
    n = 2 if losses is not None and len(losses) else 1
    fig, axes = plt.subplots(1, n, figsize=(6 * n, 4.5), squeeze=False)
    ax = axes[0, 0]
    ax.scatter(np.ravel(xs), np.ravel(ys), s=12, label="Data")
    # The prediction is a line over x in order, so the data points stay visible.
    order = np.argsort(np.ravel(xs), kind="stable")
    ax.plot(
        np.ravel(xs)[order], np.ravel(prediction)[order], color="C1", lw=2, label="Model prediction"
    )
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Quadratic fit")
    ax.legend()
    if n == 2:
        ax = axes[0, 1]
        ax.semilogy(np.arange(len(losses)), losses)  # type: ignore[arg-type]
        ax.set_xlabel("step")
        ax.set_ylabel("MSE (before the step)")
        ax.set_title("Training loss")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
