"""The one check of the built-in initializers that core's checks do not hold.

The arguments of the factories (``stddev``, ``mode``, ...) are checked with
:mod:`minihaiku.core.checks`; this module only checks the dtype an
initializer is *called* with, an :class:`~minihaiku.core.InitializerError`
(raised while a parameter is created, so core adds the parameter's path).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from minihaiku.core import InitializerError

__all__ = ["check_random_dtype"]

_INEXACT: set[Any] = set()


def check_random_dtype(value: Any, name: str, where: str) -> None:
    """Raises if the dtype ``value`` cannot hold random floats.

    ``name`` is the argument's name (``"dtype"``), ``where`` the initializer.

    Examples:
      >>> check_random_dtype(jnp.float32, "dtype", "normal")
      >>> check_random_dtype(jnp.int32, "dtype", "normal")
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.InitializerError: normal draws random floats and cannot fill
      dtype int32; use a float dtype, or the 'constant'/'zeros' initializer for integer
      parameters.
    """
    del name  # the message names the dtype itself
    if value in _INEXACT:
        return
    if jnp.issubdtype(np.dtype(value), jnp.inexact):
        _INEXACT.add(value)
        return
    raise InitializerError(
        f"{where} draws random floats and cannot fill dtype {np.dtype(value)}; "
        "use a float dtype, or the 'constant'/'zeros' initializer for "
        "integer parameters."
    )
