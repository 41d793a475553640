"""What :func:`train` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

from minihaiku.training._loss_scale import ScaledOptState

__all__ = ["TrainResult"]


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
      params: the trained params (frozen ones unchanged).
      opt_state: the optimizer state, for continuing (``train(..., opt_state=)``);
        with ``loss_scale=`` a ``ScaledOptState`` that also holds the scale.
      losses: the loss before each step, from step 0 (restored steps included).
      step: the number of steps done in all.
      final_loss: the loss at the final params (on the full batch, or on the
        last minibatch).
      steps_per_second: steps done in this call per second of running them,
        compilation and checkpoint writing excluded.
      compile_seconds: time spent compiling.
      resumed_from: the step of the checkpoint resumed, if any.
      checkpoints: the steps saved in this call.
      state: the model state (``transform_with_state`` models), else ``None``.
      metrics: the loss's metrics (``has_aux``) at each step of this call.
      evals: ``(step, metrics)`` of each evaluation (``evaluate=``).
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
    state: Any = None
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    evals: list[tuple[int, dict[str, float]]] = field(default_factory=list)

    @property
    def loss_scale(self) -> float | None:
        """The loss scale reached (``train(..., loss_scale=)``), else ``None``."""
        if not isinstance(self.opt_state, ScaledOptState):
            return None
        return float(self.opt_state.loss_scale.scale)
