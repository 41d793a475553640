"""dm-haiku's ``haiku.testing``: ``transform_and_run`` for unit tests of modules.

Examples:
  >>> import minihaiku.haiku as hk
  >>> @hk.testing.transform_and_run
  ... def out_shape():
  ...   return hk.Linear(2)(jnp.ones((1, 3))).shape
  >>> out_shape()
  (1, 2)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import jax

from minihaiku.core.checks import check_callable
from minihaiku.haiku._transforms import transform_with_state

__all__ = ["transform_and_run"]

T = TypeVar("T")


def transform_and_run(
    f: Callable[..., T] | None = None,
    seed: int | None = 42,
    run_apply: bool = True,
    jax_transform: Callable[[Callable[..., T]], Callable[..., T]] | None = None,
    *,
    map_rng: Callable[[Any], Any] | None = None,
) -> T:
    """dm-haiku's ``hk.testing.transform_and_run``: transforms ``f``, runs init, then apply.

    ``transform_and_run(f)(*args)`` is ``hk.transform_with_state(f)``'s
    ``init(rng, *args)`` followed by ``apply(params, state, rng, *args)``,
    returning ``f``'s output from ``apply`` (``None`` with ``run_apply=False``).
    ``init`` gets ``jax.random.PRNGKey(seed)``, ``apply`` ``PRNGKey(seed + 1)``
    (both ``None`` if ``seed`` is), each passed through ``map_rng`` if given;
    ``jax_transform`` (e.g. ``jax.jit``) wraps ``init`` and ``apply``. Without ``f``
    it returns a decorator.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> run = hk.testing.transform_and_run(jax_transform=jax.jit)
      >>> run(lambda x: hk.Bias(b_init=jnp.ones)(x))(jnp.zeros((1, 2)))
      Array([[1., 1.]], dtype=float32)
    """
    if f is None:
        return functools.partial(  # type: ignore[return-value]
            transform_and_run,
            seed=seed,
            run_apply=run_apply,
            jax_transform=jax_transform,
            map_rng=map_rng,
        )
    check_callable(f, "f", "transform_and_run")

    @functools.wraps(f)
    def run(*args: Any, **kwargs: Any) -> Any:
        transformed = transform_with_state(f)
        init: Callable[..., Any] = transformed.init
        apply: Callable[..., Any] = transformed.apply
        if jax_transform is not None:
            wrap: Callable[[Callable[..., Any]], Callable[..., Any]] = jax_transform
            init, apply = wrap(init), wrap(apply)
        init_rng = None if seed is None else jax.random.PRNGKey(seed)
        apply_rng = None if seed is None else jax.random.PRNGKey(seed + 1)
        if map_rng is not None:
            init_rng, apply_rng = map_rng(init_rng), map_rng(apply_rng)
        params, state = init(init_rng, *args, **kwargs)
        if not run_apply:
            return None
        out, _ = apply(params, state, apply_rng, *args, **kwargs)
        return out

    return run  # type: ignore[return-value]
