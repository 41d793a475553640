"""``layer_stack``: one layer applied many times, each with its own parameters, in one scan."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core._errors import InvalidArgumentError, InvalidArgumentTypeError
from minihaiku.core._lifting.lift import lift

__all__ = ["check_num_layers", "layer_stack"]


def _check_per_layer(ys: tuple[Any, ...], n: int) -> None:
    for leaf in jax.tree_util.tree_leaves(ys):
        lead = getattr(leaf, "shape", ())[:1]
        if lead != (n,):
            raise InvalidArgumentError(
                f"layer_stack({n}, with_per_layer_inputs=True): every per-layer input "
                f"needs a leading axis of size {n} (one slice per layer), got an "
                f"array of shape {tuple(getattr(leaf, 'shape', ()))}."
            )


def check_num_layers(num_layers: Any) -> int:
    """``num_layers`` as an int, refused unless a positive int (core's and hk's layer_stack).

    Examples:
      >>> check_num_layers(3)
      3
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
    return n


def layer_stack(
    num_layers: int,
    *,
    with_per_layer_inputs: bool = False,
    unroll: int | bool = 1,
    pass_reverse_to_layer_fn: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Applies a layer ``num_layers`` times, each with its own parameters, in one scan.

    ``layer_stack(n)(f)(x, *args)`` computes ``x = f(x, *args)`` n times (the
    ``args`` are the same for every layer). With ``with_per_layer_inputs=True``,
    ``layer_stack(n, with_per_layer_inputs=True)(f)(x, *ys)`` calls
    ``x, z = f(x, *ys_i)`` with the i-th slice of each ``ys`` and returns
    ``(x, zs)``, the ``z`` stacked (dm-haiku's form). ``reverse=True`` runs
    the layers last to first (passed on to ``f`` as ``reverse=`` when
    ``pass_reverse_to_layer_fn``).

    Every parameter created inside ``f`` gets a leading axis of size n (each
    layer initialized with its own key), and so does every state entry
    created inside: each layer reads and writes its own slice. The layers run
    in one ``lax.scan``, so a deep stack compiles about as fast as one layer.

    Examples:
      >>> from minihaiku.core import get_param, layer_stack, transform
      >>> def deep(x):
      ...   layer = lambda h: jnp.tanh(h @ get_param("w", (4, 4)))
      ...   return layer_stack(10)(layer)(x)
      >>> params = transform(deep).init(0, jnp.ones((1, 4)))
      >>> params["~/w"].shape
      (10, 4, 4)
    """
    n = check_num_layers(num_layers)

    def decorator(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def stacked(x: Any, *args: Any, reverse: bool = False, **kwargs: Any) -> Any:
            if pass_reverse_to_layer_fn:
                kwargs = {**kwargs, "reverse": reverse}
            if with_per_layer_inputs:
                _check_per_layer(args, n)

            def sample() -> tuple[Any, ...]:
                if not with_per_layer_inputs:
                    return (x, *args)
                return (x, *jax.tree_util.tree_map(lambda y: y[-1 if reverse else 0], args))

            lifted = lift("layer_stack", [f], sample, kwargs, stack_size=n, thread_keys=False)
            (pure,) = lifted.pures

            def body(carry: Any, inputs: Any) -> Any:
                (h, st), (i, k, ys) = carry, inputs
                if with_per_layer_inputs:
                    (h, z), st = pure(st, k, i, h, *ys, **kwargs)
                    return (h, st), z
                h, st = pure(st, k, i, h, *args, **kwargs)
                return (h, st), None

            ys = args if with_per_layer_inputs else None
            (x, state), zs = jax.lax.scan(
                body, (x, lifted.state), (jnp.arange(n), lifted.keys(n), ys), unroll=unroll,
                reverse=reverse,
            )  # fmt: skip
            lifted.done(state)
            return (x, zs) if with_per_layer_inputs else x

        return stacked

    return decorator
