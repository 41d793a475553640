"""Trace checks: catching raw JAX transforms that would leak tracers.

A frame remembers the Python stack frame that entered it. Creating a
parameter, writing state or drawing a key with a JAX *tracing* stack frame
between that entry and the call means a raw ``jax.vmap``, ``jax.jit``,
``lax.scan``... was entered inside the transformed function: the value would
escape that transform as a tracer. Every JAX transform traces the user's
function from one of the three interpreter modules (``batching`` for vmap,
``ad`` for grad/jvp, ``partial_eval`` for jit, eval_shape, control flow and
checkpoint); ``jax.tree.map``, ``jax.named_call`` and custom_jvp/vjp outside a
transform do not. Only file names are read: no JAX internal is imported.
Reading parameters is never checked, so ``apply`` pays nothing for this.
"""

from __future__ import annotations

import contextlib
import os
import sys
from types import FrameType
from typing import Any

import jax

from minihaiku.core._errors import UnliftedTransformError

__all__ = ["check_trace", "trace_state"]

_INTERPRETERS = os.path.join(os.path.dirname(jax.__file__), "_src", "interpreters") + os.sep
_SKIP = frozenset({os.path.join(os.path.dirname(__file__), "_frame.py"), contextlib.__file__})
_HINTS = {
    "batching.py": "jax.vmap; use minihaiku.core.vmap",
    "ad.py": "jax.grad or jax.jvp; use minihaiku.core.grad or value_and_grad",
}
_GENERIC = (
    "jax.jit, lax.scan, lax.cond, lax.switch, lax.fori_loop, lax.while_loop, "
    "lax.map or jax.checkpoint; use minihaiku.core.scan, cond, switch, fori_loop, "
    "while_loop, map or remat, and jit the whole init/apply instead of parts"
)


def trace_state() -> int | None:
    """Names the caller's Python stack frame, where a frame starts (compare with ``==``).

    Frames of the frame-entering machinery (``_frame.py``, ``contextlib``) are
    skipped, so the result names the frame that runs the ``with running(...)``.
    It is the stack frame's ``id`` (it is on the stack while the transform's
    frame is current), so no stack frame is kept alive.

    Examples:
      >>> trace_state() == trace_state()
      True
    """
    f: FrameType | None = sys._getframe(1)
    while f is not None and f.f_code.co_filename in _SKIP:
        f = f.f_back
    return None if f is None else id(f)


def _raw_transform(started_in: Any) -> str | None:
    """The hint for the innermost raw JAX transform between ``started_in`` and here."""
    f: FrameType | None = sys._getframe(2)
    hint = None
    while f is not None and id(f) != started_in:
        name = f.f_code.co_filename
        if hint is None and name.startswith(_INTERPRETERS):
            hint = _HINTS.get(name[len(_INTERPRETERS) :], _GENERIC)
        f = f.f_back
    return None if f is None else hint


def check_trace(started_in: Any, what: str) -> None:
    """Raises if a raw JAX transform runs between ``started_in`` (a frame's ``trace``) and here.

    Raises:
      UnliftedTransformError: naming ``what`` was done, the raw transform and
        the lifted form to use instead.
    """
    hint = _raw_transform(started_in)
    if hint is not None:
        raise UnliftedTransformError(
            f"{what} inside a raw JAX transform that was applied inside the "
            f"transformed function ({hint}). The value would leak "
            "out of that transform as a tracer. The lifted forms in minihaiku.core "
            "thread parameters, state and keys through the transform for you."
        )
