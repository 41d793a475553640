"""``check_jax_usage``: also catch parameter and state *reads* under a raw JAX transform."""

from __future__ import annotations

from typing import Any

from minihaiku.core._custom import Customs, GetterContext
from minihaiku.core._frame import current_frame
from minihaiku.core._frame_defaults import FRAME_DEFAULTS
from minihaiku.core._trace import check_trace
from minihaiku.core.checks import check_bool

__all__ = ["check_jax_usage"]


def _check_param_read(path: str, value: Any) -> Any:
    check_trace(current_frame("get_param").trace, f"reading parameter {path!r}")
    return value


def _check_state_read(next_getter: Any, value: Any, context: GetterContext) -> Any:
    check_trace(current_frame("get_state").trace, f"reading state {context.full_name!r}")
    return next_getter(value)


_CHECKS = Customs(state_getters=(_check_state_read,), state=True)


def check_jax_usage(enabled: bool = True) -> bool:
    """Makes raw JAX transforms around parameter and state *reads* an error too.

    minihaiku always refuses to create a parameter or state entry, write state
    or draw a key inside a raw ``jax.vmap``/``jax.jit``/``jax.lax.cond``... used
    inside a transformed function (``UnliftedTransformError``: use the lifted
    form, e.g. :func:`~minihaiku.core.vmap`). Reading is allowed, as it is
    harmless in JAX and free on the fast path. With ``check_jax_usage()``
    (dm-haiku's ``check_jax_usage``) reads are checked as well, for transforms
    whose ``init``/``apply`` start from now on: a program that passes this
    check uses lifted transforms everywhere dm-haiku's would require them.
    Process-wide; returns the previous setting (restore it with
    ``check_jax_usage(previous)``).

    Examples:
      >>> import minihaiku.core as mh
      >>> def f(xs):
      ...   return jax.vmap(lambda x: x * mh.get_param("w", (), init="ones"))(xs)
      >>> f = mh.transform(f)
      >>> params = {"~/w": jnp.ones(())}
      >>> f.apply(params, jnp.ones(2))  # reading under jax.vmap: allowed by default
      Array([1., 1.], dtype=float32)
      >>> previous = mh.check_jax_usage(True)
      >>> f.apply(params, jnp.ones(2))
      Traceback (most recent call last):
      ...
      minihaiku.core._errors.UnliftedTransformError: reading parameter '~/w' inside a raw JAX ...
      >>> mh.check_jax_usage(previous)
      True
    """
    on = check_bool(enabled, "enabled", "check_jax_usage")
    previous = bool(FRAME_DEFAULTS.param_interceptors)
    FRAME_DEFAULTS.param_interceptors = (_check_param_read,) if on else ()
    FRAME_DEFAULTS.custom = _CHECKS if on else None
    return previous
