"""``transform`` and ``transform_with_state``: impure functions to pure pairs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, overload

import jax

from minihaiku.core._calls import check_apply_rng, check_callable, check_mapping, split_rng
from minihaiku.core._errors import (
    InvalidArgumentTypeError,
    StateNotAllowedError,
)
from minihaiku.core._frame import ApplyFrame, InitFrame, current_frame, running
from minihaiku.core._keys import as_key
from minihaiku.core._scheme_transform import scheme_pair, scheme_pair_with_state
from minihaiku.core._schemes import SEED, Scheme, as_scheme
from minihaiku.core._signature import copy_signature, show_signature

__all__ = [
    "Params",
    "State",
    "Transformed",
    "TransformedWithState",
    "check_callable",
    "check_mapping",
    "running_init",
    "split_rng",
    "transform",
    "transform_with_state",
    "with_empty_state",
    "without_state",
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

    Examples:
      >>> from minihaiku.core import Transformed, get_param, transform
      >>> f = transform(lambda x: x * get_param("w", (), init=jax.nn.initializers.ones))
      >>> isinstance(f, Transformed)
      True
      >>> params = f.init(0, 2.0)
      >>> params
      {'~/w': Array(1., dtype=float32)}
      >>> f.apply(params, 3.0)
      Array(3., dtype=float32)
      >>> init, apply = f  # a NamedTuple: unpack it
    """

    init: Callable[..., dict[str, jax.Array]]
    apply: Callable[..., Any]


class TransformedWithState(NamedTuple):
    """The pure pair made by :func:`transform_with_state`.

    Attributes:
      init: ``init(rng, *args, **kwargs) -> (params, state)``.
      apply: ``apply(params, state, *args, **kwargs) -> (out, state)``, or
        ``apply(params, state, rng, *args, **kwargs)`` with ``apply_rng=True``.

    Examples:
      >>> from minihaiku.core import TransformedWithState, get_state, set_state
      >>> from minihaiku.core import transform_with_state
      >>> def count():
      ...   n = get_state("n", (), jnp.int32)
      ...   set_state("n", n + 1)
      ...   return n
      >>> f = transform_with_state(count)
      >>> isinstance(f, TransformedWithState)
      True
      >>> params, state = f.init(0)
      >>> params, state
      ({}, {'~/n': Array(0, dtype=int32)})
      >>> out, state = f.apply(params, state)  # pass the new state to the next call
      >>> out, state = f.apply(params, state)
      >>> out, state
      (Array(1, dtype=int32), {'~/n': Array(2, dtype=int32)})
    """

    init: Callable[..., tuple[dict[str, jax.Array], dict[str, jax.Array]]]
    apply: Callable[..., tuple[Any, dict[str, jax.Array]]]


def _transform(f: Callable[..., Any], apply_rng: bool, scheme: Scheme) -> Transformed:
    check_callable(f, "transform")
    if scheme is not SEED:
        scheme_init, scheme_apply = scheme_pair(f, apply_rng, scheme)
        show_signature(scheme_init, f, ("rng",))
        show_signature(scheme_apply, f, ("params", "rng") if apply_rng else ("params",))
        return Transformed(scheme_init, scheme_apply)

    def init(rng: Any, *args: Any, **kwargs: Any) -> dict[str, jax.Array]:
        frame = InitFrame({}, {}, allow_state=False, rng=as_key(rng, "init"))
        with running(frame):
            f(*args, **kwargs)
        return frame.params

    def apply(params: Params, *args: Any, **kwargs: Any) -> Any:
        rng, args = split_rng(apply_rng, args)
        frame = ApplyFrame(check_mapping(params, "params"), {}, allow_state=False, rng=rng)
        with running(frame):
            return f(*args, **kwargs)

    show_signature(init, f, ("rng",))
    show_signature(apply, f, ("params", "rng") if apply_rng else ("params",))
    return Transformed(init, apply)


