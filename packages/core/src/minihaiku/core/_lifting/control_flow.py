"""Lifted control flow: ``cond``, ``switch``, ``fori_loop``, ``while_loop``.

Like their ``jax.lax`` counterparts, and the branches / bodies may create and
read parameters, use state and draw keys (see :mod:`minihaiku.core._lifting.lift`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax

from minihaiku.core._errors import InvalidArgumentError
from minihaiku.core._lifting.lift import Pure, lift
from minihaiku.core._lifting.outputs import Recorder, describe_fn, mismatch, recording

__all__ = ["cond", "fori_loop", "switch", "while_loop"]

_NO_OPERAND = object()


def _branch(pure: Pure) -> Callable[..., Any]:
    return lambda st, k, *ops: pure(st, k, None, *ops)


def _branches(rec: Recorder, pures: Sequence[Pure]) -> list[Callable[..., Any]]:
    """One recording wrapper per distinct pure function.

    JAX then traces a function given as two branches once, as ``jax.lax.cond``
    does; a repeat records nothing of its own (its first occurrence did).
    """
    made: dict[int, Callable[..., Any]] = {}
    for i, p in enumerate(pures):
        if id(p) not in made:
            made[id(p)] = recording(rec, i, _branch(p))
    return [made[id(p)] for p in pures]


_SAME_OUTPUTS = (
    "Make the branches return the same (cast, reshape or restructure the outputs of one)."
)
_SAME_CARRY = "Return the carry with the type it came in with (cast or reshape it)."


def _raise_mismatch(where: str, names: Sequence[str], rec: Recorder, what: str, fix: str) -> None:
    """Raises the clear error for a mismatch ``rec`` recorded; returns if none."""
    error = mismatch(where, names, rec.outs, what, fix)
    if error is not None:
        raise error from None


def _raise_carry_mismatch(where: str, body_fun: Callable[..., Any], rec: Recorder) -> None:
    """Names ``body_fun`` when a loop body changed its carry (init_val is slot 0)."""
    names = ["init_val is", f"body_fun ({describe_fn(body_fun)}) returns"]
    what = "body_fun must return the carry with init_val's structure, shapes and dtypes"
    _raise_mismatch(where, names, rec, what, _SAME_CARRY)


def switch(index: Any, branches: Sequence[Callable[..., Any]], *operands: Any) -> Any:
    """``jax.lax.switch`` whose branches may use parameters, state and keys.

    Every branch's parameters are created during ``init``, whichever branch
    ``index`` picks; modules in different branches get different names; a
    function given as two branches runs (and names its modules) once.

    Examples:
      >>> from minihaiku.core import switch, transform
      >>> f = transform(lambda i, x: switch(i, [lambda x: x + 1, lambda x: x * 10], x))
      >>> f.apply({}, 1, 2.0)
      Array(20., dtype=float32, weak_type=True)
    """
    branches = list(branches)
    if not branches:
        raise InvalidArgumentError("switch needs at least one branch.")
    lifted = lift("switch", branches, operands, refill=True)
    rec = Recorder(len(branches))
    wrapped = _branches(rec, lifted.pures)
    try:
        out, state = jax.lax.switch(index, wrapped, lifted.state, lifted.key, *operands)
    except TypeError:
        names = [f"branch {i} ({describe_fn(b)}) returns" for i, b in enumerate(branches)]
        _raise_mismatch(
            "switch",
            names,
            rec,
            "every branch must return the same structure, shapes and dtypes",
            _SAME_OUTPUTS,
        )
        raise
    lifted.done(state)
    return out


def cond(
    pred: Any,
    true_fun: Callable[..., Any],
    false_fun: Callable[..., Any],
    *operands: Any,
    operand: Any = _NO_OPERAND,
) -> Any:
    """``jax.lax.cond`` whose branches may use parameters, state and keys.

    Both branches' parameters are created during ``init``; modules in
    ``true_fun`` are named before those in ``false_fun``. As in JAX, one
    operand may also be passed as ``operand=``.

    Examples:
      >>> from minihaiku.core import cond, transform
      >>> f = transform(lambda p, x: cond(p, lambda x: x + 1, lambda x: x - 1, operand=x))
      >>> f.apply({}, True, 1.0)
      Array(2., dtype=float32, weak_type=True)
    """
    if operand is not _NO_OPERAND:
        if operands:
            raise InvalidArgumentError(
                "cond: pass the operands either positionally or as operand=, not both."
            )
        operands = (operand,)
    lifted = lift("cond", [true_fun, false_fun], operands, refill=True)
    rec = Recorder(2)
    t, f = _branches(rec, lifted.pures)
    try:
        out, state = jax.lax.cond(pred, t, f, lifted.state, lifted.key, *operands)
    except TypeError:
        names = [
            f"true_fun ({describe_fn(true_fun)}) returns",
            f"false_fun ({describe_fn(false_fun)}) returns",
        ]
        what = "true_fun and false_fun must return the same structure, shapes and dtypes"
        _raise_mismatch("cond", names, rec, what, _SAME_OUTPUTS)
        raise
    lifted.done(state)
    return out


def _split_key(k: Any) -> tuple[Any, Any]:
    """(carried key, this iteration's key), or (None, None) without a key."""
    if k is None:
        return None, None
    k, sub = jax.random.split(k)
    return k, sub


def fori_loop(lower: int, upper: int, body_fun: Callable[[Any, Any], Any], init_val: Any) -> Any:
    """``jax.lax.fori_loop`` whose body may use parameters, state and keys.

    Examples:
      >>> from minihaiku.core import fori_loop, transform
      >>> transform(lambda: fori_loop(0, 3, lambda i, v: v + i, 0)).apply({})
      Array(3, dtype=int32, weak_type=True)
    """
    lifted = lift("fori_loop", [body_fun], (lower, init_val), refill=True, stepped=True)
    (pure,) = lifted.pures
    if lifted.first is not None:  # haiku scheme's init: step 0 ran (dm-haiku unrolls it)
        init_val, lower = lifted.first[0], lower + 1
        try:
            if upper - lower == 0:
                lifted.done(lifted.state)
                return init_val
        except jax.errors.ConcretizationTypeError:  # traced bounds: the loop decides
            pass
        lifted.thread(True)
    rec = Recorder(2)
    rec.record(0, init_val)

    def body(i: Any, carry: Any) -> Any:
        val, st, k = carry
        k, sub = _split_key(k)
        val, st = pure(st, sub, None, i, val)
        rec.record(1, val)
        return val, st, k

    try:
        val, state, _ = jax.lax.fori_loop(lower, upper, body, (init_val, lifted.state, lifted.key))
    except TypeError:
        _raise_carry_mismatch("fori_loop", body_fun, rec)
        raise
    lifted.done(state)
    return val


def while_loop(
    cond_fun: Callable[[Any], Any], body_fun: Callable[[Any], Any], init_val: Any
) -> Any:
    """``jax.lax.while_loop`` whose condition and body may read parameters.

    The body may also use state and keys; ``set_state`` in the condition is an
    error (JAX cannot return a change made there).

    Examples:
      >>> from minihaiku.core import transform, while_loop
      >>> transform(lambda: while_loop(lambda v: v < 5, lambda v: v * 2, 1)).apply({})
      Array(8, dtype=int32, weak_type=True)
    """
    lifted = lift(
        "while_loop",
        [cond_fun, body_fun],
        (init_val,),
        locked=["while_loop's cond_fun", None],
        refill=True,
    )
    cpure, bpure = lifted.pures

    def c(carry: Any) -> Any:
        val, st, k = carry
        return cpure(st, k, None, val)[0]

    rec = Recorder(2)
    rec.record(0, init_val)

    def b(carry: Any) -> Any:
        val, st, k = carry
        k, sub = _split_key(k)
        val, st = bpure(st, sub, None, val)
        rec.record(1, val)
        return val, st, k

    try:
        val, state, _ = jax.lax.while_loop(c, b, (init_val, lifted.state, lifted.key))
    except TypeError:
        _raise_carry_mismatch("while_loop", body_fun, rec)
        raise
    lifted.done(state)
    return val
