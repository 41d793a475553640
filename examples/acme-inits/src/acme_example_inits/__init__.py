"""An example minihaiku initializer plugin.

Registers ``acme_sinusoid``: ``amplitude * sin(frequency * i)`` over the
flattened parameter, a deterministic initializer that needs no key.

Examples:
  >>> from minihaiku.core import get_initializer
  >>> init = get_initializer("acme_sinusoid", amplitude=2.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from minihaiku.core import InitializerError, hookimpl

__all__ = ["minihaiku_register_initializers", "sinusoid"]


def sinusoid(amplitude: float = 1.0, frequency: float = 1.0) -> Callable[..., Any]:
    """Step 1 of 3: a factory returning an ``(key, shape, dtype) -> Array`` initializer."""
    if not math.isfinite(amplitude) or not math.isfinite(frequency):
        raise InitializerError(
            f"acme_sinusoid: amplitude and frequency must be finite, got "
            f"{amplitude!r} and {frequency!r}."
        )

    def init(key: Any, shape: tuple[int, ...], dtype: Any) -> Any:
        n = math.prod(shape)
        return (amplitude * jnp.sin(frequency * jnp.arange(n))).reshape(shape).astype(dtype)

    init.minihaiku_keyless = True  # type: ignore[attr-defined]  # no key needed
    return init


@hookimpl
def minihaiku_register_initializers(register: Callable[[str, Any], None]) -> None:
    """Step 3 of 3: register the factory under a name."""
    register("acme_sinusoid", sinusoid)
