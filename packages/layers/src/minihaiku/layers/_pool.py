"""Pooling: ``max_pool``, ``avg_pool`` and the ``MaxPool``, ``AvgPool`` modules, as dm-haiku's."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from minihaiku.core import InvalidArgumentError, Module
from minihaiku.core.checks import check_positive_int, prefix

__all__ = ["AvgPool", "MaxPool", "avg_pool", "max_pool"]


def _window(
    value: Any, name: str, where: str, *, x: jax.Array, channel_axis: int | None
) -> tuple[int, ...]:
    """dm-haiku's ``_infer_shape``: the window (or strides) ``value`` made full-rank for ``x``."""
    size = value
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = check_positive_int(size, name, where)
        if channel_axis and not 0 <= abs(channel_axis) < x.ndim:
            raise InvalidArgumentError(
                f"{where}: channel_axis={channel_axis} is not an axis of the input of "
                f"shape {x.shape}. Pass an axis in [{1 - x.ndim}, {x.ndim - 1}], or None "
                "to pool over every axis but the first."
            )
        if channel_axis and channel_axis < 0:
            channel_axis = x.ndim + channel_axis
        return (1, *(size if d != channel_axis else 1 for d in range(1, x.ndim)))
    if isinstance(size, str) or not isinstance(size, Sequence):
        raise InvalidArgumentError(
            f"{prefix(where)}{name} must be an int or a sequence of positive ints, got "
            f"{type(size).__name__} {size!r:.60}."
        )
    sizes = tuple(check_positive_int(s, name, where) for s in size)
    if len(sizes) > x.ndim:
        raise InvalidArgumentError(
            f"{prefix(where)}{name} {sizes} has {len(sizes)} entries but the input of shape "
            f"{x.shape} has only {x.ndim} axes. Give at most one entry per axis (leading "
            "axes missing from it are not pooled)."
        )
    return (1,) * (x.ndim - len(sizes)) + sizes


def _prepare(
    value: Any, window_shape: Any, strides: Any, padding: Any, channel_axis: int | None, where: str
) -> tuple[jax.Array, tuple[int, ...], tuple[int, ...]]:
    if padding not in ("SAME", "VALID"):
        raise InvalidArgumentError(
            f"{where}: padding must be 'SAME' or 'VALID', got {padding!r:.60}."
        )
    if channel_axis is not None:
        channel_axis = operator.index(channel_axis)
    x = jnp.asarray(value)
    window = _window(window_shape, "window_shape", where, x=x, channel_axis=channel_axis)
    return x, window, _window(strides, "strides", where, x=x, channel_axis=channel_axis)


def _max_pool(
    value: Any, window_shape: Any, strides: Any, padding: str, channel_axis: int | None, where: str
) -> jax.Array:
    x, window, stride = _prepare(value, window_shape, strides, padding, channel_axis, where)
    out: jax.Array = lax.reduce_window(x, -jnp.inf, lax.max, window, stride, padding)
    return out


def _avg_pool(
    value: Any, window_shape: Any, strides: Any, padding: str, channel_axis: int | None, where: str
) -> jax.Array:
    x, window, stride = _prepare(value, window_shape, strides, padding, channel_axis, where)
    pooled: jax.Array = lax.reduce_window(x, 0.0, lax.add, window, stride, padding)
    if padding == "VALID":
        return pooled / math.prod(window)  # a Python int: a folded constant
    # Count the entries of each window that are not padding (as dm-haiku does).
    shape = [(v if w != 1 else 1) for v, w in zip(x.shape, window, strict=True)]
    counts: jax.Array = lax.reduce_window(
        jnp.ones(shape, x.dtype), 0.0, lax.add, window, stride, padding
    )
    return pooled / counts


