"""Telling a traced JAX value from a concrete one with public JAX API only.

A JAX array is concrete when it is one of the array types JAX makes outside
any trace (its array and its typed-key array); every other ``jax.Array`` is a
tracer. The two types are found once, on first use, under
``jax.ensure_compile_time_eval`` (so even a first call inside ``jit`` sees
them), instead of naming ``jax.core.Tracer``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["is_tracer"]

_CONCRETE: list[tuple[type, ...]] = []


def _concrete_types() -> tuple[type, ...]:
    if not _CONCRETE:
        with jax.ensure_compile_time_eval():
            _CONCRETE.append((type(jnp.zeros(())), type(jax.random.key(0))))
    return _CONCRETE[0]


def is_tracer(value: Any) -> bool:
    """Whether ``value`` is a JAX tracer (a ``jax.Array`` that is not concrete).

    Examples:
      >>> is_tracer(jnp.ones(2)), is_tracer(np.ones(2)), is_tracer(1.0)
      (False, False, False)
      >>> seen = []
      >>> _ = jax.jit(lambda x: seen.append(is_tracer(x)) or x)(1.0)
      >>> seen
      [True]
    """
    return isinstance(value, jax.Array) and not isinstance(value, _concrete_types())
