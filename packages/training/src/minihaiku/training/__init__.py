"""minihaiku.training: the training loop, checkpoints, and the quadratic-fit job.

Examples:
  >>> import optax
  >>> from minihaiku.training import quadratic_data, quadratic_model, train
  >>> xs, ys = quadratic_data()
  >>> model = quadratic_model()
  >>> result = train(model, model.init(0, xs), (xs, ys), optax.sgd(0.003), 100,
  ...                progress=False)
  >>> result.step
  100
"""

from typing import TYPE_CHECKING, Any

from minihaiku.training._checkpoints import (
    Checkpointer,
    DirectoryLock,
    Restored,
    ensure_writable_dir,
    tree_digest,
)
from minihaiku.training._errors import (
    CheckpointError,
    DataError,
    DataTypeError,
    NonFiniteLossError,
    OutputDirectoryError,
    ParamsFileError,
    TrainingError,
)
from minihaiku.training._export import load_params, save_params
from minihaiku.training._freeze import (
    FrozenSpec,
    check_frozen_matches,
    frozen_predicate,
    partition,
)
from minihaiku.training._loop import TrainResult, train
from minihaiku.training._loss_scale import (
    DynamicLossScale,
    LossScaleState,
    ScaledOptState,
    StaticLossScale,
)
from minihaiku.training._losses import Loss, accuracy, mse_loss, softmax_cross_entropy
from minihaiku.training._placement import DataParallel
from minihaiku.training._version import __version__

if TYPE_CHECKING:
    from minihaiku.training.fit import (
        QuadraticFit,
        plot_fit,
        quadratic_data,
        quadratic_model,
        run_quadratic_fit,
    )

# The quadratic-fit app (minihaiku.training.fit, the one part that imports
# minihaiku.layers) is re-exported lazily: importing the library does not load it.
_FIT_NAMES = frozenset(
    ["QuadraticFit", "plot_fit", "quadratic_data", "quadratic_model", "run_quadratic_fit"]
)


def __getattr__(name: str) -> Any:
    if name in _FIT_NAMES:
        from minihaiku.training import fit

        return getattr(fit, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CheckpointError",
    "Checkpointer",
    "DataError",
    "DataParallel",
    "DataTypeError",
    "DirectoryLock",
    "FrozenSpec",
    "Loss",
    "NonFiniteLossError",
    "OutputDirectoryError",
    "ParamsFileError",
    "QuadraticFit",
    "Restored",
    "TrainResult",
    "TrainingError",
    "__version__",
    "accuracy",
    "check_frozen_matches",
    "ensure_writable_dir",
    "frozen_predicate",
    "load_params",
    "mse_loss",
    "partition",
    "plot_fit",
    "quadratic_data",
    "quadratic_model",
    "run_quadratic_fit",
    "save_params",
    "softmax_cross_entropy",
    "train",
    "tree_digest",
    # loss scaling
    "DynamicLossScale",
    "LossScaleState",
    "ScaledOptState",
    "StaticLossScale",
]
