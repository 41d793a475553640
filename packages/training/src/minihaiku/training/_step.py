"""One compiled chunk of training steps, and the checks on the loss before it compiles."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax

from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError
from minihaiku.training._freeze import merge
from minihaiku.training._leaves import check_number_dict, not_a_number
from minihaiku.training._loss_scale import LossScale, scaled_step
from minihaiku.training._losses import Loss

__all__ = ["Normalized", "check_outputs", "make_chunk", "normalize"]

#: ``f(params, state, key, batch) -> (loss, (state, metrics))``.
Normalized = Callable[[Any, Any, Any, Any], tuple[jax.Array, tuple[Any, Any]]]


def normalize(loss: Loss) -> Normalized:
    """The loss in the one form the chunk calls."""

    def f(params: Any, state: Any, key: Any, batch: Any) -> tuple[jax.Array, tuple[Any, Any]]:
        args = (params, *((state,) if loss.has_state else ()), batch, *((key,) if loss.rng else ()))
        out = loss.fn(*args)
        metrics: Any = {}
        if loss.has_state and loss.has_aux:
            value, (state, metrics) = _pair(out, "(loss, (new_state, metrics))")
        elif loss.has_state:
            value, state = _pair(out, "(loss, new_state)")
        elif loss.has_aux:
            value, metrics = _pair(out, "(loss, metrics)")
        else:
            value = out
        return value, (state, metrics)

    return f


def _pair(out: Any, what: str) -> tuple[Any, Any]:
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        got = f"an array of shape {out.shape}" if hasattr(out, "shape") else type(out).__name__
        raise InvalidArgumentError(
            f"the loss must return a pair {what}, got {got}. Return the "
            "pair, or train without state= / has_aux=."
        )
    return out[0], out[1]


def check_outputs(f: Normalized, params: Any, state: Any, key: Any, batch: Any) -> list[str]:
    """Traces the loss once (no compute) and checks what it returns; gives the metric names."""

    def checked(p: Any, s: Any, k: Any, b: Any) -> tuple[jax.Array, tuple[Any, Any]]:
        value, (new_state, metrics) = f(p, s, k, b)
        got = not_a_number(value)
        if got is not None:
            raise InvalidArgumentTypeError(
                f"the loss must return a float scalar, got {got}. Return jnp.mean(...) of "
                "the examples' losses; with has_aux=True return (loss, metrics)."
            )
        check_number_dict(metrics, "the loss's metrics", "Return numbers or 0-d arrays.")
        return value, (new_state, metrics)

    value, (new_state, metrics) = jax.eval_shape(checked, params, state, key, batch)
    if not (
        hasattr(value, "shape") and value.shape == () and jnp.issubdtype(value.dtype, jnp.floating)
    ):
        got = (
            f"shape {value.shape} {value.dtype}"
            if hasattr(value, "shape")
            else type(value).__name__
        )
        raise InvalidArgumentError(
            f"the loss must return a float scalar, got {got}. Reduce it (e.g. jnp.mean) "
            "over the batch; with has_aux=True return (loss, metrics)."
        )
    if not isinstance(metrics, Mapping):
        raise InvalidArgumentError(
            f"the loss's metrics must be a dict of scalars, got {type(metrics).__name__}."
        )
    bad = [k for k, v in metrics.items() if getattr(v, "shape", None) != ()]
    if bad:
        shapes = ", ".join(
            f"{k!r} {getattr(metrics[k], 'shape', type(metrics[k]).__name__)}" for k in bad
        )
        raise InvalidArgumentError(
            f"the loss's metrics must be scalars, got {shapes}. Reduce each metric "
            "over the batch (e.g. jnp.mean)."
        )
    if jax.tree_util.tree_structure(new_state) != jax.tree_util.tree_structure(state) or any(  # type: ignore[operator]
        a.shape != jnp.shape(b)
        for a, b in zip(
            jax.tree_util.tree_leaves(new_state), jax.tree_util.tree_leaves(state), strict=True
        )
    ):
        raise InvalidArgumentError(
            "the loss returned a state of another structure or shapes than the state "
            "it was given; return the state apply returned."
        )
    return sorted(metrics)


def make_chunk(
    f: Normalized,
    optimizer: optax.GradientTransformation,
    capacity: int,
    stacked: bool,
    loss_scale: LossScale | None = None,
    gather: bool = False,
) -> Callable[..., Any]:
    """``chunk(trainable, frozen, opt_state, state, key, step0, n, data)``: ``n`` steps.

    One compiled program serves every chunk of a run, whatever its length:
    ``n <= capacity`` is a traced argument and the losses and metrics come
    back in ``(capacity,)`` buffers of which the first ``n`` entries are the
    steps' (a chunk compiled per length would let XLA drop the loop of a
    one-step chunk and fuse it differently, changing the last bit of the
    results, so a resumed run would not equal an uninterrupted one). The
    loop runs ``capacity`` iterations, a trip count XLA knows, and the steps
    past ``n`` (only in a run's short chunks) are computed but not kept: a
    loop whose trip count is only known at run time makes a GPU copy its
    condition to the host after every step (the quadratic fit ran at 0.57x
    a hand-written scan on an H200 so). A one-step capacity keeps such a
    loop instead (one copy per dispatch, and XLA still sees a loop).

    With ``stacked`` the data holds one batch per step on axis 0
    (``capacity`` of them; step ``j`` reads row ``j``); with ``gather`` too,
    it is ``(arrays, indices)`` and step ``j`` takes the examples
    ``indices[j]`` of ``arrays`` (on the device); otherwise it is the one batch
    of every step. Step ``i`` gets the key ``fold_in(key, i)`` (``None`` when
    ``key`` is ``None``). With ``loss_scale`` the optimizer state is a
    ``ScaledOptState`` and each step scales the loss (see
    :mod:`minihaiku.training._loss_scale`).
    """

    def chunk(
        trainable: Any,
        frozen: Any,
        opt_state: Any,
        state: Any,
        key: Any,
        step0: Any,
        n: Any,
        data: Any,
    ) -> Any:
        def objective(t: Any, s: Any, k: Any, batch: Any) -> Any:
            return f(merge(t, frozen), s, k, batch)

        scaled = None if loss_scale is None else scaled_step(loss_scale, optimizer, objective)

        def batch_of(j: Any) -> Any:
            if not stacked:
                return data
            if gather:
                rows = jax.lax.dynamic_index_in_dim(data[1], j, keepdims=False)
                return jax.tree_util.tree_map(lambda a: a[rows], data[0])
            return jax.tree_util.tree_map(
                lambda a: jax.lax.dynamic_index_in_dim(a, j, keepdims=False), data
            )

        def step(j: Any, p: Any, o: Any, s: Any) -> Any:
            batch = batch_of(j)
            k = None if key is None else jax.random.fold_in(key, step0 + j.astype(jnp.uint32))
            if scaled is not None:
                return scaled(p, o, s, k, batch)
            (value, (s, metrics)), grads = jax.value_and_grad(objective, has_aux=True)(
                p, s, k, batch
            )
            updates, o = optimizer.update(grads, o, p)
            return (optax.apply_updates(p, updates), o, s), (value, metrics)

        shapes = jax.eval_shape(step, jnp.int32(0), trainable, opt_state, state)[1]
        buffers = jax.tree_util.tree_map(lambda x: jnp.zeros((capacity, *x.shape), x.dtype), shapes)

        def body(j: Any, carry: Any) -> Any:
            p, o, s, out = carry
            new, got = step(j, p, o, s)
            if capacity > 1:  # keep the carry of the steps past n
                new = jax.tree_util.tree_map(lambda a, b: jnp.where(j < n, a, b), new, (p, o, s))
            out = jax.tree_util.tree_map(
                lambda b, x: jax.lax.dynamic_update_index_in_dim(b, x, j, 0), out, got
            )
            return (*new, out)

        # capacity 1: a dynamic trip count, so XLA keeps the loop (see above).
        p, o, s, (losses, metrics) = jax.lax.fori_loop(
            0, n if capacity == 1 else capacity, body, (trainable, opt_state, state, buffers)
        )
        return p, o, s, losses, metrics

    return chunk
