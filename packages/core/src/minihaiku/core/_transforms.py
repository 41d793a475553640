"""Lifted JAX transforms and control flow, usable inside transformed functions.

Each behaves like its JAX counterpart, and also works when the function reads
or creates parameters and state, or draws keys with ``next_rng_key``:
parameters are shared by every step / branch / mapped element (see
``layer_stack`` and ``vmap(split_params=True)`` for per-layer parameters),
state is threaded through, and each step gets its own key.
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core._errors import InvalidArgumentError, InvalidArgumentTypeError
from minihaiku.core._frame import current_frame
from minihaiku.core._lift import Cursor, Pure, init_pass, lift_key

__all__ = [
    "cond",
    "eval_shape",
    "fori_loop",
    "grad",
    "layer_stack",
    "map",
    "remat",
    "scan",
    "switch",
    "value_and_grad",
    "vmap",
    "while_loop",
]

_axis_names = itertools.count()


def _slice0(arg: Any, axis: Any) -> Any:
    """The first element of ``arg`` along ``axis`` (a vmap in_axes entry)."""
    if axis is None:
        return arg
    if isinstance(axis, int):
        return jax.tree_util.tree_map(lambda x: jnp.take(x, 0, axis=axis), arg)
    try:
        return jax.tree_util.tree_map(
            lambda a, x: x if a is None else jnp.take(x, 0, axis=a),
            axis,
            arg,
            is_leaf=lambda a: a is None,
        )
    except ValueError:
        raise InvalidArgumentTypeError(
            f"vmap in_axes entry {axis!r} is neither an int, None, nor a tree of "
            "ints/None with the structure of its argument."
        ) from None


def scan(
    f: Callable[[Any, Any], tuple[Any, Any]],
    init: Any,
    xs: Any,
    length: int | None = None,
    reverse: bool = False,
    unroll: int | bool = 1,
) -> tuple[Any, Any]:
    """``jax.lax.scan`` that may use parameters, state and keys inside ``f``.

    All steps share one set of parameters; state is carried from step to
    step; ``next_rng_key`` gives each step its own key.

    Examples:
      >>> def f(xs):
      ...   def step(c, x):
      ...     c = jnp.tanh(Linear(2)(c) + x)
      ...     return c, c
      ...   return scan(step, jnp.zeros(2), xs)[1]
    """
    frame = current_frame("scan")
    if frame.initializing:
        x0 = None if xs is None else jax.tree_util.tree_map(lambda x: x[-1 if reverse else 0], xs)
        init_pass(frame, f, (init, x0), {}, frame.scope_names)
    cursor = Cursor(frame.scope_names)
    pure = Pure(f, frame, cursor)
    n = length if length is not None else len(jax.tree_util.tree_leaves(xs)[0])
    key = lift_key(frame)
    keys = None if key is None else jax.random.split(key, n)

    def body(carry: Any, inputs: Any) -> Any:
        c, st = carry
        x, k = inputs
        (c, y), st = pure(st, k, None, c, x)
        return (c, st), y

    (carry, state), ys = jax.lax.scan(
        body,
        (init, dict(frame.state)),
        (xs, keys),
        length=length,
        reverse=reverse,
        unroll=unroll,
    )
    frame.state.update(state)
    cursor.commit(frame)
    return carry, ys


def map(f: Callable[[Any], Any], xs: Any) -> Any:
    """``jax.lax.map`` that may use parameters, state and keys inside ``f``."""
    return scan(lambda _, x: (None, f(x)), None, xs)[1]


def vmap(
    fn: Callable[..., Any],
    in_axes: Any = 0,
    out_axes: Any = 0,
    axis_size: int | None = None,
    split_rng: bool = False,
    split_params: bool = False,
) -> Callable[..., Any]:
    """``jax.vmap`` that may use parameters, state and keys inside ``fn``.

    Args:
      fn: the function to map.
      in_axes: as in ``jax.vmap``, for the positional arguments.
      out_axes: as in ``jax.vmap``.
      axis_size: the mapped size, when no argument is mapped.
      split_rng: give each element its own key (default: all share one).
      split_params: give each element its own parameters (an ensemble): the
        parameters created inside get a leading axis of the mapped size.
        Default: parameters are shared across the mapped axis.

    Examples:
      >>> per_example = vmap(lambda x: Linear(3)(x))   # same weights for each x
    """

    @functools.wraps(fn)
    def mapped(*args: Any) -> Any:
        frame = current_frame("vmap")
        axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
        if len(axes) != len(args):
            raise InvalidArgumentError(
                f"vmap in_axes has {len(axes)} entries but the function got "
                f"{len(args)} positional arguments; give one entry per argument."
            )
        size = axis_size
        if size is None:
            for a, x in zip(axes, args, strict=True):
                if isinstance(a, int):
                    size = jax.tree_util.tree_leaves(x)[0].shape[a]
                    break
        if size is None:
            raise InvalidArgumentError(
                "vmap: no argument is mapped (every in_axes entry is None); pass "
                "axis_size= to say how many elements to map over."
            )
        stack = None if not split_params else (size, 0)
        if frame.initializing:
            init_pass(
                frame,
                fn,
                tuple(_slice0(x, a) for a, x in zip(axes, args, strict=True)),
                {},
                frame.scope_names,
                stack=stack,
            )
        cursor = Cursor(frame.scope_names)
        pure = Pure(fn, frame, cursor, stack_size=size if split_params else None)
        key = lift_key(frame)
        rng_axis = None
        if key is not None and split_rng:
            key, rng_axis = jax.random.split(key, size), 0
        name = f"_minihaiku_vmap_{next(_axis_names)}"

        def inner(st: Any, k: Any, *a: Any) -> Any:
            index = jax.lax.axis_index(name) if split_params else None
            return pure(st, k, index, *a)

        out, state = jax.vmap(
            inner,
            in_axes=(None, rng_axis, *axes),
            out_axes=(out_axes, None),
            axis_size=axis_size,
            axis_name=name,
        )(dict(frame.state), key, *args)
        frame.state.update(state)
        cursor.commit(frame)
        return out

    return mapped


def remat(fn: Callable[..., Any], **checkpoint_kwargs: Any) -> Callable[..., Any]:
    """``jax.checkpoint`` (remat) that may use parameters, state and keys.

    During ``init`` the function simply runs; in ``apply`` its activations are
    recomputed in the backward pass instead of stored.
    """

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        frame = current_frame("remat")
        if frame.initializing:
            return fn(*args, **kwargs)
        cursor = Cursor(frame.scope_names)
        pure = Pure(functools.partial(fn, **kwargs), frame, cursor)
        key = lift_key(frame)
        out, state = jax.checkpoint(lambda st, k, *a: pure(st, k, None, *a), **checkpoint_kwargs)(
            dict(frame.state), key, *args
        )
        frame.state.update(state)
        cursor.commit(frame)
        return out

    return wrapped


def switch(index: Any, branches: Sequence[Callable[..., Any]], *operands: Any) -> Any:
    """``jax.lax.switch`` whose branches may use parameters, state and keys.

    Every branch's parameters are created during ``init``, whichever branch
    ``index`` picks; modules in different branches get different names.
    """
    frame = current_frame("switch")
    branches = list(branches)
    if not branches:
        raise InvalidArgumentError("switch needs at least one branch.")
    if frame.initializing:
        names = frame.scope_names
        for branch in branches:
            names = init_pass(frame, branch, operands, {}, names)
    cursor = Cursor(frame.scope_names)
    pures = [Pure(b, frame, cursor) for b in branches]
    key = lift_key(frame)
    out, state = jax.lax.switch(
        index,
        [functools.partial(_call_branch, p) for p in pures],
        dict(frame.state),
        key,
        *operands,
    )
    frame.state.update(state)
    cursor.commit(frame)
    return out


def _call_branch(pure: Pure, st: Any, k: Any, *ops: Any) -> Any:
    return pure(st, k, None, *ops)


def cond(
    pred: Any, true_fun: Callable[..., Any], false_fun: Callable[..., Any], *operands: Any
) -> Any:
    """``jax.lax.cond`` whose branches may use parameters, state and keys.

    Both branches' parameters are created during ``init``; modules in
    ``true_fun`` are named before those in ``false_fun``.
    """
    frame = current_frame("cond")
    if frame.initializing:
        names = init_pass(frame, true_fun, operands, {}, frame.scope_names)
        init_pass(frame, false_fun, operands, {}, names)
    cursor = Cursor(frame.scope_names)
    t, f = Pure(true_fun, frame, cursor), Pure(false_fun, frame, cursor)
    key = lift_key(frame)
    out, state = jax.lax.cond(
        pred,
        functools.partial(_call_branch, t),
        functools.partial(_call_branch, f),
        dict(frame.state),
        key,
        *operands,
    )
    frame.state.update(state)
    cursor.commit(frame)
    return out


def _split_key(k: Any) -> tuple[Any, Any]:
    """(carried key, this iteration's key), or (None, None) without a key."""
    if k is None:
        return None, None
    k, sub = jax.random.split(k)
    return k, sub


def fori_loop(lower: int, upper: int, body_fun: Callable[[Any, Any], Any], init_val: Any) -> Any:
    """``jax.lax.fori_loop`` whose body may use parameters, state and keys."""
    frame = current_frame("fori_loop")
    if frame.initializing:
        init_pass(frame, body_fun, (lower, init_val), {}, frame.scope_names)
    cursor = Cursor(frame.scope_names)
    pure = Pure(body_fun, frame, cursor)

    def body(i: Any, carry: Any) -> Any:
        val, st, k = carry
        k, sub = _split_key(k)
        val, st = pure(st, sub, None, i, val)
        return val, st, k

    val, state, _ = jax.lax.fori_loop(
        lower, upper, body, (init_val, dict(frame.state), lift_key(frame))
    )
    frame.state.update(state)
    cursor.commit(frame)
    return val


def while_loop(
    cond_fun: Callable[[Any], Any], body_fun: Callable[[Any], Any], init_val: Any
) -> Any:
    """``jax.lax.while_loop`` whose condition and body may read parameters.

    The body may also use state and keys; the condition must not change state.
    """
    frame = current_frame("while_loop")
    if frame.initializing:
        names = init_pass(frame, cond_fun, (init_val,), {}, frame.scope_names)
        init_pass(frame, body_fun, (init_val,), {}, names)
    cursor = Cursor(frame.scope_names)
    cpure, bpure = Pure(cond_fun, frame, cursor), Pure(body_fun, frame, cursor)

    def c(carry: Any) -> Any:
        val, st, k = carry
        return cpure(st, k, None, val)[0]

    def b(carry: Any) -> Any:
        val, st, k = carry
        k, sub = _split_key(k)
        val, st = bpure(st, sub, None, val)
        return val, st, k

    val, state, _ = jax.lax.while_loop(c, b, (init_val, dict(frame.state), lift_key(frame)))
    frame.state.update(state)
    cursor.commit(frame)
    return val


def value_and_grad(
    fn: Callable[..., Any],
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    **grad_kwargs: Any,
) -> Callable[..., Any]:
    """``jax.value_and_grad`` of a function that may read parameters.

    Gradients are taken with respect to ``fn``'s arguments; parameters read
    inside are constants here (the gradient of the whole ``apply`` with
    respect to params still flows through them).
    """

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        frame = current_frame("value_and_grad")
        if frame.initializing:
            init_pass(frame, fn, args, kwargs, frame.scope_names)
        cursor = Cursor(frame.scope_names)
        pure = Pure(functools.partial(fn, **kwargs), frame, cursor)
        state, key = dict(frame.state), lift_key(frame)

        def f(*a: Any) -> Any:
            out, st = pure(state, key, None, *a)
            if has_aux:
                value, aux = out
                return value, (aux, st)
            return out, (None, st)

        (value, (aux, st)), grads = jax.value_and_grad(
            f, argnums=argnums, has_aux=True, **grad_kwargs
        )(*args)
        frame.state.update(st)
        cursor.commit(frame)
        return ((value, aux), grads) if has_aux else (value, grads)

    return wrapped


def grad(
    fn: Callable[..., Any],
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    **grad_kwargs: Any,
) -> Callable[..., Any]:
    """``jax.grad`` of a function that may read parameters (see :func:`value_and_grad`)."""
    vg = value_and_grad(fn, argnums, has_aux, **grad_kwargs)

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if has_aux:
            (_, aux), g = vg(*args, **kwargs)
            return g, aux
        return vg(*args, **kwargs)[1]

    return wrapped


def eval_shape(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``jax.eval_shape`` of a function that may use parameters: shapes, no compute.

    During ``init`` the parameters ``fn`` creates are created (so ``apply``
    finds them); state changes inside are discarded.
    """
    frame = current_frame("eval_shape")
    if frame.initializing:
        init_pass(frame, fn, args, kwargs, frame.scope_names)
    cursor = Cursor(frame.scope_names)
    pure = Pure(functools.partial(fn, **kwargs), frame, cursor)
    out, _ = jax.eval_shape(
        lambda st, k, *a: pure(st, k, None, *a), dict(frame.state), lift_key(frame), *args
    )
    cursor.commit(frame)
    return out


def layer_stack(
    num_layers: int, *, unroll: int | bool = 1
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Applies a layer ``num_layers`` times, each with its own parameters, in one scan.

    ``layer_stack(n)(f)(x, *args)`` computes ``x = f(x, *args)`` n times. Every
    parameter created inside ``f`` gets a leading axis of size n (each layer
    initialized with its own key); the layers run in one ``lax.scan``, so a
    deep stack compiles about as fast as one layer.

    Examples:
      >>> def deep(x):
      ...   body = layer_stack(100)(lambda h: jnp.tanh(Linear(32)(h)))
      ...   return body(x)   # params: '~/Linear_0/__call__/w' of shape (100, 32, 32)
    """
    try:
        n = operator.index(num_layers)
    except TypeError:
        raise InvalidArgumentTypeError(
            f"layer_stack: num_layers must be a positive int, got "
            f"{type(num_layers).__name__} {num_layers!r}."
        ) from None
    if n < 1:
        raise InvalidArgumentError(f"layer_stack: num_layers must be >= 1, got {n}.")

    def decorator(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def stacked(x: Any, *args: Any, **kwargs: Any) -> Any:
            frame = current_frame("layer_stack")
            if frame.initializing:
                init_pass(frame, f, (x, *args), kwargs, frame.scope_names, stack=(n, 0))
            cursor = Cursor(frame.scope_names)
            pure = Pure(functools.partial(f, **kwargs), frame, cursor, stack_size=n)
            key = lift_key(frame)
            keys = None if key is None else jax.random.split(key, n)

            def body(carry: Any, inputs: Any) -> Any:
                h, st = carry
                i, k = inputs
                h, st = pure(st, k, i, h, *args)
                return (h, st), None

            (x, state), _ = jax.lax.scan(
                body, (x, dict(frame.state)), (jnp.arange(n), keys), unroll=unroll
            )
            frame.state.update(state)
            cursor.commit(frame)
            return x

        return stacked

    return decorator