def max_pool(
    value: jax.Array,
    window_shape: int | Sequence[int],
    strides: int | Sequence[int],
    padding: str,
    channel_axis: int | None = -1,
) -> jax.Array:
    """Max pooling, as dm-haiku's ``hk.max_pool``.

    Args:
      value: the array to pool.
      window_shape: the window: a sequence with one entry per axis (missing
        leading axes are not pooled), or an int for every axis but the first and
        ``channel_axis``.
      strides: the strides, given like ``window_shape``.
      padding: ``"SAME"`` or ``"VALID"``.
      channel_axis: the axis an int ``window_shape``/``strides`` leaves alone
        (``None``: pool every axis but the first).

    Returns:
      The pooled array, of the same rank as ``value``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.layers import max_pool
      >>> x = jnp.arange(16.0).reshape(1, 4, 4, 1)
      >>> max_pool(x, window_shape=2, strides=2, padding="VALID")[0, ..., 0]
      Array([[ 5.,  7.],
             [13., 15.]], dtype=float32)
    """
    return _max_pool(value, window_shape, strides, padding, channel_axis, "max_pool")


def avg_pool(
    value: jax.Array,
    window_shape: int | Sequence[int],
    strides: int | Sequence[int],
    padding: str,
    channel_axis: int | None = -1,
) -> jax.Array:
    """Average pooling, as dm-haiku's ``hk.avg_pool``.

    With ``"SAME"`` padding, each window averages only the entries that are
    not padding.

    Args:
      value: the array to pool.
      window_shape: as in :func:`max_pool`.
      strides: as in :func:`max_pool`.
      padding: ``"SAME"`` or ``"VALID"``.
      channel_axis: as in :func:`max_pool`.

    Returns:
      The pooled array, of the same rank as ``value``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.layers import avg_pool
      >>> x = jnp.arange(16.0).reshape(1, 4, 4, 1)
      >>> avg_pool(x, window_shape=2, strides=2, padding="VALID")[0, ..., 0]
      Array([[ 2.5,  4.5],
             [10.5, 12.5]], dtype=float32)
    """
    return _avg_pool(value, window_shape, strides, padding, channel_axis, "avg_pool")


class MaxPool(Module):
    """Max pooling as a module: :func:`max_pool` with fixed arguments.

    Args:
      window_shape: as in :func:`max_pool`.
      strides: as in :func:`max_pool`.
      padding: ``"SAME"`` or ``"VALID"``.
      channel_axis: as in :func:`max_pool`.
      name: the module's name; default ``MaxPool_N``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import MaxPool
      >>> f = transform(lambda x: MaxPool(window_shape=3, strides=2, padding="SAME")(x))
      >>> f.apply(f.init(0, jnp.ones((2, 9, 9, 3))), jnp.ones((2, 9, 9, 3))).shape
      (2, 5, 5, 3)
    """

    def __init__(
        self,
        window_shape: int | Sequence[int],
        strides: int | Sequence[int],
        padding: str,
        channel_axis: int | None = -1,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.window_shape = window_shape
        self.strides = strides
        self.padding = padding
        self.channel_axis = channel_axis

    def __call__(self, value: jax.Array) -> jax.Array:
        """Max-pools ``value``."""
        where = self.module_label
        return _max_pool(
            value, self.window_shape, self.strides, self.padding, self.channel_axis, where
        )


class AvgPool(Module):
    """Average pooling as a module: :func:`avg_pool` with fixed arguments.

    Args:
      window_shape: as in :func:`max_pool`.
      strides: as in :func:`max_pool`.
      padding: ``"SAME"`` or ``"VALID"``.
      channel_axis: as in :func:`max_pool`.
      name: the module's name; default ``AvgPool_N``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import AvgPool
      >>> f = transform(lambda x: AvgPool((2, 2, 1), strides=(2, 2, 1), padding="VALID")(x))
      >>> f.apply(f.init(0, jnp.ones((8, 8, 3))), jnp.ones((8, 8, 3))).shape
      (4, 4, 3)
    """

    def __init__(
        self,
        window_shape: int | Sequence[int],
        strides: int | Sequence[int],
        padding: str,
        channel_axis: int | None = -1,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.window_shape = window_shape
        self.strides = strides
        self.padding = padding
        self.channel_axis = channel_axis

    def __call__(self, value: jax.Array) -> jax.Array:
        """Average-pools ``value``."""
        where = self.module_label
        return _avg_pool(
            value, self.window_shape, self.strides, self.padding, self.channel_axis, where
        )
