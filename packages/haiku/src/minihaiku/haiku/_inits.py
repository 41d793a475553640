"""dm-haiku's initializers: ``(shape, dtype) -> Array`` objects over minihaiku.initializers.

A dm-haiku initializer takes no key: a random one draws ``next_rng_key()``
itself when it is called. Under the haiku scheme that key is the next of the
init key's sequence, so the values are dm-haiku's. :func:`as_init` turns such
an initializer into the ``(key, shape, dtype)`` form minihaiku's layers and
``get_param`` take, marked keyless: core draws nothing for it, the
initializer draws what it needs, in dm-haiku's order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import minihaiku.initializers as mi
from minihaiku.core import InitLike, InvalidArgumentError, keyless, next_rng_key
from minihaiku.core.checks import check_nonnegative, check_one_of

__all__ = [
    "Constant",
    "Identity",
    "Initializer",
    "Orthogonal",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "UniformScaling",
    "VarianceScaling",
    "as_init",
]

#: dm-haiku's initializer type: ``init(shape, dtype) -> Array``.
Initializer = Callable[[Sequence[int], Any], jax.Array]


def as_init(init: Initializer | str | None) -> InitLike:
    """A dm-haiku initializer as a minihaiku one (``None`` stays ``None``: the layer's default).

    Examples:
      >>> from minihaiku.core import get_param, transform
      >>> f = transform(lambda: get_param("w", (2,), init=as_init(jnp.ones)), scheme="haiku")
      >>> f.init(None)
      {'~': {'w': Array([1., 1.], dtype=float32)}}
      >>> as_init("lecun_normal")  # initializers by registered name pass through
      'lecun_normal'
    """
    if init is None or isinstance(init, str):
        return init  # a name: minihaiku's registry resolves it (w_init="lecun_normal")
    hk_init = init

    def call(key: Any, shape: tuple[int, ...], dtype: Any) -> jax.Array:
        return jnp.asarray(hk_init(shape, dtype))

    call.__qualname__ = getattr(init, "__qualname__", type(init).__name__)
    return keyless(call)


class _Random:
    """A dm-haiku initializer that draws one key and calls a minihaiku initializer."""

    _init: Callable[..., jax.Array]

    def __call__(self, shape: Sequence[int], dtype: Any) -> jax.Array:
        return self._init(next_rng_key(), tuple(shape), dtype)


class Constant:
    """dm-haiku's ``Constant``: every value is ``constant`` (draws no key).

    Examples:
      >>> Constant(2.0)((2,), jnp.float32)
      Array([2., 2.], dtype=float32)
    """

    def __init__(self, constant: float | int | complex | np.ndarray | jax.Array) -> None:
        self.constant = constant

    def __call__(self, shape: Sequence[int], dtype: Any) -> jax.Array:
        return jnp.broadcast_to(jnp.asarray(self.constant), tuple(shape)).astype(dtype)


class RandomNormal(_Random):
    """dm-haiku's ``RandomNormal``: ``mean + stddev * normal``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.transform(lambda: hk.get_parameter("w", (2,), init=RandomNormal(0.1)))
      >>> f.init(jax.random.PRNGKey(0))["~"]["w"].shape
      (2,)
    """

    def __init__(self, stddev: float = 1.0, mean: float = 0.0) -> None:
        self.stddev, self.mean = stddev, mean
        self._init = mi.normal(stddev, mean)


class RandomUniform(_Random):
    """dm-haiku's ``RandomUniform`` on ``[minval, maxval)``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.transform(lambda: hk.get_parameter("w", (3,), init=RandomUniform(0, 1)))
      >>> bool((f.init(jax.random.PRNGKey(0))["~"]["w"] < 1).all())
      True
    """

    def __init__(self, minval: float = 0.0, maxval: float = 1.0) -> None:
        self.minval, self.maxval = minval, maxval
        self._init = mi.uniform(minval, maxval)


class TruncatedNormal(_Random):
    """dm-haiku's ``TruncatedNormal``: normal truncated to ``[lower, upper]`` stddevs.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.transform(lambda: hk.get_parameter("w", (3,), init=TruncatedNormal(0.1)))
      >>> bool((abs(f.init(jax.random.PRNGKey(0))["~"]["w"]) <= 0.2).all())
      True
    """

    def __init__(
        self,
        stddev: float | jax.Array = 1.0,
        mean: float | complex | jax.Array = 0.0,
        lower: float | jax.Array = -2.0,
        upper: float | jax.Array = 2.0,
    ) -> None:
        self.stddev, self.mean, self.lower, self.upper = stddev, mean, lower, upper
        self._init = mi.truncated_normal(stddev, mean, lower, upper)  # type: ignore[arg-type]


class VarianceScaling(_Random):
    """dm-haiku's ``VarianceScaling`` (fans from the last two axes, or ``fan_in_axes``).

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.transform(lambda: hk.get_parameter("w", (4, 2), init=VarianceScaling()))
      >>> f.init(jax.random.PRNGKey(0))["~"]["w"].shape
      (4, 2)
    """

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        fan_in_axes: Sequence[int] | None = None,
    ) -> None:
        where = "hk.initializers.VarianceScaling"
        check_nonnegative(scale, "scale", where)  # dm-haiku: a ValueError below 0
        check_one_of(mode, "mode", where, options=("fan_in", "fan_out", "fan_avg"))
        check_one_of(
            distribution, "distribution", where, options=("truncated_normal", "normal", "uniform")
        )
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.fan_in_axes = fan_in_axes

    def __call__(self, shape: Sequence[int], dtype: Any) -> jax.Array:
        shape = tuple(shape)
        fan_in, fan_out = _fans(shape, self.fan_in_axes)
        fan = {"fan_in": fan_in, "fan_out": fan_out}.get(self.mode, (fan_in + fan_out) / 2.0)
        variance = self.scale / max(1.0, fan)
        if self.distribution == "truncated_normal":
            # dm-haiku divides by the constant rounded to the dtype: the same rounding.
            stddev = np.sqrt(variance) / np.asarray(0.87962566103423978, dtype=dtype)
            init: _Random = TruncatedNormal(stddev)
        elif self.distribution == "normal":
            init = RandomNormal(np.sqrt(variance))
        else:
            limit = np.sqrt(3.0 * variance)
            init = RandomUniform(-limit, limit)
        return init(shape, dtype)


def _fans(shape: tuple[int, ...], fan_in_axes: Sequence[int] | None) -> tuple[float, float]:
    """dm-haiku's fans; ``fan_in_axes`` counts only for ranks above 2."""
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    if fan_in_axes is not None:
        axes = {i % len(shape) for i in fan_in_axes}
        fan_in = math.prod(shape[i] for i in axes)
        return fan_in, math.prod(s for i, s in enumerate(shape) if i not in axes)
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class UniformScaling(_Random):
    """dm-haiku's ``UniformScaling``: uniform in ``±scale * sqrt(3 / input_size)``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.transform(lambda: hk.get_parameter("w", (3, 2), init=UniformScaling()))
      >>> bool((abs(f.init(jax.random.PRNGKey(0))["~"]["w"]) <= 1).all())
      True
    """

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def __call__(self, shape: Sequence[int], dtype: Any) -> jax.Array:
        input_size = math.prod(tuple(shape)[:-1])
        max_val = math.sqrt(3 / input_size) * self.scale
        return RandomUniform(-max_val, max_val)(shape, dtype)


class Orthogonal(_Random):
    """dm-haiku's ``Orthogonal``: an (semi-)orthogonal matrix along ``axis``, times ``scale``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.transform(lambda: hk.get_parameter("w", (3, 3), init=Orthogonal()))
      >>> w = f.init(jax.random.PRNGKey(0))["~"]["w"]
      >>> bool(jnp.allclose(w @ w.T, jnp.eye(3), atol=1e-5))
      True
    """

    def __init__(self, scale: float = 1.0, axis: int = -1) -> None:
        self.scale, self.axis = scale, axis

    def __call__(self, shape: Sequence[int], dtype: Any) -> jax.Array:
        shape = tuple(shape)
        if len(shape) < 2:
            raise InvalidArgumentError(
                f"hk.initializers.Orthogonal needs a shape of rank >= 2, got {shape}. "
                "Use it for matrices (or stacks of them)."
            )
        rows = shape[self.axis]
        cols = math.prod(shape) // rows
        # QR of a tall Gaussian matrix, signs fixed by R's diagonal; wide ones transposed.
        tall = (max(rows, cols), min(rows, cols))
        q, r = jnp.linalg.qr(jax.random.normal(next_rng_key(), tall, dtype))
        q = q * jnp.sign(jnp.diag(r))
        if rows < cols:
            q = q.T
        rest = tuple(s for i, s in enumerate(shape) if i != self.axis % len(shape))
        q = jnp.moveaxis(jnp.reshape(q, (rows, *rest)), 0, self.axis)
        return jax.lax.convert_element_type(self.scale, dtype) * q


class Identity:
    """dm-haiku's ``Identity``: ``gain`` times the identity on the last two axes (no key).

    Examples:
      >>> Identity(2.0)((2, 2), jnp.float32)
      Array([[2., 0.],
             [0., 2.]], dtype=float32)
    """

    def __init__(self, gain: float | np.ndarray | jax.Array = 1.0) -> None:
        self.gain = gain

    def __call__(self, shape: Sequence[int], dtype: Any) -> jax.Array:
        shape = tuple(shape)
        if len(shape) < 2:
            raise InvalidArgumentError(
                f"hk.initializers.Identity needs a shape of rank >= 2, got {shape}. Use "
                "it for square (or stacked) matrices, e.g. shape (n, n)."
            )
        eye = jnp.eye(shape[-2], shape[-1], dtype=dtype)
        return jnp.broadcast_to(eye, shape) * jnp.asarray(self.gain, dtype)
