"""A clear error for dm-haiku's ``apply(params, rng, x)`` habit on an apply that takes no rng."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from minihaiku.core._errors import InvalidArgumentTypeError

__all__ = ["stray_rng"]


def _looks_like_key(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return False
    if jnp.issubdtype(dtype, jax.dtypes.prng_key):
        return True
    return getattr(x, "shape", None) == (2,) and np.dtype(dtype) == np.uint32


def stray_rng(
    f: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any], leading: str
) -> InvalidArgumentTypeError | None:
    """The error for a ``TypeError`` of ``f`` caused by a PRNG key passed as its first input.

    Called only after ``f(*args, **kwargs)`` raised ``TypeError`` in an apply
    that takes no rng: when ``args[0]`` is a key and ``f``'s signature binds
    the arguments without it but not with it, the key was meant as dm-haiku's
    ``apply(params, rng, x)``. Otherwise ``None``: ``f``'s own error stands.

    Examples:
      >>> key = jax.random.key(0)
      >>> err = stray_rng(lambda x: x, (key, 1.0), {}, "params")
      >>> type(err).__name__
      'InvalidArgumentTypeError'
      >>> stray_rng(lambda x: x, (1.0,), {}, "params") is None
      True
    """
    if not args or not _looks_like_key(args[0]):
        return None
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        return None
    try:
        sig.bind(*args, **kwargs)
        return None  # the arguments fit: the TypeError is f's own
    except TypeError:
        pass
    try:
        sig.bind(*args[1:], **kwargs)
    except TypeError:
        return None
    name = getattr(f, "__qualname__", None) or repr(f)
    return InvalidArgumentTypeError(
        f"apply({leading}, rng, ...) passed a PRNG key to {name} as its first input: this "
        "apply takes no rng (the function was transformed without apply_rng=True). Call "
        f"apply({leading}, *inputs) without the key (dm-haiku's apply(params, rng, x) does "
        f"not carry over), or transform {name} with apply_rng=True to give apply an rng."
    )