@overload
def transform(
    f: Callable[..., Any], *, apply_rng: bool = False, scheme: Scheme | str | None = None
) -> Transformed: ...
@overload
def transform(
    f: None = None, *, apply_rng: bool = False, scheme: Scheme | str | None = None
) -> Callable[[Callable[..., Any]], Transformed]: ...
def transform(
    f: Callable[..., Any] | None = None,
    *,
    apply_rng: bool = False,
    scheme: Scheme | str | None = None,
) -> Transformed | Callable[[Callable[..., Any]], Transformed]:
    """Turns ``f``, which uses ``get_param``/modules, into pure ``init`` and ``apply``.

    Usable as a decorator too: ``@transform`` or ``@transform(apply_rng=True)``.

    Args:
      f: the function to transform.
      apply_rng: give ``apply`` a key argument (after params), used by
        :func:`next_rng_key`.
      scheme: how modules and parameters are named and keyed: ``None`` or
        ``"seed"`` (minihaiku's flat paths and path-derived keys, the
        default) or ``"haiku"`` (dm-haiku's nested names and key sequence;
        see :class:`~minihaiku.core.Scheme` and docs/naming.md).

    Returns:
      ``Transformed(init, apply)``: ``init(rng, *args)`` runs ``f`` and returns
      the parameters it created (``rng`` is a PRNG key or an int seed);
      ``apply(params, *args)`` runs ``f`` reading those parameters and returns
      its output. ``apply`` never changes or adds parameters.

    Examples:
      >>> from minihaiku.core import get_param, transform
      >>> def f(x):
      ...   return x * get_param("scale", (), init=jax.nn.initializers.ones)
      >>> init, apply = transform(f)
      >>> params = init(jax.random.key(0), 2.0)
      >>> apply(params, 2.0)
      Array(2., dtype=float32)
      >>> @transform(apply_rng=True)
      ... def noisy(x):
      ...   return x
      >>> noisy.apply({}, 0, 1.0)
      1.0
      >>> transform(f, scheme="haiku").init(0, 2.0)
      {'~': {'scale': Array(1., dtype=float32)}}
    """
    check_apply_rng(apply_rng)
    chosen = as_scheme(scheme, "transform")
    if f is None:
        return lambda g: _transform(g, apply_rng, chosen)
    return _transform(f, apply_rng, chosen)


def _transform_with_state(
    f: Callable[..., Any], apply_rng: bool, scheme: Scheme
) -> TransformedWithState:
    check_callable(f, "transform_with_state")
    if scheme is not SEED:
        init_s, apply_s = scheme_pair_with_state(f, apply_rng, scheme)
        show_signature(init_s, f, ("rng",))
        names = ("params", "state", "rng") if apply_rng else ("params", "state")
        show_signature(apply_s, f, names)
        return TransformedWithState(init_s, apply_s)

    def init(
        rng: Any, *args: Any, **kwargs: Any
    ) -> tuple[dict[str, jax.Array], dict[str, jax.Array]]:
        frame = InitFrame({}, {}, allow_state=True, rng=as_key(rng, "init"))
        with running(frame):
            f(*args, **kwargs)
        return frame.params, frame.initial_state

    def apply(
        params: Params, state: State, *args: Any, **kwargs: Any
    ) -> tuple[Any, dict[str, jax.Array]]:
        rng, args = split_rng(apply_rng, args)
        new_state = dict(check_mapping(state, "state"))
        frame = ApplyFrame(check_mapping(params, "params"), new_state, allow_state=True, rng=rng)
        frame.given_state = state
        with running(frame):
            out = f(*args, **kwargs)
        return out, new_state

    show_signature(init, f, ("rng",))
    show_signature(apply, f, ("params", "state", "rng") if apply_rng else ("params", "state"))
    return TransformedWithState(init, apply)


