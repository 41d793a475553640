"""Trace checks: catching raw JAX transforms that would leak tracers.

A frame remembers the JAX trace it started in. Creating a parameter, writing
state or drawing a key under a *different* trace means a raw ``jax.vmap``,
``jax.jit``, ``lax.scan``... was entered inside the transformed function: the
value would escape that transform as a tracer. Reading parameters is never
checked, so ``apply`` pays nothing for this.
"""

from __future__ import annotations

from typing import Any

from minihaiku.core._errors import UnliftedTransformError

try:  # the public name since jax 0.6.1; jax 0.6.0 has it only privately
    from jax.extend.core import get_opaque_trace_state as _trace_state_fn
except ImportError:  # pragma: no cover - depends on the jax version
    from jax._src.core import get_opaque_trace_state as _trace_state_fn

__all__ = ["check_trace", "trace_state"]


def trace_state() -> Any:
    """An opaque token for the JAX trace the caller runs in (compare with ``==``).

    Examples:
      >>> trace_state() == trace_state()
      True
    """
    return _trace_state_fn(convention="haiku")  # type: ignore[no-untyped-call]


def _raw_transform_hint() -> str:
    """Names the raw JAX transform the caller runs under, and the lifted one to use."""
    try:
        from jax._src.core import trace_ctx

        kind = type(trace_ctx.trace).__name__
    except Exception:  # pragma: no cover - JAX internals moved
        kind = ""
    if kind == "BatchTrace":
        return "jax.vmap; use minihaiku.core.vmap"
    if kind in ("JVPTrace", "LinearizeTrace"):
        return "jax.grad or jax.jvp; use minihaiku.core.grad or value_and_grad"
    return (
        "jax.jit, lax.scan, lax.cond, lax.switch, lax.fori_loop, lax.while_loop, "
        "lax.map or jax.checkpoint; use minihaiku.core.scan, cond, switch, fori_loop, "
        "while_loop, map or remat, and jit the whole init/apply instead of parts"
    )


def check_trace(started_in: Any, what: str) -> None:
    """Raises unless the caller runs in the JAX trace ``started_in`` (a frame's ``trace``).

    Raises:
      UnliftedTransformError: naming ``what`` was done, the raw transform and
        the lifted form to use instead.
    """
    if started_in != trace_state():
        raise UnliftedTransformError(
            f"{what} inside a raw JAX transform that was applied inside the "
            f"transformed function ({_raw_transform_hint()}). The value would leak "
            "out of that transform as a tracer. The lifted forms in minihaiku.core "
            "thread parameters, state and keys through the transform for you."
        )
