"""dm-haiku's ``layer_stack``: one layer applied many times, each with its own parameters.

Built as dm-haiku builds it, from pieces core offers under the haiku scheme: the
layer is a ``transform_with_state`` of its own; ``init`` scans that transform's
``init`` over the layers (each layer's key split off the last, three ways: its
init key, the next layer's key and its apply key) and stores the stacked params
with ``lift_with_state`` under the stack's name (``__layer_stack_no_per_layer``
unless ``name=``; with a ``transparency_map``, under the current module, one
name per layer); ``apply`` scans the layer's ``apply`` with one key per layer.
So names, shapes and initial values are dm-haiku's. (minihaiku's own
``minihaiku.core.layer_stack`` names its parameters by path instead.)
"""

from __future__ import annotations

import functools
import inspect
import operator
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import jax
import jax.numpy as jnp

import minihaiku.core as core
from minihaiku.core import InvalidArgumentError
from minihaiku.core._lifting.layer_stack import check_num_layers
from minihaiku.haiku._transforms import transform_with_state

__all__ = ["LayerStackTransparencyMapping", "layer_stack"]


class LayerStackTransparencyMapping(Protocol):
    """How ``layer_stack(..., transparent=True)`` names each layer's modules (dm-haiku's).

    ``stacked_to_flat(name, i)``: the module name of layer ``i``'s copy of
    ``name``; ``flat_to_stacked(name)``: ``(stacked name, layer index)``, or
    ``None`` for a module that is not part of the stack.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> class ByIndex(hk.LayerStackTransparencyMapping):
      ...   def stacked_to_flat(self, stacked_module_name, scan_idx):
      ...     return stacked_module_name.replace("linear", f"linear_{scan_idx}")
      ...   def flat_to_stacked(self, unstacked_module_name):
      ...     base, _, i = unstacked_module_name.rpartition("_")
      ...     return (base, int(i)) if base.endswith("linear") else None
      >>> f = hk.transform(lambda x: hk.layer_stack(2, transparent=True,
      ...     transparency_map=ByIndex())(lambda h: hk.Linear(3)(h))(x))
      >>> sorted(f.init(jax.random.PRNGKey(0), jnp.ones((1, 3))))
      ['linear_0', 'linear_1']
    """

    def stacked_to_flat(self, stacked_module_name: str, scan_idx: int) -> str:
        """The flat module name of layer ``scan_idx``'s copy of ``stacked_module_name``."""
        ...

    def flat_to_stacked(self, unstacked_module_name: str) -> tuple[str, int] | None:
        """``(stacked name, layer index)`` of a flat module name, or ``None``."""
        ...


def _split(tree: Mapping[str, Any], n: int, names: LayerStackTransparencyMapping) -> Any:
    """Stacked ``{module: {name: (n, ...)}}`` as one module per layer (transparent)."""
    out: dict[str, Any] = {}
    for module, leaves in tree.items():
        for i in range(n):
            flat = names.stacked_to_flat(module, i)
            if flat in out:
                raise InvalidArgumentError(
                    f"layer_stack: the transparency_map gives layer {i} of {module!r} the "
                    f"name {flat!r}, which another module of the stack has already. Make "
                    "stacked_to_flat return a different name for each module and index."
                )
            out[flat] = jax.tree_util.tree_map(operator.itemgetter(i), leaves)
    return out


def _stack(tree: Mapping[str, Any], n: int, names: LayerStackTransparencyMapping) -> Any:
    """The per-layer modules of ``tree`` stacked back into ``{stacked: {name: (n, ...)}}``."""
    layers: dict[str, list[Any]] = {}
    for module, leaves in tree.items():
        found = names.flat_to_stacked(module)
        if found is None:
            continue
        stacked, i = found
        layers.setdefault(stacked, [None] * n)[i] = leaves
    return {m: jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *ls) for m, ls in layers.items()}


