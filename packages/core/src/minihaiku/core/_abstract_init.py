"""``init`` without the forward pass's arithmetic (issue 20).

A parameter's initial value depends only on the init key, its path, shape,
dtype and initializer, never on the values the forward pass computes. So by
default ``init`` runs the function *abstractly* (``jax.eval_shape``: shapes
and dtypes only, no arithmetic, no activation memory), records what it
would create (:mod:`minihaiku.core._init_plan`), then creates every entry
eagerly with the same code and keys as the eager ``init``: the values are
bit for bit the same.

It falls back to the eager ``init`` (the forward pass run on values) when the
function cannot be traced abstractly (Python control flow on values,
``float(x)``, numpy on activations, ...), when a state entry's first value
is computed by the forward pass (``set_state`` of a new entry), when a key
cannot be rebuilt outside the trace, or when ``init`` is itself traced
(``jax.jit(init)``: everything is staged there anyway). :func:`init_mode`
forces either path.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np

from minihaiku.core._concrete import is_tracer
from minihaiku.core._create import build
from minihaiku.core._errors import InvalidArgumentError, MinihaikuError
from minihaiku.core._frame import InitFrame, running
from minihaiku.core._haiku_plan import PlanKeys, replay
from minihaiku.core._init_plan import CannotPlanError, Entry, Plan, planning, stop_planning
from minihaiku.core._keys import Keys, as_key
from minihaiku.core._schemes import SEED, HaikuKeys, KeySequence, Scheme

__all__ = ["AbstractInitError", "init_mode", "run_init"]

_MODES = ("auto", "abstract", "eager")
#: In ``"auto"`` mode, array arguments smaller than this in total run eagerly:
#: their forward pass costs less to run than to trace (about 2x an eager op
#: dispatch per traced op, measured on a width-32 MLP), and its activations
#: are small. Larger arguments take the abstract path.
EAGER_BELOW_BYTES = 64 * 1024
_MODE: contextvars.ContextVar[str] = contextvars.ContextVar("minihaiku_init_mode", default="auto")
_ARRAYS = (jax.Array, np.ndarray)


class AbstractInitError(MinihaikuError, TypeError):
    """``init`` was forced to run abstractly, and the function cannot be.

    Examples:
      >>> from minihaiku.core import get_param, init_mode, transform
      >>> def f(x):
      ...   w = get_param("w", (), init=jax.nn.initializers.ones)
      ...   return w if x.sum() > 0 else -w  # Python control flow on a value
      >>> with init_mode("abstract"):
      ...   transform(f).init(0, jnp.ones(2))
      Traceback (most recent call last):
        ...
      minihaiku.core._abstract_init.AbstractInitError: init(f) under init_mode('abstract'): ...
    """


@contextlib.contextmanager
def init_mode(mode: str) -> Iterator[None]:
    """How ``init`` finds the parameters inside the ``with`` block.

    Args:
      mode: ``"auto"`` (the default): trace the function abstractly, then
        create the entries (no forward-pass arithmetic or activation memory),
        and run the forward pass eagerly when the function cannot be traced
        so, or when its array arguments total less than 64 KiB (a small
        forward pass costs less to run than to trace); ``"abstract"``: the
        abstract path only (an error instead of the fallback); ``"eager"``:
        always run the forward pass on values (the function's Python side
        effects run as in ``apply``).

    Initial values are the same in every mode.

    Raises:
      InvalidArgumentError: ``mode`` is none of these.

    Examples:
      >>> from minihaiku.core import get_param, init_mode, transform
      >>> f = transform(lambda x: x * get_param("w", (2,)))
      >>> with init_mode("eager"):
      ...   eager = f.init(0, jnp.ones(2))
      >>> bool((eager["~/w"] == f.init(0, jnp.ones(2))["~/w"]).all())
      True
    """
    if not isinstance(mode, str) or mode not in _MODES:
        raise InvalidArgumentError(
            f"init_mode(mode): mode must be one of {list(_MODES)}, got {mode!r:.40}. "
            "Use init_mode('eager') to run the forward pass on values, "
            "init_mode('abstract') to require the abstract path."
        )
    token = _MODE.set(mode)
    try:
        yield
    finally:
        _MODE.reset(token)


def _eager(
    f: Callable[..., Any],
    key: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    state: bool,
    scheme: Scheme = SEED,
) -> tuple[dict[str, Any], dict[str, Any]]:
    frame = InitFrame({}, {}, allow_state=state, rng=key, scheme=scheme)
    token = planning(None)
    try:
        with running(frame):
            f(*args, **kwargs)
    finally:
        stop_planning(token)
    return frame.params, frame.initial_state


def _discover(
    f: Callable[..., Any],
    key: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    state: bool,
    scheme: Scheme,
) -> tuple[Plan, dict[str, Any], dict[str, Any]]:
    """Traces ``f`` abstractly; returns the plan and the frame's params and initial state."""
    leaves, treedef = jax.tree_util.tree_flatten((args, kwargs))
    where = [i for i, leaf in enumerate(leaves) if isinstance(leaf, _ARRAYS)]
    plan = Plan(key)
    frame = InitFrame({}, {}, allow_state=state, rng=key, scheme=scheme)
    if isinstance(frame.keys, HaikuKeys):  # the haiku scheme: log the key sequence's draws
        frame.keys = plan.haiku = PlanKeys(key)

    def run(zero: Any, *arrays: Any) -> None:
        plan.zero = zero
        filled = list(leaves)
        for i, a in zip(where, arrays, strict=True):
            filled[i] = a
        a, k = jax.tree_util.tree_unflatten(treedef, filled)
        token = planning(plan)
        try:
            with running(frame):
                f(*a, **k)
        finally:
            stop_planning(token)

    scalar = jax.ShapeDtypeStruct((), np.float32)  # type: ignore[no-untyped-call]
    jax.eval_shape(run, scalar, *[leaves[i] for i in where])
    return plan, frame.params, frame.initial_state


