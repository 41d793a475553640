"""``LayerNorm``, ``RMSNorm`` and ``GroupNorm``, as dm-haiku's."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from minihaiku.core import (
    InitLike,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    Module,
    get_param,
)
from minihaiku.core.checks import check_initializer, prefix
from minihaiku.initializers import ones, zeros
from minihaiku.layers._axes import NORM_AXIS, check_axis_name, one_axis
from minihaiku.layers._checks import (
    channel_index,
    check_init_needs_create,
    check_no_call_arg,
)

__all__ = ["AxisOrAxes", "GroupNorm", "LayerNorm", "RMSNorm"]

AxisOrAxes = int | Sequence[int] | slice
_AxesOrSlice = tuple[int, ...] | slice


def to_axes_or_slice(value: Any, name: str, where: str) -> _AxesOrSlice:
    """An int, a sequence of ints or a slice, as a tuple of ints or the slice.

    Examples:
      >>> to_axes_or_slice(-1, "axis", "LayerNorm"), to_axes_or_slice([1, 2], "axis", "LayerNorm")
      ((-1,), (1, 2))
    """
    axis = value
    if isinstance(axis, slice):
        return axis
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        return (operator.index(axis),)
    if (
        isinstance(axis, Sequence)
        and not isinstance(axis, str)
        and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis)
    ):
        return tuple(operator.index(a) for a in axis)
    raise InvalidArgumentTypeError(
        f"{prefix(where)}{name} must be an int, a slice or a sequence of ints, got "
        f"{type(axis).__name__} {axis!r:.60}. Pass e.g. {name}=-1 or {name}=(1, 2)."
    )


def to_abs_axes(value: _AxesOrSlice, name: str, where: str, *, ndim: int) -> tuple[int, ...]:
    """Sorted, distinct, non-negative axes of an input of rank ``ndim``.

    Examples:
      >>> to_abs_axes((-1, 1), "axis", "LayerNorm", ndim=3)
      (1, 2)
      >>> to_abs_axes(slice(1, None), "axis", "", ndim=3)
      (1, 2)
    """
    axis = value
    if isinstance(axis, slice):
        return tuple(range(ndim)[axis])
    bad = [a for a in axis if not -ndim <= a < ndim]
    if bad:
        raise InvalidArgumentError(
            f"{prefix(where)}{name}={axis} is out of range for an input of rank {ndim} "
            f"(axes {bad}; valid axes are {-ndim}..{ndim - 1}). Pass axes that "
            "the input has, or give the input the expected rank."
        )
    return tuple(sorted({a % ndim for a in axis}))


def _param_shape(param_axis: _AxesOrSlice, shape: tuple[int, ...], where: str) -> tuple[int, ...]:
    ndim = len(shape)
    axes = to_abs_axes(param_axis, "param_axis", where, ndim=ndim)
    if axes == (ndim - 1,):  # dm-haiku keeps the unbroadcast shape for param_axis=-1
        return (shape[-1],)
    return tuple(shape[i] if i in axes else 1 for i in range(ndim))


def _as_input(inputs: Any, where: str) -> jax.Array:
    x = jnp.asarray(inputs)
    if x.ndim == 0:
        raise InvalidArgumentError(
            f"{where} needs an input with at least one axis, got a scalar. Add an "
            "axis, e.g. x[None]."
        )
    return x


class LayerNorm(Module):
    """Layer normalization (https://arxiv.org/abs/1607.06450), as ``hk.LayerNorm``.

    Normalizes ``inputs`` to zero mean and unit variance over ``axis``, then
    multiplies by ``scale`` and adds ``offset``. Parameters ``scale`` and
    ``offset`` have the size of the ``param_axis`` axes (shape ``(C,)`` for
    the default ``param_axis=-1``) and the input's dtype.

    Args:
      axis: the axes to normalize over: an int, a sequence of ints or a slice.
      create_scale: create a trainable ``scale`` parameter.
      create_offset: create a trainable ``offset`` parameter.
      eps: added to the variance before the square root. Default ``1e-5``.
      scale_init: initializer of ``scale`` (a ``(key, shape, dtype)``
        callable or a registered name); default ones. Only with ``create_scale``.
      offset_init: initializer of ``offset``; default zeros. Only with
        ``create_offset``.
      use_fast_variance: compute the variance as ``E[x^2] - E[x]^2`` (faster,
        less stable).
      name: the module's name; default ``LayerNorm_N``.
      param_axis: the axes the parameters span; default ``-1`` (the channels).
      axes: the logical axis name of the parameters' last axis for sharding
        (other axes get None). Default ``"embed"``; ``None``: unannotated.
        Keyword-only (not in dm-haiku).

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import LayerNorm
      >>> f = transform(lambda x: LayerNorm(-1, True, True)(x))
      >>> x = jnp.array([[1.0, 2.0, 3.0]])
      >>> params = f.init(0, x)
      >>> sorted((k, v.shape) for k, v in params.items())
      [('~/LayerNorm_0/__call__/offset', (3,)), ('~/LayerNorm_0/__call__/scale', (3,))]
      >>> np.round(np.asarray(f.apply(params, x)), 3)
      array([[-1.225,  0.   ,  1.225]], dtype=float32)
    """

    def __init__(
        self,
        axis: AxisOrAxes,
        create_scale: bool,
        create_offset: bool,
        eps: float = 1e-5,
        scale_init: InitLike = None,
        offset_init: InitLike = None,
        use_fast_variance: bool = False,
        name: str | None = None,
        *,
        param_axis: AxisOrAxes | None = None,
        axes: str | None = NORM_AXIS,
    ) -> None:
        super().__init__(name=name)
        self.axes = check_axis_name(axes, "axes", self.module_label)
        where = self.module_label
        check_init_needs_create(scale_init, "scale_init", where, create=create_scale)
        check_init_needs_create(offset_init, "offset_init", where, create=create_offset)
        self.axis = to_axes_or_slice(axis, "axis", where)
        self.eps = eps
        self.create_scale = bool(create_scale)
        self.create_offset = bool(create_offset)
        self.scale_init = check_initializer(scale_init, "scale_init", where, default=ones())
        self.offset_init = check_initializer(offset_init, "offset_init", where, default=zeros())
        self.use_fast_variance = bool(use_fast_variance)
        self.param_axis = (
            (-1,) if param_axis is None else to_axes_or_slice(param_axis, "param_axis", where)
        )

    def __call__(
        self,
        inputs: jax.Array,
        scale: jax.Array | None = None,
        offset: jax.Array | None = None,
    ) -> jax.Array:
        """Normalizes ``inputs``; ``scale``/``offset`` may be given when not created."""
        where = self.module_label
        check_no_call_arg(scale, "scale", where, create=self.create_scale)
        check_no_call_arg(offset, "offset", where, create=self.create_offset)
        inputs = _as_input(inputs, where)
        axis = to_abs_axes(self.axis, "axis", where, ndim=inputs.ndim)
        mean = jnp.mean(inputs, axis=axis, keepdims=True)
        if self.use_fast_variance:
            variance = jnp.mean(jnp.square(inputs), axis=axis, keepdims=True) - jnp.square(mean)
        else:
            variance = jnp.var(inputs, axis=axis, keepdims=True)
        param_shape = _param_shape(self.param_axis, inputs.shape, where)
        s: Any = scale
        o: Any = offset
        if self.create_scale:
            p_axes = one_axis(len(param_shape), -1, self.axes) if param_shape else None
            s = get_param("scale", param_shape, inputs.dtype, self.scale_init, axes=p_axes)
        elif s is None:
            s = np.array(1.0, dtype=inputs.dtype)
        if self.create_offset:
            p_axes = one_axis(len(param_shape), -1, self.axes) if param_shape else None
            o = get_param("offset", param_shape, inputs.dtype, self.offset_init, axes=p_axes)
        elif o is None:
            o = np.array(0.0, dtype=inputs.dtype)
        if getattr(jax.config, "jax_numpy_rank_promotion", "allow") != "allow":
            s = jnp.broadcast_to(s, inputs.shape)
            o = jnp.broadcast_to(o, inputs.shape)
            mean = jnp.broadcast_to(mean, inputs.shape)
        eps = jax.lax.convert_element_type(self.eps, variance.dtype)
        inv = s * jax.lax.rsqrt(variance + eps)
        return inv * (inputs - mean) + o  # type: ignore[no-any-return]


class RMSNorm(Module):
    """Root-mean-square normalization (https://arxiv.org/abs/1910.07467), as ``hk.RMSNorm``.

    ``inputs * scale / sqrt(mean(inputs**2, axis) + eps)``: no centring.

    Args:
      axis: the axes to normalize over: an int, a sequence of ints or a slice.
      eps: added to the mean square. Default ``1e-5``.
      scale_init: initializer of ``scale``; default ones. Only with
        ``create_scale``.
      name: the module's name; default ``RMSNorm_N``.
      create_scale: create a trainable ``scale`` parameter.
      param_axis: the axes ``scale`` spans; default ``-1``.
      axes: the logical axis name of the parameters' last axis for sharding
        (other axes get None). Default ``"embed"``; ``None``: unannotated.
        Keyword-only (not in dm-haiku).

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import RMSNorm
      >>> f = transform(lambda x: RMSNorm(-1)(x))
      >>> x = jnp.array([[3.0, 4.0]])
      >>> params = f.init(0, x)
      >>> list(params)
      ['~/RMSNorm_0/__call__/scale']
      >>> np.round(np.asarray(f.apply(params, x)), 3)
      array([[0.849, 1.131]], dtype=float32)
    """

    def __init__(
        self,
        axis: AxisOrAxes,
        eps: float = 1e-5,
        scale_init: InitLike = None,
        name: str | None = None,
        create_scale: bool = True,
        *,
        param_axis: AxisOrAxes | None = None,
        axes: str | None = NORM_AXIS,
    ) -> None:
        super().__init__(name=name)
        self.axes = check_axis_name(axes, "axes", self.module_label)
        where = self.module_label
        check_init_needs_create(scale_init, "scale_init", where, create=create_scale)
        self.axis = to_axes_or_slice(axis, "axis", where)
        self.eps = eps
        self.create_scale = bool(create_scale)
        self.scale_init = check_initializer(scale_init, "scale_init", where, default=ones())
        self.param_axis = (
            (-1,) if param_axis is None else to_axes_or_slice(param_axis, "param_axis", where)
        )

    def __call__(self, inputs: jax.Array) -> jax.Array:
        """Normalizes ``inputs`` by their root mean square over ``axis``."""
        where = self.module_label
        inputs = _as_input(inputs, where)
        axis = to_abs_axes(self.axis, "axis", where, ndim=inputs.ndim)
        param_shape = _param_shape(self.param_axis, inputs.shape, where)
        scale: Any = 1.0
        if self.create_scale:
            p_axes = one_axis(len(param_shape), -1, self.axes) if param_shape else None
            scale = get_param("scale", param_shape, inputs.dtype, self.scale_init, axes=p_axes)
            scale = jnp.broadcast_to(scale, inputs.shape)
        mean_squared = jnp.mean(jnp.square(inputs), axis=axis, keepdims=True)
        mean_squared = jnp.broadcast_to(mean_squared, inputs.shape)
        return inputs * scale * jax.lax.rsqrt(mean_squared + self.eps)  # type: ignore[no-any-return]


class GroupNorm(Module):
    """Group normalization (https://arxiv.org/abs/1803.08494), as ``hk.GroupNorm``.

    Splits the channels into ``groups`` groups and normalizes each group over
    ``axis`` (by default all axes but the batch axis) and its channels, never
    across groups. ``scale`` and ``offset`` have one value per channel.

    Args:
      groups: the number of groups; the channels must be divisible by it.
      axis: the axes to normalize over (an int, a sequence of ints or a
        slice); default ``slice(1, None)``. Use ``slice(2, None)`` for time
        series to keep batch and time apart.
      create_scale: create a trainable ``scale`` parameter.
      create_offset: create a trainable ``offset`` parameter.
      eps: added to the variance. Default ``1e-5``.
      scale_init: initializer of ``scale``; default ones.
      offset_init: initializer of ``offset``; default zeros.
      data_format: ``"channels_last"`` (default), ``"channels_first"``, or a
        format such as ``"NHWC"``/``"NCHW"``.
      name: the module's name; default ``GroupNorm_N``.
      axes: the logical axis name of the parameters' channel axis for
        sharding (other axes get None). Default ``"conv_out"``; ``None``:
        unannotated. Keyword-only (not in dm-haiku).

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import GroupNorm
      >>> f = transform(lambda x: GroupNorm(2)(x))
      >>> x = jnp.arange(8.0).reshape(1, 2, 4)
      >>> params = f.init(0, x)
      >>> {k: v.shape for k, v in params.items()}
      {'~/GroupNorm_0/__call__/scale': (4,), '~/GroupNorm_0/__call__/offset': (4,)}
      >>> np.round(np.asarray(f.apply(params, x)), 2)
      array([[[-1.21, -0.73, -1.21, -0.73],
              [ 0.73,  1.21,  0.73,  1.21]]], dtype=float32)
    """

    def __init__(
        self,
        groups: int,
        axis: int | slice | Sequence[int] = slice(1, None),
        create_scale: bool = True,
        create_offset: bool = True,
        eps: float = 1e-5,
        scale_init: InitLike = None,
        offset_init: InitLike = None,
        data_format: str = "channels_last",
        name: str | None = None,
        *,
        axes: str | None = "conv_out",
    ) -> None:
        super().__init__(name=name)
        where = self.module_label
        self.axes = check_axis_name(axes, "axes", where)
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups <= 0:
            raise InvalidArgumentError(
                f"{where}: groups must be a positive int, got {groups!r:.60}. "
                "Pass the number of channel groups, e.g. groups=32."
            )
        check_init_needs_create(scale_init, "scale_init", where, create=create_scale)
        check_init_needs_create(offset_init, "offset_init", where, create=create_offset)
        self.groups = int(groups)
        self.axis = to_axes_or_slice(axis, "axis", where)
        self.eps = eps
        self.data_format = data_format
        self.channel_index = channel_index(data_format, "data_format", where)
        self.create_scale = bool(create_scale)
        self.create_offset = bool(create_offset)
        self.scale_init = check_initializer(scale_init, "scale_init", where, default=ones())
        self.offset_init = check_initializer(offset_init, "offset_init", where, default=zeros())
        self.rank: int | None = None

    def __call__(
        self,
        x: jax.Array,
        scale: jax.Array | None = None,
        offset: jax.Array | None = None,
    ) -> jax.Array:
        """Normalizes ``x``; ``scale``/``offset`` may be given when not created."""
        where = self.module_label
        x = jnp.asarray(x)
        if self.rank is not None and x.ndim != self.rank:
            raise InvalidArgumentError(
                f"{where}: the rank of the inputs cannot change between calls: the "
                f"first call had rank {self.rank}, this one has rank {x.ndim}. Use "
                "one GroupNorm per input rank."
            )
        if x.ndim < 2:
            raise InvalidArgumentError(
                f"{where} needs an input of rank >= 2 (batch and channels), got shape {x.shape}."
            )
        check_no_call_arg(scale, "scale", where, create=self.create_scale)
        check_no_call_arg(offset, "offset", where, create=self.create_offset)
        channels = x.shape[self.channel_index]
        if channels % self.groups != 0:
            raise InvalidArgumentError(
                f"{where}: the number of channels must be divisible by the number "
                f"of groups, got channels={channels} (input shape {x.shape}), "
                f"groups={self.groups}. Pick a groups that divides {channels}."
            )
        rank = self.rank = x.ndim
        axes = to_abs_axes(self.axis, "axis", where, ndim=rank)
        g = self.groups
        if self.channel_index == -1:
            axes = tuple(a if a != rank - 1 else a + 1 for a in axes)
            group_shape = (-1, *x.shape[1:-1], g, channels // g)
            params_shape: tuple[int, ...] = (channels,)
        else:
            axes = tuple(a if a == 0 else a + 1 for a in axes)
            group_shape = (-1, g, channels // g, *x.shape[2:])
            params_shape = (channels,) + (1,) * (rank - 2)
        dtype = x.dtype
        p_axes = one_axis(len(params_shape), 0, self.axes)
        if self.create_scale:
            scale = get_param("scale", params_shape, dtype, self.scale_init, axes=p_axes)
        if self.create_offset:
            offset = get_param("offset", params_shape, dtype, self.offset_init, axes=p_axes)
        first_shape = (-1, *x.shape[1:])
        x = x.reshape(group_shape)
        mean = jnp.mean(x, axes, keepdims=True)
        var = jnp.var(x, axes, keepdims=True)
        x = (x - mean) * jax.lax.rsqrt(var + self.eps)
        x = x.reshape(first_shape)
        if scale is not None:
            x = x * jax.lax.broadcast_to_rank(jnp.asarray(scale), x.ndim)
        if offset is not None:
            x = x + jax.lax.broadcast_to_rank(jnp.asarray(offset), x.ndim)
        return x
