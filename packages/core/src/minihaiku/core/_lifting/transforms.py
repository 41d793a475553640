"""Lifted JAX transforms, usable inside transformed functions.

Each behaves like its JAX counterpart, and also works when the function reads
or creates parameters and state, or draws keys with ``next_rng_key``:
parameters are shared by every step / branch / mapped element (see
``layer_stack`` and ``vmap(split_params=True)`` for per-layer parameters),
state is threaded through, and each step gets its own key. Each is a few
lines on :func:`minihaiku.core._lifting.lift.lift`.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core._errors import InvalidArgumentError, InvalidArgumentTypeError
from minihaiku.core._frame import current_frame
from minihaiku.core._lifting.lift import lift
from minihaiku.core._lifting.named_axis import init_pass_over_axis
from minihaiku.core._lifting.outputs import Recorder, describe_fn, mismatch

__all__ = ["eval_shape", "grad", "map", "remat", "scan", "value_and_grad", "vmap"]

_axis_names = itertools.count()


def _first(xs: Any, reverse: bool) -> Any:
    """One step's slice of ``xs`` for the init pass (zeros when ``xs`` is empty)."""

    def one(x: Any) -> Any:
        if x.shape[0] == 0:
            return jnp.zeros(x.shape[1:], x.dtype)
        return x[-1 if reverse else 0]

    return None if xs is None else jax.tree_util.tree_map(one, xs)


_CARRY = "Return the carry with the type it came in with (cast or reshape it)."


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
    step; ``next_rng_key`` gives each step its own key. Zero-length inputs
    work (the parameters are still created during ``init``).

    Examples:
      >>> from minihaiku.core import get_param, scan, transform
      >>> def f(xs):
      ...   def step(c, x):
      ...     c = c * get_param("a", (), init=jax.nn.initializers.ones) + x
      ...     return c, c
      ...   return scan(step, 0.0, xs)[1]
      >>> f = transform(f)
      >>> f.apply(f.init(0, jnp.ones(3)), jnp.ones(3))
      Array([1., 2., 3.], dtype=float32)
    """
    lifted = lift("scan", [f], lambda: (init, _first(xs, reverse)), refill=True, stepped=True)
    (pure,) = lifted.pures
    n = length if length is not None else len(jax.tree_util.tree_leaves(xs)[0])
    y0 = None
    if lifted.first is not None:  # haiku scheme's init: step 0 ran (dm-haiku unrolls it)
        c0, y0 = lifted.first[0]
        if n <= 1:
            lifted.done(lifted.state)
            return (init, _stacked(y0, 0)) if n == 0 else (c0, _stacked(y0, 1))
        init, n = c0, n - 1
        xs = jax.tree_util.tree_map(lambda x: x[:-1] if reverse else x[1:], xs)
        length = None if length is None else n
        lifted.thread(True)

    rec = Recorder(2)
    rec.record(0, init)

    def body(carry: Any, inputs: Any) -> Any:
        (c, st), (x, k) = carry, inputs
        (c, y), st = pure(st, k, None, c, x)
        rec.record(1, c)
        return (c, st), y

    try:
        (carry, state), ys = jax.lax.scan(
            body, (init, lifted.state), (xs, lifted.keys(n)), length=length, reverse=reverse,
            unroll=unroll,
        )  # fmt: skip
    except TypeError:
        names = ["init is", f"f ({describe_fn(f)}) returns the carry"]
        error = mismatch(
            "scan",
            names,
            rec.outs,
            "f must return the carry with init's structure, shapes and dtypes",
            _CARRY,
        )
        if error is not None:
            raise error from None
        raise
    lifted.done(state)
    if y0 is not None:
        parts = (ys, _stacked(y0, 1)) if reverse else (_stacked(y0, 1), ys)
        ys = jax.tree_util.tree_map(lambda *p: jnp.concatenate(p), *parts)
    return carry, ys


def _stacked(y: Any, n: int) -> Any:
    """``y`` with a leading axis of size ``n`` (0: empty, 1: ``y`` itself)."""
    return jax.tree_util.tree_map(
        lambda v: (
            jnp.zeros((0, *jnp.shape(v)), jnp.result_type(v)) if n == 0 else jnp.asarray(v)[None]
        ),
        y,
    )


def map(f: Callable[[Any], Any], xs: Any) -> Any:
    """``jax.lax.map`` that may use parameters, state and keys inside ``f``.

    Examples:
      >>> from minihaiku.core import map, transform
      >>> transform(lambda xs: map(lambda x: x * 2, xs)).apply({}, jnp.arange(3))
      Array([0, 2, 4], dtype=int32)
    """
    current_frame("map")
    return scan(lambda _, x: (None, f(x)), None, xs)[1]


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


def _mapped_size(axes: Sequence[Any], args: tuple[Any, ...], axis_size: int | None) -> int:
    if axis_size is not None:
        return axis_size
    for a, x in zip(axes, args, strict=True):
        if isinstance(a, int):
            return int(jax.tree_util.tree_leaves(x)[0].shape[a])
    raise InvalidArgumentError(
        "vmap: no argument is mapped (every in_axes entry is None); pass "
        "axis_size= to say how many elements to map over."
    )


def vmap(
    fn: Callable[..., Any],
    in_axes: Any = 0,
    out_axes: Any = 0,
    axis_size: int | None = None,
    split_rng: bool = False,
    split_params: bool = False,
    *,
    axis_name: Hashable | None = None,
    spmd_axis_name: Any = None,
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
      axis_name: a name for the mapped axis, for collectives inside ``fn``
        (``jax.lax.pmean(x, axis_name)``, ``BatchNorm``'s
        ``cross_replica_axis``), as in ``jax.vmap``. With a named axis the
        ``init`` pass that creates the parameters maps ``fn`` over the whole
        batch too (without one, it runs ``fn`` on the first element).
      spmd_axis_name: as in ``jax.vmap`` (the mesh axis the mapped axis is
        sharded over).

    Examples:
      >>> from minihaiku.core import get_param, transform, vmap
      >>> def f(xs):
      ...   scale = lambda x: x * get_param("s", (), init=jax.nn.initializers.ones)
      ...   return vmap(scale)(xs)
      >>> f = transform(f)
      >>> f.apply(f.init(0, jnp.ones(2)), jnp.arange(2.0))
      Array([0., 1.], dtype=float32)

      A named axis, for a collective across the mapped elements:

      >>> centre = lambda x: x - jax.lax.pmean(x, "batch")
      >>> transform(lambda xs: vmap(centre, axis_name="batch")(xs)).apply({}, jnp.arange(3.0))
      Array([-1.,  0.,  1.], dtype=float32)
    """
    init_pass: list[dict[str, Any]] = []  # jax.vmap's arguments while lift's init pass runs

    def run(*a: Any) -> Any:
        if init_pass:  # the init pass with a named axis: over the batch, inside jax.vmap
            return init_pass_over_axis(fn, init_pass[0], a)
        return fn(*a)

    @functools.wraps(fn)
    def mapped(*args: Any) -> Any:
        current_frame("vmap")  # outside a transform: say so before checking arguments
        axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
        if len(axes) != len(args):
            raise InvalidArgumentError(
                f"vmap in_axes has {len(axes)} entries but the function got "
                f"{len(args)} positional arguments; give one entry per argument."
            )
        size = _mapped_size(axes, args, axis_size)
        name = axis_name if axis_name is not None else f"_minihaiku_vmap_{next(_axis_names)}"
        if axis_name is not None:
            init_pass.append(
                dict(in_axes=tuple(axes), out_axes=out_axes, axis_size=axis_size,
                     axis_name=name, spmd_axis_name=spmd_axis_name)
            )  # fmt: skip
        try:
            lifted = lift(
                "vmap",
                [run],
                # the init pass runs one element, or with a named axis all of them
                (lambda: args)
                if axis_name is not None
                else lambda: tuple(_slice0(x, a) for a, x in zip(axes, args, strict=True)),
                stack_size=size if split_params else None,
            )
        finally:
            init_pass.clear()
        (pure,) = lifted.pures
        key, rng_axis = lifted.key, None
        if split_rng:
            keys = lifted.split(size)
            if keys is not None:
                key, rng_axis = keys, 0

        def inner(st: Any, k: Any, *a: Any) -> Any:
            return pure(st, k, jax.lax.axis_index(name) if split_params else None, *a)

        out, state = jax.vmap(
            inner, in_axes=(None, rng_axis, *axes), out_axes=(out_axes, None),
            axis_size=axis_size, axis_name=name, spmd_axis_name=spmd_axis_name,
        )(lifted.state, key, *args)  # fmt: skip
        lifted.done(state)
        return out

    return mapped


