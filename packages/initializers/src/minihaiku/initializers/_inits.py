"""The built-in initializers: factories returning ``(key, shape, dtype) -> Array``."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from minihaiku.core import Initializer, InitializerError, InvalidArgumentError, keyless
from minihaiku.core.checks import check_finite, check_nonnegative, check_one_of, check_positive
from minihaiku.initializers._checks import check_random_dtype

__all__ = [
    "constant",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "ones",
    "orthogonal",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "zeros",
]

Shape = Sequence[int]


_FILLS = {0: jnp.zeros, 1: jnp.ones}


@functools.lru_cache(maxsize=512)
def _filler(shape: tuple[int, ...], dtype: Any, value: int) -> Any:
    fill = _FILLS[value]
    return jax.jit(lambda: fill(shape, dtype))


def _filled(shape: Shape, dtype: Any, value: int) -> jax.Array:
    """``jnp.zeros(shape, dtype)`` (``value`` 0) or ``jnp.ones`` in one dispatch.

    Eagerly, ``jnp.zeros`` dispatches two programs (a broadcast and a
    conversion), about 28 us on a CPU; the same call jitted once per shape and
    dtype (cached) takes about 3 us. Both compile once per shape; the arrays
    are the same.
    """
    try:
        fill = _filler(tuple(shape), dtype, value)
    except TypeError:  # an unhashable shape or dtype: JAX reports it if it is bad
        return _FILLS[value](shape, dtype)
    return fill()  # type: ignore[no-any-return]


def constant(value: Any = 0.0) -> Initializer:
    """Fills with ``value`` (a scalar, or an array broadcastable to the shape).

    Examples:
      >>> constant(3.0)(jax.random.key(0), (2,), jnp.float32)
      Array([3., 3.], dtype=float32)
    """
    v = jnp.asarray(value)

    @keyless
    def init(key: Any, shape: Shape, dtype: Any = jnp.float32) -> jax.Array:
        try:
            return jnp.broadcast_to(v, tuple(shape)).astype(dtype)
        except ValueError:
            raise InitializerError(
                f"constant: value of shape {v.shape} cannot fill shape "
                f"{tuple(shape)}; pass a scalar or a value that broadcasts."
            ) from None

    return init


def zeros() -> Initializer:
    """Fills with zeros.

    Examples:
      >>> zeros()(None, (2,), jnp.float32)
      Array([0., 0.], dtype=float32)
    """

    @keyless
    def init(key: Any, shape: Shape, dtype: Any = jnp.float32) -> jax.Array:
        return _filled(shape, dtype, 0)

    return init


def ones() -> Initializer:
    """Fills with ones.

    Examples:
      >>> ones()(None, (2,), jnp.float32)
      Array([1., 1.], dtype=float32)
    """

    @keyless
    def init(key: Any, shape: Shape, dtype: Any = jnp.float32) -> jax.Array:
        return _filled(shape, dtype, 1)

    return init


@functools.partial(jax.jit, static_argnums=(1, 2))
def _standard_normal(key: Any, shape: tuple[int, ...], dtype: Any) -> jax.Array:
    """``jax.random.normal`` with the key's wrapping inside one dispatch.

    Called eagerly, ``jax.random.normal`` on raw key data (a path key made on
    the host is a numpy array) first dispatches the wrapping of the key, then
    the draw; here both are one program. The draw's bits are the same.
    """
    return jax.random.normal(key, shape, dtype)


def normal(stddev: float = 1.0, mean: float = 0.0) -> Initializer:
    """Draws from N(mean, stddev**2). The default, stddev 1, is the seed's choice.

    Examples:
      >>> normal(0.1)(jax.random.key(0), (3,), jnp.float32).shape
      (3,)
    """
    s = check_nonnegative(stddev, "stddev", "normal")
    m = check_finite(mean, "mean", "normal")

    def init(key: Any, shape: Shape, dtype: Any = jnp.float32) -> jax.Array:
        check_random_dtype(dtype, "dtype", "normal")
        x: jax.Array = _standard_normal(key, tuple(shape), dtype)
        if s == 1.0 and m == 0.0:
            return x
        if s != 1.0:
            x = s * x
        if m != 0.0:
            x = x + m
        return x.astype(dtype)

    return init


def _check_mean(mean: Any, where: str) -> float | complex:
    """``mean`` as a finite float, or a complex number whose parts are finite."""
    if isinstance(mean, complex) or (
        hasattr(mean, "dtype") and jnp.issubdtype(jnp.asarray(mean).dtype, jnp.complexfloating)
    ):
        c = complex(mean)
        check_finite(c.real, "mean (real part)", where)
        check_finite(c.imag, "mean (imaginary part)", where)
        return c
    return check_finite(mean, "mean", where)


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _scaled_truncated_normal(
    key: Any, lower: float, upper: float, shape: Shape, stddev: np.float32
) -> jax.Array:
    """``0.0 + stddev * z`` (float32) in one dispatch: the draw, product and sum eager code makes.

    ``stddev`` is an argument, not a constant, so XLA cannot fold it into the
    draw's own constant factors (a different rounding); a nonzero mean is
    added outside (XLA may contract a product and a sum in one program into a
    fused multiply-add, rounded once).
    """
    z = jax.random.truncated_normal(key, lower, upper, shape, jnp.float32)
    return 0.0 + stddev * z


#: The standard deviation of a standard normal truncated to (-2, 2) (jax.nn's constant).
_TRUNCATED_STD = 0.87962566103423978


@functools.partial(jax.jit, static_argnums=1)
def _truncated_normal_times(key: Any, shape: tuple[int, ...], stddev: np.float32) -> jax.Array:
    """``z * stddev`` (float32, z truncated to (-2, 2)): jax.nn's variance scaling in one dispatch.

    Eagerly, ``jax.nn.initializers.variance_scaling`` dispatches about six
    programs (the variance, its square root, the division, the draw, the
    product). ``stddev`` is computed on the host in float32, as those programs
    compute it, and passed as an argument, so XLA cannot fold it into the
    draw's constants: the bits are the same.
    """
    return jax.random.truncated_normal(key, -2, 2, shape, jnp.float32) * stddev


def truncated_normal(
    stddev: float = 1.0, mean: float | complex = 0.0, lower: float = -2.0, upper: float = 2.0
) -> Initializer:
    """Draws ``mean + stddev * z`` with z standard normal truncated to [lower, upper].

    For a complex dtype the real and imaginary parts of ``z`` are drawn
    independently (from one key, as dm-haiku does, giving the same values), and
    ``mean`` may be complex.

    Examples:
      >>> x = truncated_normal(1.0)(jax.random.key(0), (1000,), jnp.float32)
      >>> bool(abs(x).max() <= 2.0)
      True
      >>> z = truncated_normal(1.0, mean=1j)(jax.random.key(0), (1000,), jnp.complex64)
      >>> z.dtype, bool(abs(z.real).max() <= 2.0), bool(abs(z.imag - 1).max() <= 2.0)
      (dtype('complex64'), True, True)
    """
    s = check_nonnegative(stddev, "stddev", "truncated_normal")
    m = _check_mean(mean, "truncated_normal")
    if not float(lower) < float(upper):
        raise InvalidArgumentError(
            f"truncated_normal: lower must be < upper, got lower={lower!r}, upper={upper!r}."
        )
    lo, hi = lower, upper

    def init(key: Any, shape: Shape, dtype: Any = jnp.float32) -> jax.Array:
        check_random_dtype(dtype, "dtype", "truncated_normal")
        # jax.random directly: jax.nn.initializers.truncated_normal(1.0) adds a
        # multiplication by exactly 1.0 (two more dispatches, the same bits).
        if jnp.issubdtype(dtype, jnp.complexfloating):
            real = np.finfo(np.dtype(dtype)).dtype
            z = jax.random.truncated_normal(key, lo, hi, (2, *shape), real)
            return (m + s * jax.lax.complex(z[0], z[1])).astype(dtype)
        if isinstance(m, complex):
            raise InitializerError(
                f"truncated_normal: mean {m!r} is complex but the parameter's dtype "
                f"{jnp.dtype(dtype)} is real; pass a real mean, or create the "
                "parameter with a complex dtype."
            )
        if dtype == jnp.float32 and all(isinstance(v, float | int) for v in (s, m, lo, hi)):
            value: jax.Array = _scaled_truncated_normal(key, lo, hi, tuple(shape), np.float32(s))
            value = value if m == 0 else m + value
        else:
            value = m + s * jax.random.truncated_normal(key, lo, hi, shape, dtype)
        return value if value.dtype == dtype else value.astype(dtype)

    return init


def uniform(minval: float = 0.0, maxval: float = 1.0) -> Initializer:
    """Draws uniformly from [minval, maxval).

    Examples:
      >>> x = uniform(-1.0, 1.0)(jax.random.key(0), (100,), jnp.float32)
      >>> bool((x >= -1).all() and (x < 1).all())
      True
    """
    lo = check_finite(minval, "minval", "uniform")
    hi = check_finite(maxval, "maxval", "uniform")
    if not lo < hi:
        raise InvalidArgumentError(
            f"uniform: minval must be < maxval, got minval={minval!r}, maxval={maxval!r}."
        )

    def init(key: Any, shape: Shape, dtype: Any = jnp.float32) -> jax.Array:
        check_random_dtype(dtype, "dtype", "uniform")
        return jax.random.uniform(key, shape, dtype, lo, hi)

    return init


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")


def _fans(shape: tuple[int, ...], in_axis: int, out_axis: int) -> tuple[int, int]:
    """dm-haiku's ``_compute_fans``, with JAX's choice of axes for rank >= 2.

    Rank 0: both fans 1; rank 1: both ``shape[0]``; rank 2 and more:
    ``shape[in_axis]`` and ``shape[out_axis]`` times the receptive field (the
    product of the other dimensions).
    """
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(
        d for i, d in enumerate(shape) if i not in (in_axis % len(shape), out_axis % len(shape))
    )
    return shape[in_axis] * receptive, shape[out_axis] * receptive


def variance_scaling(
    scale: float = 1.0,
    mode: str = "fan_in",
    distribution: str = "truncated_normal",
    in_axis: int = -2,
    out_axis: int = -1,
) -> Initializer:
    """Draws with variance ``scale / n``, n the fan given by ``mode``.

    ``distribution`` is ``"truncated_normal"`` (truncated at 2 stddev and
    rescaled to the exact variance), ``"normal"`` or ``"uniform"``. Fans, as in
    dm-haiku: a scalar has fan_in = fan_out = 1, a vector ``(n,)`` has
    fan_in = fan_out = n, and a shape ``(..., in, out)`` has fan_in = in *
    receptive field and fan_out = out * receptive field (the receptive field
    is the product of the other dimensions); ``fan_avg`` is their mean.

    Raises:
      InitializerError: (when called) the fan that ``mode`` uses is 0, as for
        the shape ``(0, 3)``.

    Examples:
      >>> w = variance_scaling(2.0, "fan_in", "normal")(jax.random.key(0), (256, 256), jnp.float32)
      >>> round(float(w.var() * 256), 1)
      2.0
      >>> b = variance_scaling(1.0, "fan_in", "uniform")(jax.random.key(0), (10000,), jnp.float32)
      >>> round(float(b.var() * 10000), 1)
      1.0
    """
    check_positive(scale, "scale", "variance_scaling")
    check_one_of(mode, "mode", "variance_scaling", options=_MODES)
    check_one_of(distribution, "distribution", "variance_scaling", options=_DISTRIBUTIONS)
    inner = jax.nn.initializers.variance_scaling(
        scale,
        mode,  # type: ignore[arg-type]  # checked above
        distribution,  # type: ignore[arg-type]  # checked above
        in_axis=in_axis,
        out_axis=out_axis,
    )

    def init(key: Any, shape: Shape, dtype: Any = jnp.float32) -> jax.Array:
        shape = tuple(shape)
        check_random_dtype(dtype, "dtype", "variance_scaling")
        fan_in, fan_out = _fans(shape, in_axis, out_axis)
        zero = {
            "fan_in": ["fan_in"] if fan_in == 0 else [],
            "fan_out": ["fan_out"] if fan_out == 0 else [],
            "fan_avg": ["fan_in", "fan_out"] if fan_in == fan_out == 0 else [],
        }[mode]
        if zero:
            which = " and ".join(zero)
            raise InitializerError(
                f"variance_scaling ({mode}) cannot serve shape {shape}: its "
                f"{which} {'is' if len(zero) == 1 else 'are'} 0. Give the parameter "
                "non-empty dimensions, or use 'zeros' for empty parameters."
            )
        if 0 in shape:  # an empty array (JAX would divide by the empty dimension)
            return jnp.zeros(shape, dtype)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        if len(shape) >= 2:
            if distribution == "truncated_normal" and jnp.dtype(dtype) == jnp.float32:
                # jax.nn's arithmetic, on the host in float32 (IEEE, the same bits)
                stddev = np.sqrt(np.float32(scale / fan)) / np.float32(_TRUNCATED_STD)
                return _truncated_normal_times(key, shape, stddev)  # type: ignore[no-any-return]
            return inner(key, shape, dtype)
        # JAX refuses vectors and scalars; dm-haiku serves them with the fans
        # above. Draw them as a (1, n) matrix, whose fan_in is 1, at variance
        # scale / fan.
        flat = jax.nn.initializers.variance_scaling(
            scale / fan,
            "fan_in",
            distribution,  # type: ignore[arg-type]  # checked above
        )
        return flat(key, (1, math.prod(shape)), dtype).reshape(shape)

    return init


def glorot_uniform(scale: float = 1.0) -> Initializer:
    """Glorot (Xavier) uniform: ``variance_scaling(scale, "fan_avg", "uniform")``."""
    return variance_scaling(scale, "fan_avg", "uniform")


def glorot_normal(scale: float = 1.0) -> Initializer:
    """Glorot (Xavier) normal: ``variance_scaling(scale, "fan_avg", "truncated_normal")``."""
    return variance_scaling(scale, "fan_avg", "truncated_normal")


def he_uniform(scale: float = 2.0) -> Initializer:
    """He (Kaiming) uniform: ``variance_scaling(2, "fan_in", "uniform")``."""
    return variance_scaling(scale, "fan_in", "uniform")


def he_normal(scale: float = 2.0) -> Initializer:
    """He (Kaiming) normal: ``variance_scaling(2, "fan_in", "truncated_normal")``."""
    return variance_scaling(scale, "fan_in", "truncated_normal")


def lecun_uniform(scale: float = 1.0) -> Initializer:
    """LeCun uniform: ``variance_scaling(1, "fan_in", "uniform")``."""
    return variance_scaling(scale, "fan_in", "uniform")


def lecun_normal(scale: float = 1.0) -> Initializer:
    """LeCun normal: ``variance_scaling(1, "fan_in", "truncated_normal")``."""
    return variance_scaling(scale, "fan_in", "truncated_normal")


def orthogonal(scale: float = 1.0, column_axis: int = -1) -> Initializer:
    """A (semi-)orthogonal matrix times ``scale``, reshaped to the shape.

    The shape must have at least two dimensions; all but ``column_axis`` are
    flattened into rows.

    Examples:
      >>> w = orthogonal()(jax.random.key(0), (4, 4), jnp.float32)
      >>> bool(jnp.allclose(w.T @ w, jnp.eye(4), atol=1e-5))
      True
    """
    check_positive(scale, "scale", "orthogonal")
    inner = jax.nn.initializers.orthogonal(scale, column_axis)

    def init(key: Any, shape: Shape, dtype: Any = jnp.float32) -> jax.Array:
        shape = tuple(shape)
        check_random_dtype(dtype, "dtype", "orthogonal")
        if len(shape) < 2:
            raise InitializerError(
                f"orthogonal cannot serve shape {shape}: it needs at least two "
                "dimensions (rows and columns). Use 'normal' or "
                "'variance_scaling' for vectors and scalars."
            )
        if 0 in shape:
            raise InitializerError(
                f"orthogonal cannot serve shape {shape}: it has an empty dimension."
            )
        return inner(key, shape, dtype)

    return init