@overload
def transform_with_state(
    f: Callable[..., Any], *, apply_rng: bool = False, scheme: Scheme | str | None = None
) -> TransformedWithState: ...
@overload
def transform_with_state(
    f: None = None, *, apply_rng: bool = False, scheme: Scheme | str | None = None
) -> Callable[[Callable[..., Any]], TransformedWithState]: ...
def transform_with_state(
    f: Callable[..., Any] | None = None,
    *,
    apply_rng: bool = False,
    scheme: Scheme | str | None = None,
) -> TransformedWithState | Callable[[Callable[..., Any]], TransformedWithState]:
    """Like :func:`transform`, for functions that also use ``get_state``/``set_state``.

    Returns:
      ``TransformedWithState(init, apply)``: ``init(rng, *args) -> (params,
      state)``, where ``state`` holds each entry's *initial* value (dm-haiku's
      rule: not the value after one run), and ``apply(params, state, *args) ->
      (out, new_state)``. The given state is never mutated.

    Examples:
      >>> from minihaiku.core import get_state, set_state, transform_with_state
      >>> def f():
      ...   n = get_state("n", (), jnp.int32)
      ...   set_state("n", n + 1)
      ...   return n
      >>> init, apply = transform_with_state(f)
      >>> params, state = init(0)
      >>> state
      {'~/n': Array(0, dtype=int32)}
      >>> apply(params, state)
      (Array(0, dtype=int32), {'~/n': Array(1, dtype=int32)})
    """
    check_apply_rng(apply_rng)
    chosen = as_scheme(scheme, "transform_with_state")
    if f is None:
        return lambda g: _transform_with_state(g, apply_rng, chosen)
    return _transform_with_state(f, apply_rng, chosen)


def without_state(f: TransformedWithState) -> Transformed:
    """A :class:`Transformed` from a stateful pair whose state is empty.

    ``init`` returns only params and ``apply`` only the output; a function
    that does create state is an error (use the stateful pair for it).

    Examples:
      >>> from minihaiku.core import transform, with_empty_state, without_state
      >>> f = without_state(with_empty_state(transform(lambda x: x + 1)))
      >>> f.apply(f.init(0, 1.0), 1.0)
      2.0
    """
    if not isinstance(f, TransformedWithState):
        raise InvalidArgumentTypeError(
            f"without_state expects what transform_with_state returns, got "
            f"{type(f).__name__}. Pass transform_with_state(f)."
        )

    def _empty(state: Mapping[str, Any], where: str) -> None:
        if state:
            raise StateNotAllowedError(
                f"without_state: the function {where} state entries {sorted(state)[:3]}; "
                "without_state is only for functions without state. Use the "
                "transform_with_state pair itself."
            )

    def init(rng: Any, *args: Any, **kwargs: Any) -> dict[str, jax.Array]:
        params, state = f.init(rng, *args, **kwargs)
        _empty(state, "creates")
        return params

    def apply(params: Params, *args: Any, **kwargs: Any) -> Any:
        out, state = f.apply(params, {}, *args, **kwargs)
        _empty(state, "writes")
        return out

    copy_signature(init, f.init)
    copy_signature(apply, f.apply, drop="state")
    return Transformed(init, apply)


def with_empty_state(f: Transformed) -> TransformedWithState:
    """A :class:`TransformedWithState` from a stateless pair (its state is always ``{}``).

    Examples:
      >>> from minihaiku.core import transform, with_empty_state
      >>> f = with_empty_state(transform(lambda x: x * 2))
      >>> f.init(0, 1.0)
      ({}, {})
      >>> f.apply({}, {}, 1.0)
      (2.0, {})
    """
    if not isinstance(f, Transformed):
        raise InvalidArgumentTypeError(
            f"with_empty_state expects what transform returns, got "
            f"{type(f).__name__}. Pass transform(f)."
        )

    def init(rng: Any, *args: Any, **kwargs: Any) -> tuple[dict[str, jax.Array], dict[str, Any]]:
        return f.init(rng, *args, **kwargs), {}

    def apply(
        params: Params, state: State, *args: Any, **kwargs: Any
    ) -> tuple[Any, dict[str, Any]]:
        return f.apply(params, *args, **kwargs), {}

    copy_signature(init, f.init)
    copy_signature(apply, f.apply, add="state")
    return TransformedWithState(init, apply)


def running_init() -> bool:
    """Whether the current call is part of ``init`` (dm-haiku's ``running_init``).

    Examples:
      >>> from minihaiku.core import running_init, transform
      >>> f = transform(lambda: running_init())
      >>> f.init(0), f.apply({})
      ({}, False)
    """
    return current_frame("running_init").in_init