def layer_stack(
    num_layers: int,
    with_per_layer_inputs: bool = False,
    unroll: int = 1,
    pass_reverse_to_layer_fn: bool = False,
    transparent: bool = False,
    transparency_map: LayerStackTransparencyMapping | None = None,
    name: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """dm-haiku's ``hk.layer_stack``: ``f`` applied ``num_layers`` times, each with its own params.

    ``layer_stack(n)(f)(*args)`` computes ``args = f(*args)`` n times;
    ``layer_stack(n, with_per_layer_inputs=True)(f)(x, *ys)`` calls
    ``x, z = f(x, *ys_i)`` with the i-th slice of each ``ys`` and returns
    ``(x, zs)``. Call the result with ``reverse=True`` to run the layers last
    to first. Params are stacked, dm-haiku's names:
    ``{"__layer_stack_no_per_layer/linear": {"w": (n, ...)}}``.

    Raises:
      InvalidArgumentError: ``transparent=True`` without a ``transparency_map``
        (a ``ValueError``, as in dm-haiku), or ``num_layers < 1``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.transform(lambda x: hk.layer_stack(4)(lambda h: hk.Linear(3)(h))(x))
      >>> params = f.init(jax.random.PRNGKey(0), jnp.ones((2, 3)))
      >>> params["__layer_stack_no_per_layer/linear"]["w"].shape
      (4, 3, 3)
    """
    n = check_num_layers(num_layers)
    if transparent and transparency_map is None:
        raise InvalidArgumentError(
            "layer_stack(transparent=True) needs a transparency_map: it says which "
            "module name each layer's copy of a module gets. Pass "
            "transparency_map=<a LayerStackTransparencyMapping>, or transparent=False."
        )
    names = transparency_map if transparent else None
    if not name:
        name = (
            "__layer_stack_with_per_layer"
            if with_per_layer_inputs
            else "__layer_stack_no_per_layer"
        )
    stack_name = name

    def decorator(f: Callable[..., Any]) -> Callable[..., Any]:
        if not with_per_layer_inputs:
            _check_no_varargs(f)

        def one_layer(c: Any, *ys: Any, **kwargs: Any) -> Any:
            if with_per_layer_inputs:
                return f(c, *ys, **kwargs)
            out = f(*c, **kwargs)
            return ((out,) if len(c) == 1 else out), None

        inner = transform_with_state(one_layer)

        def run(x: Any, ys: tuple[Any, ...], reverse: bool) -> Any:
            def init_layer(carry: Any, y: Any) -> Any:
                c, key = carry
                key, nxt, apply_key = (
                    (None, None, None) if key is None else jax.random.split(key, 3)
                )
                params, state = inner.init(key, c, *y)
                (c, _), state = inner.apply(params, state, apply_key, c, *y)
                return (c, nxt), (params, state)

            def init_all(x0: Any, key: Any) -> Any:
                _, (params, state) = jax.lax.scan(init_layer, (x0, key), ys, length=n)
                if names is not None:
                    return _split(params, n, names), _split(state, n, names)
                return params, state

            if names is not None:
                lifted, updater = core.transparent_lift_with_state(init_all, allow_reuse=True)
            else:
                lifted, updater = core.lift_with_state(init_all, allow_reuse=True, name=stack_name)
            params, state = lifted(x, core.maybe_next_rng_key())
            if names is not None:
                params, state = _stack(params, n, names), _stack(state, n, names)
            key = core.maybe_next_rng_key()
            keys = None if key is None else jax.random.split(key, n)
            kwargs = {"reverse": reverse} if pass_reverse_to_layer_fn else {}

            def apply_layer(c: Any, layer: Any) -> Any:
                p, s, k, y = layer
                (c, z), s = inner.apply(p, s, k, c, *y, **kwargs)
                return c, (z, s)

            x, (zs, states) = jax.lax.scan(
                apply_layer, x, (params, state, keys, ys), length=n, unroll=unroll, reverse=reverse
            )
            updater.update(states)
            return x, zs

        if with_per_layer_inputs:

            @functools.wraps(f)
            def with_inputs(x: Any, *args: Any, reverse: bool = False) -> Any:
                for y in jax.tree_util.tree_leaves(args):
                    if jnp.shape(y)[:1] != (n,):
                        raise InvalidArgumentError(
                            f"layer_stack({n}, with_per_layer_inputs=True): every per-layer "
                            f"input needs a leading axis of size {n}, got shape {jnp.shape(y)}."
                        )
                return run(x, args, reverse)

            return with_inputs

        @functools.wraps(f)
        def without_inputs(*args: Any, reverse: bool = False) -> Any:
            out = run(args, (), reverse)[0]
            return out[0] if len(args) == 1 else out

        return without_inputs

    return decorator


def _check_no_varargs(f: Callable[..., Any]) -> None:
    try:
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        raise InvalidArgumentError(
            f"layer_stack: {getattr(f, '__name__', f)!r} takes *args; without per-layer "
            "inputs the layer's outputs feed its inputs, so it needs a fixed number of "
            "arguments (dm-haiku's rule). Name its parameters."
        )
