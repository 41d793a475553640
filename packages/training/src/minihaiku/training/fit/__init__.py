"""The quadratic-fit app: the seed's experiment and its ``minihaiku-fit`` command.

This subpackage is an application of the training library (it is the only part of
``minihaiku.training`` that imports ``minihaiku.layers``); the library's own modules
never import it. ``minihaiku.training`` re-exports its public names lazily.

Examples:
  >>> from minihaiku.training.fit import quadratic_data
  >>> xs, ys = quadratic_data(8)
  >>> xs.shape, ys.shape
  ((8, 1), (8, 1))
"""

from minihaiku.training.fit._plot import plot_fit
from minihaiku.training.fit._quadratic import (
    QuadraticFit,
    quadratic_data,
    quadratic_model,
    run_quadratic_fit,
)

__all__ = ["QuadraticFit", "plot_fit", "quadratic_data", "quadratic_model", "run_quadratic_fit"]
