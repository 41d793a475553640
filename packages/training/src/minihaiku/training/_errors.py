"""Errors of minihaiku.training."""

from __future__ import annotations

from minihaiku.core import MinihaikuError

__all__ = [
    "CheckpointError",
    "DataError",
    "DataTypeError",
    "NonFiniteLossError",
    "OutputDirectoryError",
    "ParamsFileError",
    "TrainingError",
]


class TrainingError(MinihaikuError):
    """Base class of the training errors."""


class NonFiniteLossError(TrainingError, FloatingPointError):
    """The loss became NaN or infinite; ``step`` says at which step."""

    def __init__(self, message: str, step: int) -> None:
        super().__init__(message)
        self.step = step


class CheckpointError(TrainingError, ValueError):
    """A checkpoint is missing, corrupt, or does not match the model."""


class ParamsFileError(TrainingError, ValueError):
    """A params file (safetensors) cannot be written or read, or does not match."""


class OutputDirectoryError(TrainingError, OSError):
    """An output directory cannot be created or written, or holds foreign files."""


class DataError(TrainingError, ValueError):
    """The training data is unusable: batches of changing shapes, or it ran dry."""


class DataTypeError(DataError, TypeError):
    """A leaf of the training or evaluation data is not numbers (a string, an object).

    Examples:
      >>> import optax
      >>> from minihaiku.training import train
      >>> def loss(p, batch):
      ...   return jnp.mean(p["w"] * batch["x"])
      >>> batch = {"x": np.ones(3, np.float32), "label": "cat"}
      >>> train(loss, {"w": jnp.ones(())}, batch, optax.sgd(0.1), 1, progress=False)
      Traceback (most recent call last):
        ...
      minihaiku.training._errors.DataTypeError: data['label'] is a str, not an array of numbers ...
    """
