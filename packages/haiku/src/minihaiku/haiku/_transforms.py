"""dm-haiku's transforms: the core transforms under the haiku scheme, with dm-haiku's arguments."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import jax

import minihaiku.core as core
from minihaiku.core import (
    HAIKU,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    MultiTransformed,
    MultiTransformedWithState,
    Transformed,
    TransformedWithState,
)

__all__ = [
    "multi_transform",
    "multi_transform_with_state",
    "transform",
    "transform_with_state",
    "without_apply_rng",
]

TransformedT = TypeVar("TransformedT")


def transform(f: Callable[..., Any], *, apply_rng: bool = True) -> Transformed:
    """dm-haiku's ``hk.transform``: ``init(rng, *args)``, ``apply(params, rng, *args)``.

    Names, layout and initial values are dm-haiku's (the haiku scheme of
    :func:`minihaiku.core.transform`). ``rng`` may be ``None`` where nothing
    random runs; :func:`without_apply_rng` drops ``apply``'s ``rng``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.transform(lambda x: hk.Linear(2)(x))
      >>> params = f.init(jax.random.PRNGKey(0), jnp.ones((1, 3)))
      >>> {k: list(v) for k, v in params.items()}
      {'linear': ['w', 'b']}
      >>> f.apply(params, None, jnp.ones((1, 3))).shape
      (1, 2)
    """
    if apply_rng is not True:
        raise InvalidArgumentError(
            f"transform(apply_rng={apply_rng!r}): dm-haiku removed apply_rng=False; "
            "apply always takes an rng (which may be None). Use "
            "hk.without_apply_rng(hk.transform(f)) for apply(params, *args)."
        )
    return core.transform(f, apply_rng=True, scheme=HAIKU)


def transform_with_state(f: Callable[..., Any]) -> TransformedWithState:
    """dm-haiku's ``hk.transform_with_state``: ``apply(params, state, rng, *args)``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> def f():
      ...   n = hk.get_state("n", [], jnp.int32, init=jnp.zeros)
      ...   hk.set_state("n", n + 1)
      ...   return n
      >>> init, apply = hk.transform_with_state(f)
      >>> params, state = init(None)
      >>> apply(params, state, None)
      (Array(0, dtype=int32), {'~': {'n': Array(1, dtype=int32)}})
    """
    return core.transform_with_state(f, apply_rng=True, scheme=HAIKU)


def multi_transform(f: Callable[[], tuple[Callable[..., Any], Any]]) -> MultiTransformed:
    """dm-haiku's ``hk.multi_transform``: entry points ``apply_fn(params, rng, *args)``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> def f():
      ...   lin = hk.Linear(2)
      ...   return lin, (lin, lambda x: lin(x) * 2)
      >>> init, (once, twice) = hk.multi_transform(f)
      >>> params = init(jax.random.PRNGKey(0), jnp.ones((1, 3)))
      >>> list(params)
      ['linear']
    """
    return core.multi_transform(f, apply_rng=True, scheme=HAIKU)


def multi_transform_with_state(
    f: Callable[[], tuple[Callable[..., Any], Any]],
) -> MultiTransformedWithState:
    """dm-haiku's ``hk.multi_transform_with_state``: ``apply_fn(params, state, rng, *args)``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> def f():
      ...   def count():
      ...     hk.set_state("n", hk.get_state("n", [], jnp.int32, init=jnp.zeros) + 1)
      ...   return count, (count,)
      >>> init, (count,) = hk.multi_transform_with_state(f)
      >>> params, state = init(None)
      >>> count(params, state, None)
      (None, {'~': {'n': Array(1, dtype=int32)}})
    """
    return core.multi_transform_with_state(f, apply_rng=True, scheme=HAIKU)


def _drop_rng(fn: Callable[..., Any], apply: Callable[..., Any]) -> None:
    """Shows ``apply``'s signature without ``rng`` on ``fn`` (dm-haiku's ``inspect.signature``)."""
    try:
        sig = inspect.signature(apply)
    except (TypeError, ValueError):  # no signature to show: keep the generic one
        return
    params = [p for p in sig.parameters.values() if p.name != "rng"]
    fn.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]


def without_apply_rng(f: TransformedT) -> TransformedT:
    """dm-haiku's ``hk.without_apply_rng``: ``apply`` without its ``rng`` argument.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.without_apply_rng(hk.transform(lambda x: hk.Linear(2)(x)))
      >>> params = f.init(jax.random.PRNGKey(0), jnp.ones((1, 3)))
      >>> f.apply(params, jnp.ones((1, 3))).shape
      (1, 2)
    """
    if isinstance(f, Transformed):
        apply = f.apply

        def stateless(params: Any, *args: Any, **kwargs: Any) -> Any:
            return apply(params, None, *args, **kwargs)

        _drop_rng(stateless, apply)
        return Transformed(f.init, stateless)  # type: ignore[return-value]
    if isinstance(f, TransformedWithState):
        apply_s = f.apply

        def stateful(params: Any, state: Any, *args: Any, **kwargs: Any) -> Any:
            return apply_s(params, state, None, *args, **kwargs)

        _drop_rng(stateful, apply_s)
        return TransformedWithState(f.init, stateful)  # type: ignore[return-value]
    if isinstance(f, (MultiTransformed, MultiTransformedWithState)):
        with_state = isinstance(f, MultiTransformedWithState)

        def drop(fn: Callable[..., Any]) -> Callable[..., Any]:
            if with_state:
                return lambda params, state, *a, **k: fn(params, state, None, *a, **k)
            return lambda params, *a, **k: fn(params, None, *a, **k)

        fns = jax.tree_util.tree_map(drop, f.apply)
        if isinstance(f, MultiTransformedWithState):
            return MultiTransformedWithState(f.init, fns)  # type: ignore[return-value]
        return MultiTransformed(f.init, fns)  # type: ignore[return-value]
    raise InvalidArgumentTypeError(
        f"without_apply_rng expects what hk.transform, hk.transform_with_state or "
        f"hk.multi_transform return, got {type(f).__name__}."
    )
