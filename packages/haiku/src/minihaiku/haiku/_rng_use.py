"""dm-haiku's ``optimize_rng_use``: reserve the keys a function draws, all at once.

``optimize_rng_use(fun)`` counts the keys ``fun`` draws (random initializers
in ``init``, ``next_rng_key`` calls; as dm-haiku, not ``next_rng_keys`` and
``maybe_next_rng_key``) by
running it abstractly in a transform of its own, then calls
``hk.reserve_rng_keys(count)`` and runs ``fun``: one split for all of them,
so the keys are dm-haiku's for the same program.

Examples:
  >>> import minihaiku.haiku as hk
  >>> def f():
  ...   return hk.next_rng_key(), hk.next_rng_key()
  >>> def g():
  ...   hk.reserve_rng_keys(2)
  ...   return f()
  >>> a = hk.transform(hk.experimental.optimize_rng_use(f)).apply({}, jax.random.PRNGKey(0))
  >>> b = hk.transform(g).apply({}, jax.random.PRNGKey(0))
  >>> all(bool((x == y).all()) for x, y in zip(a, b))
  True
"""

from __future__ import annotations

import contextvars
import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import jax

import minihaiku.core as core
from minihaiku.core import HAIKU
from minihaiku.core._frame import current_frame  # the counting run's keys
from minihaiku.core._schemes import HaikuKeys
from minihaiku.core.checks import check_callable
from minihaiku.haiku._flags import maybe_get_rng_sequence_state

__all__ = ["optimize_rng_use"]

F = TypeVar("F", bound=Callable[..., Any])

#: The draws counted in the current count (``None``: not counting).
_COUNT: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "minihaiku_haiku_rng_count", default=None
)


class _CountingKeys(HaikuKeys):
    """The haiku keys of the counting run: counts ``next_rng_key`` draws and random inits.

    ``next_rng_keys`` and ``maybe_next_rng_key`` are not counted, as dm-haiku counts them not.
    """

    __slots__ = ()

    def param_key(self, salt: int) -> Any:
        _tick()
        return super().param_key(salt)

    def draw(self) -> Any:
        if sys._getframe(1).f_code.co_name != "maybe_next_rng_key":  # dm-haiku counts it not
            _tick()
        return super().draw()


def _tick() -> None:
    box = _COUNT.get()
    if box is not None:
        box[0] += 1


def _count(fun: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """How many keys ``fun`` draws in this phase (init or apply), run abstractly on its own."""
    in_init = core.running_init()
    box = [0]

    def counted() -> None:
        keys = current_frame("optimize_rng_use").keys
        if type(keys) is HaikuKeys:
            keys.__class__ = _CountingKeys
        fun(*args, **kwargs)

    inner = core.transform_with_state(counted, apply_rng=True, scheme=HAIKU)

    def run() -> None:
        key = jax.random.PRNGKey(0)
        params, state = inner.init(key)
        if not in_init:  # apply's draws: those of a run with all params there
            box[0] = 0
            inner.apply(params, state, key)

    token = _COUNT.set(box)
    try:
        jax.eval_shape(run)  # the arguments stay as they are (closed over): nothing runs
    finally:
        _COUNT.reset(token)
    return box[0]


def optimize_rng_use(fun: F) -> F:
    """dm-haiku's ``hk.experimental.optimize_rng_use``: the keys ``fun`` draws, split at once.

    Keys (and so initial values) are dm-haiku's for the same program. The
    count runs ``fun`` abstractly in a transform of its own, so ``fun`` must
    not depend on the caller's params or state other than its arguments.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.transform(hk.experimental.optimize_rng_use(lambda x: hk.nets.MLP([2, 2])(x)))
      >>> list(f.init(jax.random.PRNGKey(0), jnp.ones((1, 3))))
      ['mlp/~/linear_0', 'mlp/~/linear_1']
    """
    check_callable(fun, "fun", "optimize_rng_use")

    @functools.wraps(fun)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if maybe_get_rng_sequence_state() is not None:
            core.reserve_rng_keys(_count(fun, args, kwargs))
        return fun(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