def remat(fn: Callable[..., Any], **checkpoint_kwargs: Any) -> Callable[..., Any]:
    """``jax.checkpoint`` (remat) that may use parameters, state and keys.

    During ``init`` the function simply runs; in ``apply`` its activations are
    recomputed in the backward pass instead of stored.

    Examples:
      >>> from minihaiku.core import remat, transform
      >>> transform(remat(lambda x: jnp.sin(x))).apply({}, 0.0)
      Array(0., dtype=float32, weak_type=True)
    """

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_frame("remat").creates_params:
            return fn(*args, **kwargs)
        lifted = lift("remat", [fn], args, kwargs)
        (pure,) = lifted.pures
        out, state = jax.checkpoint(
            lambda st, k, *a: pure(st, k, None, *a, **kwargs), **checkpoint_kwargs
        )(lifted.state, lifted.key, *args)
        lifted.done(state)
        return out

    return wrapped


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

    Examples:
      >>> from minihaiku.core import transform, value_and_grad
      >>> transform(lambda x: value_and_grad(lambda y: y**2)(x)).apply({}, 3.0)
      (Array(9., dtype=float32, weak_type=True), Array(6., dtype=float32, weak_type=True))
    """

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        lifted = lift("value_and_grad", [fn], args, kwargs)
        (pure,) = lifted.pures

        def f(*a: Any) -> Any:
            out, st = pure(lifted.state, lifted.key, None, *a, **kwargs)
            return (out[0], (out[1], st)) if has_aux else (out, (None, st))

        (value, (aux, st)), grads = jax.value_and_grad(
            f, argnums=argnums, has_aux=True, **grad_kwargs
        )(*args)
        lifted.done(st)
        return ((value, aux), grads) if has_aux else (value, grads)

    return wrapped


def grad(
    fn: Callable[..., Any],
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    **grad_kwargs: Any,
) -> Callable[..., Any]:
    """``jax.grad`` of a function that may read parameters (see :func:`value_and_grad`).

    Examples:
      >>> from minihaiku.core import grad, transform
      >>> transform(lambda x: grad(lambda y: y**2)(x)).apply({}, 3.0)
      Array(6., dtype=float32, weak_type=True)
    """
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

    Examples:
      >>> from minihaiku.core import eval_shape, transform
      >>> transform(lambda x: eval_shape(lambda y: y @ y.T, x)).apply({}, jnp.ones((2, 3)))
      ShapeDtypeStruct(shape=(2, 2), dtype=float32)
    """
    lifted = lift("eval_shape", [fn], args, kwargs)
    (pure,) = lifted.pures
    out, _ = jax.eval_shape(
        lambda st, k, *a: pure(st, k, None, *a, **kwargs), lifted.state, lifted.key, *args
    )
    lifted.done(None)
    return out
