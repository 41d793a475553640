"""``transform`` and ``transform_with_state``: impure functions to pure pairs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax

from minihaiku.core._errors import InvalidParamsError, NotCallableError
from minihaiku.core._frame import Frame, pop_frame, push_frame
from minihaiku.core._keys import as_key

__all__ = [
    "Params",
    "State",
    "Transformed",
    "TransformedWithState",
    "transform",
    "transform_with_state",
]

#: Parameters: a flat mapping from path to array.
Params = Mapping[str, jax.Array]
#: State: a flat mapping from path to array.
State = Mapping[str, jax.Array]


class Transformed(NamedTuple):
    """The pure pair made by :func:`transform`.

    Attributes:
      init: ``init(rng, *args, **kwargs) -> params``.
      apply: ``apply(params, *args, **kwargs) -> out``, or
        ``apply(params, rng, *args, **kwargs)`` with ``apply_rng=True``.
    """

    init: Callable[..., dict[str, jax.Array]]
    apply: Callable[..., Any]


class TransformedWithState(NamedTuple):
    """The pure pair made by :func:`transform_with_state`.

    Attributes:
      init: ``init(rng, *args, **kwargs) -> (params, state)``.
      apply: ``apply(params, state, *args, **kwargs) -> (out, state)``, or
        ``apply(params, state, rng, *args, **kwargs)`` with ``apply_rng=True``.
    """

    init: Callable[..., tuple[dict[str, jax.Array], dict[str, jax.Array]]]
    apply: Callable[..., tuple[Any, dict[str, jax.Array]]]


def _check_mapping(value: Any, what: str) -> Mapping[str, Any]:
    if type(value) is dict or isinstance(value, Mapping):
        return value
    raise InvalidParamsError(
        f"apply expects {what} as a mapping from path to array (what init "
        f"returned), got {type(value).__name__}. Pass the dict that init "
        "returned, or one with the same keys."
    )


def _check_callable(f: Any, what: str) -> None:
    if not callable(f):
        raise NotCallableError(
            f"{what} expects a function, got {type(f).__name__} {f!r:.60}. Pass "
            "the function (or module method) itself, e.g. "
            f"{what}(lambda x: MLP([3, 5])(x))."
        )


def _run(frame: Frame, f: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    token = push_frame(frame)
    try:
        return f(*args, **kwargs)
    finally:
        pop_frame(token)


def _split_rng(apply_rng: bool, args: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
    if not apply_rng:
        return None, args
    if not args:
        raise TypeError(
            "apply was made with apply_rng=True and needs a key after params "
            "(and state): apply(params, rng, *args)."
        )
    rng = args[0]
    return (None if rng is None else as_key(rng, "apply")), args[1:]


def transform(f: Callable[..., Any], *, apply_rng: bool = False) -> Transformed:
    """Turns ``f``, which uses ``get_param``/modules, into pure ``init`` and ``apply``.

    Args:
      f: the function to transform.
      apply_rng: give ``apply`` a key argument (after params), used by
        :func:`next_rng_key`.

    Returns:
      ``Transformed(init, apply)``: ``init(rng, *args)`` runs ``f`` and returns
      the parameters it created (``rng`` is a PRNG key or an int seed);
      ``apply(params, *args)`` runs ``f`` reading those parameters and returns
      its output. ``apply`` never changes or adds parameters.

    Examples:
      >>> def f(x):
      ...   return x * get_param("scale", (), init=jnp.ones)
      >>> init, apply = transform(f)
      >>> params = init(jax.random.key(0), 2.0)
      >>> apply(params, 2.0)
      Array(2., dtype=float32)
    """
    _check_callable(f, "transform")

    def init(rng: Any, *args: Any, **kwargs: Any) -> dict[str, jax.Array]:
        frame = Frame({}, {}, initializing=True, allow_state=False, rng=as_key(rng, "init"))
        _run(frame, f, args, kwargs)
        return frame.params  # type: ignore[return-value]

    def apply(params: Params, *args: Any, **kwargs: Any) -> Any:
        rng, args = _split_rng(apply_rng, args)
        frame = Frame(
            _check_mapping(params, "params"), {}, initializing=False, allow_state=False, rng=rng
        )
        return _run(frame, f, args, kwargs)

    return Transformed(init, apply)


def transform_with_state(f: Callable[..., Any], *, apply_rng: bool = False) -> TransformedWithState:
    """Like :func:`transform`, for functions that also use ``get_state``/``set_state``.

    Returns:
      ``TransformedWithState(init, apply)``: ``init(rng, *args) -> (params,
      state)`` and ``apply(params, state, *args) -> (out, new_state)``. The
      given state is never mutated.

    Examples:
      >>> def f():
      ...   n = get_state("n", (), jnp.int32)
      ...   set_state("n", n + 1)
      ...   return n
      >>> init, apply = transform_with_state(f)
      >>> params, state = init(0)
      >>> apply(params, state)
      (Array(1, dtype=int32), {'n': Array(2, dtype=int32)})
    """
    _check_callable(f, "transform_with_state")

    def init(
        rng: Any, *args: Any, **kwargs: Any
    ) -> tuple[dict[str, jax.Array], dict[str, jax.Array]]:
        frame = Frame({}, {}, initializing=True, allow_state=True, rng=as_key(rng, "init"))
        _run(frame, f, args, kwargs)
        return frame.params, frame.state  # type: ignore[return-value]

    def apply(
        params: Params, state: State, *args: Any, **kwargs: Any
    ) -> tuple[Any, dict[str, jax.Array]]:
        rng, args = _split_rng(apply_rng, args)
        new_state = dict(_check_mapping(state, "state"))
        frame = Frame(
            _check_mapping(params, "params"),
            new_state,
            initializing=False,
            allow_state=True,
            rng=rng,
        )
        return _run(frame, f, args, kwargs), new_state

    return TransformedWithState(init, apply)