def _entry(entries: dict[str, Entry], path: str, value: Any, kind: str) -> Entry:
    entry = entries.get(path)
    if entry is None or entry.placeholder is not value:
        raise CannotPlanError(f"the first value of {kind} {path!r} comes from the forward pass")
    return entry


def _check_all(
    plan: Plan, params: dict[str, Any], state: dict[str, Any]
) -> tuple[list[Entry], list[Entry]]:
    """The entries to create, in ``init``'s order (:class:`CannotPlanError` if one can't be)."""
    return (
        [_entry(plan.params, p, v, "parameter") for p, v in params.items()],
        [_entry(plan.state, p, v, "state") for p, v in state.items()],
    )


#: What JAX raises when an initializer reaches a value of the (finished) trace.
_TRACER_ERRORS = (
    jax.errors.UnexpectedTracerError,
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerArrayConversionError,
    jax.errors.TracerIntegerConversionError,
)


def _uses_a_tracer(error: BaseException) -> bool:
    """Whether ``error`` (or what it wraps) is JAX's complaint about a tracer."""
    seen: BaseException | None = error
    for _ in range(8):  # the initializer's error, wrapped by ours at most a few times
        if seen is None:
            return False
        if isinstance(seen, _TRACER_ERRORS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _create_all(key: Any, *kinds: list[Entry]) -> tuple[dict[str, Any], ...]:
    """Creates the entries, outside any trace, with the eager ``init``'s keys and code.

    Raises:
      CannotPlanError: an initializer reached a value of the forward pass (it
        closes over an activation): only the eager ``init`` can give it one.
    """
    keys = Keys(key)
    out = []
    for entries in kinds:
        made = {}
        for e in entries:
            k = None if e.salt is None else keys.param_key(e.salt)
            try:
                made[e.path] = build(
                    e.initializer, e.label, k, e.shape, e.dtype, e.kind, e.path, e.sizes
                )
            except Exception as error:
                if _uses_a_tracer(error):
                    raise CannotPlanError(
                        f"the initializer of {e.kind} {e.path!r} uses a value of the forward pass"
                    ) from error
                raise
        out.append(made)
    return tuple(out)


def _refuse(f: Callable[..., Any], error: Exception) -> AbstractInitError:
    name = getattr(f, "__name__", type(f).__name__)
    return AbstractInitError(
        f"init({name}) under init_mode('abstract'): the function cannot be "
        f"traced abstractly ({type(error).__name__}: {error}). Make the forward pass "
        "traceable (jnp/lax instead of Python control flow or numpy on values), "
        "or run init with init_mode('auto') or init_mode('eager')."
    )


def _eager_is_cheaper(
    mode: str, key: Any, args: tuple[Any, ...], kwargs: dict[str, Any], scheme: Scheme
) -> bool:
    """Whether ``init`` runs eagerly: forced, traced (jit/vmap), or small inputs in auto mode.

    Also with no key (the haiku scheme's ``init(None)``), or with a haiku
    ``rng_reserve_size`` other than 1.
    """
    if mode == "eager" or key is None or is_tracer(key):
        return True
    if scheme is not SEED and KeySequence.reserve_size != 1:
        return True
    size = 0
    for leaf in jax.tree_util.tree_leaves((args, kwargs)):
        if is_tracer(leaf):
            return True
        size += getattr(leaf, "nbytes", 0) if isinstance(leaf, _ARRAYS) else 0
    return mode == "auto" and size < EAGER_BELOW_BYTES


def run_init(
    f: Callable[..., Any],
    rng: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    allow_state: bool,
    scheme: Scheme = SEED,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``init``'s work: ``(params, initial state)`` of ``f`` for the key ``rng``.

    ``rng`` is already a key (or ``None``) under a scheme other than the seed's.
    """
    key = as_key(rng, "init") if scheme is SEED else rng
    mode = _MODE.get()
    if _eager_is_cheaper(mode, key, args, kwargs, scheme):
        return _eager(f, key, args, kwargs, allow_state, scheme)
    try:
        plan, params, state = _discover(f, key, args, kwargs, allow_state, scheme)
        entries = _check_all(plan, params, state)
        if plan.haiku is not None:  # an initializer may close over a traced value: in the try
            return replay(key, scheme, plan.haiku.events, (params, state))  # type: ignore[return-value]
    except Exception as e:
        if mode == "auto":
            return _eager(f, key, args, kwargs, allow_state, scheme)
        if isinstance(e, MinihaikuError):  # the function's own error, as eager init gives it
            raise
        raise _refuse(f, e) from e
    try:
        params, state = _create_all(key, *entries)
    except CannotPlanError as e:  # an initializer closing over an activation
        if mode == "auto":
            return _eager(f, key, args, kwargs, allow_state, scheme)
        raise _refuse(f, e) from e
    return params, state
