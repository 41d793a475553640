"""The seed's experiment: fit ``y = x**2`` with an MLP [128, 128, 1]."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
import optax

from minihaiku.core import Transformed, transform
from minihaiku.layers import MLP
from minihaiku.training._loop import TrainResult, train

__all__ = ["QuadraticFit", "quadratic_data", "quadratic_model", "run_quadratic_fit"]


def quadratic_data(n: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of ``y = x**2`` on [-2, 2], as float32 arrays of shape (n, 1).

    Examples:
      >>> xs, ys = quadratic_data()
      >>> xs.shape, float(ys[0, 0])
      ((128, 1), 4.0)
    """
    xs = np.linspace(-2.0, 2.0, num=n, dtype=np.float32)[:, None]
    return xs, xs**2


def quadratic_model(sizes: Sequence[int] = (128, 128, 1)) -> Transformed:
    """The seed's model: an MLP with sigmoid activations and stddev-1 normal inits.

    Examples:
      >>> sorted(quadratic_model().init(0, np.ones((1, 1))))[0]
      '~/MLP_0/__call__/Linear_0/__call__/b'
    """
    return transform(
        lambda x: MLP(sizes, activation=jax.nn.sigmoid, w_init="normal", b_init="normal")(x)
    )


@dataclass
class QuadraticFit:
    """The data, the model and the training result of one fit."""

    xs: np.ndarray
    ys: np.ndarray
    model: Transformed
    result: TrainResult


def run_quadratic_fit(
    steps: int = 5000,
    lr: float = 0.003,
    seed: int = 0,
    *,
    sizes: Sequence[int] = (128, 128, 1),
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    progress: bool = True,
) -> QuadraticFit:
    """Runs the seed's experiment: full-batch SGD on the MSE.

    Examples:
      >>> fit = run_quadratic_fit(steps=10, progress=False)
      >>> fit.result.step
      10
    """
    xs, ys = quadratic_data()
    model = quadratic_model(sizes)
    params = model.init(jax.random.key(seed), xs)
    result = train(
        model,
        params,
        (xs, ys),
        optax.sgd(lr),
        steps,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every,
        resume=resume,
        progress=progress,
    )
    return QuadraticFit(xs, ys, model, result)
