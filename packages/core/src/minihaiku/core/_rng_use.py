"""``optimize_rng_use``: dm-haiku's key reservation, a no-op under path-derived keys."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from minihaiku.core._transform import check_callable

__all__ = ["optimize_rng_use"]

F = TypeVar("F", bound=Callable[..., Any])


def optimize_rng_use(fun: F) -> F:
    """Returns ``fun`` unchanged in behaviour (dm-haiku's ``optimize_rng_use``).

    dm-haiku draws each ``next_rng_key`` by splitting the previous key, so
    ``optimize_rng_use`` first counts the draws (under ``jax.eval_shape``) and
    then splits the key once into that many, which shortens the traced
    program. minihaiku derives every key directly from the call's key and a
    counter (one ``fold_in``, computed on the host when the key is concrete),
    so there is no chain of splits to shorten: the wrapper only keeps code
    written for dm-haiku running, and the keys it draws are the ones it would
    draw without it.

    Examples:
      >>> from minihaiku.core import next_rng_key, optimize_rng_use, transform
      >>> def f():
      ...   return next_rng_key(), next_rng_key()
      >>> plain = transform(f, apply_rng=True).apply({}, 0)
      >>> wrapped = transform(optimize_rng_use(f), apply_rng=True).apply({}, 0)
      >>> all(bool((jax.random.key_data(a) == jax.random.key_data(b)).all())
      ...     for a, b in zip(plain, wrapped))
      True
    """
    check_callable(fun, "optimize_rng_use")

    @functools.wraps(fun)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fun(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
