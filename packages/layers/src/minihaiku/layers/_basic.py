"""``Sequential``, ``BatchApply`` and ``dropout``, as dm-haiku's."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    Module,
    NotCallableError,
    RngError,
)
from minihaiku.core.checks import check_positive_int

__all__ = ["BatchApply", "Sequential", "dropout"]


class Sequential(Module):
    """Calls ``layers`` one after the other, as dm-haiku's ``hk.Sequential``.

    Extra arguments of ``__call__`` go to the first layer only.

    Args:
      layers: callables (modules or functions); each takes the previous output.
      name: the module's name; default ``Sequential_N``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import Linear, Sequential
      >>> f = transform(lambda x: Sequential([Linear(3), jax.nn.relu, Linear(1)])(x))
      >>> sorted(f.init(0, jnp.ones((2, 4))))[:2]
      ['~/Linear_0/__call__/b', '~/Linear_0/__call__/w']
    """

    def __init__(self, layers: Iterable[Callable[..., Any]], name: str | None = None) -> None:
        super().__init__(name=name)
        where = self.module_label
        given: Any = layers
        if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
            raise InvalidArgumentTypeError(
                f"{where}: layers must be an iterable of callables, got "
                f"{type(layers).__name__} {layers!r:.60}. Pass e.g. [Linear(8), jax.nn.relu]."
            )
        self.layers = tuple(layers)
        for i, layer in enumerate(self.layers):
            if not callable(layer):
                raise NotCallableError(
                    f"{where}: layers[{i}] is not callable: {type(layer).__name__} "
                    f"{layer!r:.60}. Every layer must be a module or a function."
                )

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """Calls the layers in order; ``args``/``kwargs`` go to the first one."""
        out = inputs
        for i, layer in enumerate(self.layers):
            out = layer(out, *args, **kwargs) if i == 0 else layer(out)
        return out


def _ndim_at_least(x: Any, num_dims: int) -> bool:
    return int(np.ndim(x)) >= num_dims


class BatchApply:
    """Merges the leading ``num_dims`` axes of the inputs, calls ``f``, splits them again.

    As dm-haiku's ``hk.BatchApply`` (a plain wrapper, not a module): inputs of
    lower rank than ``num_dims`` are passed unchanged; the leading shape is taken
    from the first input (in tree order) that has enough axes.

    Args:
      f: the callable to apply to the merged inputs.
      num_dims: the number of leading axes to merge (default 2).

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import BatchApply, Linear
      >>> f = transform(lambda x: BatchApply(Linear(4))(x))
      >>> x = jnp.ones((5, 3, 2))  # [time, batch, features]
      >>> f.apply(f.init(0, x), x).shape
      (5, 3, 4)
    """

    def __init__(self, f: Callable[..., Any], num_dims: int = 2) -> None:
        if not callable(f):
            raise NotCallableError(
                f"BatchApply: f must be callable, got {type(f).__name__} {f!r:.60}."
            )
        self._f = f
        self.num_dims = check_positive_int(num_dims, "num_dims", "BatchApply")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Calls ``f`` on the inputs with their leading axes merged."""
        n = self.num_dims
        leaves = jax.tree.leaves((args, kwargs))
        example = next((leaf for leaf in leaves if _ndim_at_least(leaf, n)), None)
        if example is None:
            shapes = [np.shape(leaf) for leaf in leaves]
            raise InvalidArgumentError(
                f"BatchApply needs at least one input with at least num_dims={n} axes to "
                f"merge, got inputs of shapes {shapes}. Lower num_dims or add axes."
            )
        lead = tuple(np.shape(example)[:n])

        def merge(x: Any) -> Any:
            if not _ndim_at_least(x, n):
                return x
            shape = np.shape(x)
            return jnp.reshape(x, (int(np.prod(shape[:n])), *shape[n:]))

        def split(x: Any) -> Any:
            return jnp.reshape(x, lead + tuple(np.shape(x)[1:]))

        out = self._f(*jax.tree.map(merge, args), **jax.tree.map(merge, kwargs))
        return jax.tree.map(split, out)


def dropout(rng: Any, rate: float, x: jax.Array, broadcast_dims: Sequence[int] = ()) -> jax.Array:
    """Zeroes each entry of ``x`` with probability ``rate``, scaling the rest by ``1/(1-rate)``.

    As dm-haiku's ``hk.dropout``: the same key gives the same mask
    (``jax.random.bernoulli(rng, 1 - rate, shape)``); ``rate == 0`` returns ``x``
    itself. A traced ``rate`` is not checked.

    Args:
      rng: a JAX PRNG key (e.g. ``next_rng_key()``).
      rate: the probability of dropping an entry, in ``[0, 1)``.
      x: the array to drop entries of.
      broadcast_dims: axes that share one mask value (e.g. ``(0,)`` to drop the
        same features for every example).

    Returns:
      ``x`` with dropped entries zeroed and the others divided by ``1 - rate``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from minihaiku.layers import dropout
      >>> y = dropout(jax.random.PRNGKey(0), 0.5, jnp.ones((2, 4)), broadcast_dims=(0,))
      >>> bool((y[0] == y[1]).all()), sorted(set(y.ravel().tolist())) <= [0.0, 2.0]
      (True, True)
    """
    if rng is None:
        raise RngError(
            "dropout: rng is None. Pass a PRNG key, e.g. dropout(next_rng_key(), rate, x) "
            "inside a function transformed with apply_rng=True."
        )
    try:
        if rate < 0 or rate >= 1:
            raise InvalidArgumentError(
                f"dropout: rate must be in [0, 1) (the probability of dropping an entry), "
                f"got {rate!r}."
            )
        if rate == 0.0:
            return x
    except jax.errors.ConcretizationTypeError:
        pass
    shape = list(np.shape(x))
    for dim in broadcast_dims:
        d = operator.index(dim)
        if not -len(shape) <= d < len(shape):
            raise InvalidArgumentError(
                f"dropout: broadcast_dims has {d}, which is not an axis of x of shape "
                f"{tuple(shape)}. Give axes in [{-len(shape)}, {len(shape) - 1}]."
            )
        shape[d] = 1
    keep_rate = 1.0 - rate
    keep = jax.random.bernoulli(rng, keep_rate, shape=shape)
    keep = jnp.broadcast_to(keep, np.shape(x))
    out: jax.Array = keep * x / keep_rate
    return out
