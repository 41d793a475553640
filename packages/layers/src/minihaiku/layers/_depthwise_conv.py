"""Depthwise convolutions: ``DepthwiseConv1D``/``2D``/``3D``, as dm-haiku's.

Each input channel is convolved with its own ``channel_multiplier`` filters
(``feature_group_count`` = input channels): ``w`` has shape
``kernel_shape + (1, channel_multiplier * in_channels)``, dm-haiku's layout,
and ``b`` ``(channel_multiplier * in_channels,)`` (channels last) or
``(channel_multiplier * in_channels, 1, ..., 1)`` (channels first).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

from minihaiku.core import InitLike, InvalidArgumentError, Module, get_param
from minihaiku.core.checks import check_initializer, check_positive_int
from minihaiku.initializers import truncated_normal, zeros
from minihaiku.layers._axes import check_axis_name, one_axis
from minihaiku.layers._checks import channel_index, check_size, positive_ints
from minihaiku.layers._conv_common import Padding, resolve_padding, to_dimension_numbers

__all__ = ["DepthwiseConv1D", "DepthwiseConv2D", "DepthwiseConv3D", "DepthwiseConvND"]


class DepthwiseConvND(Module):
    """An N-dimensional depthwise convolution (dm-haiku's private ``DepthwiseConvND``).

    Args:
      channel_multiplier: the number of filters per input channel; the output
        has ``channel_multiplier * in_channels`` channels.
      kernel_shape: an int, or a sequence of 1 or ``num_spatial_dims`` ints.
      num_spatial_dims: the number of spatial dimensions.
      data_format: a channels-last (``"NHWC"``, ``"channels_last"``) or a
        channels-first (``"NCHW"``, ``"channels_first"``) format.
      stride: the stride: an int or a sequence as ``kernel_shape``.
      rate: the kernel dilation rate.
      padding: ``"SAME"``/``"VALID"``, ``(low, high)`` pairs, or a padding
        function of :mod:`minihaiku.layers.pad` (dm-haiku takes the first two).
      with_bias: add the bias ``b``.
      w_init: initializer of ``w``; default truncated normal with stddev
        ``1 / sqrt(prod(kernel_shape))``, as dm-haiku.
      b_init: initializer of ``b``; default zeros.
      name: the module's name.
      axes: the logical axis name of the output-channel axis of ``w`` and
        ``b`` (sharding); default ``"conv_out"``, ``None``: unannotated.
        Keyword-only (not in dm-haiku).

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers._depthwise_conv import DepthwiseConvND
      >>> f = transform(lambda x: DepthwiseConvND(2, 3, 1, "NWC")(x))
      >>> f.apply(f.init(0, jnp.ones((1, 5, 3))), jnp.ones((1, 5, 3))).shape
      (1, 5, 6)
    """

    def __init__(
        self,
        channel_multiplier: int,
        kernel_shape: int | Sequence[int],
        num_spatial_dims: int,
        data_format: str,
        stride: int | Sequence[int] = 1,
        rate: int | Sequence[int] = 1,
        padding: Padding = "SAME",
        with_bias: bool = True,
        w_init: InitLike = None,
        b_init: InitLike = None,
        name: str | None = None,
        *,
        axes: str | None = "conv_out",
    ) -> None:
        super().__init__(name=name)
        where = self.module_label
        self.axes = check_axis_name(axes, "axes", where)
        n = self.num_spatial_dims = check_positive_int(num_spatial_dims, "num_spatial_dims", where)
        self.channel_multiplier = check_size(channel_multiplier, "channel_multiplier", where)
        self.kernel_shape = positive_ints(kernel_shape, "kernel_shape", where, n=n)
        self.stride = positive_ints(stride, "stride", where, n=n)
        self.rate = positive_ints(rate, "rate", where, n=n)
        self.padding = resolve_padding(padding, self.kernel_shape, self.rate, where)
        self.with_bias = bool(with_bias)
        self.w_init = (
            None if w_init is None else check_initializer(w_init, "w_init", where, default=None)
        )
        self.b_init = check_initializer(b_init, "b_init", where, default=zeros())
        self.data_format = data_format
        self.channel_index = channel_index(data_format, "data_format", where)
        self.dimension_numbers = to_dimension_numbers(
            n, channels_last=self.channel_index == -1, transpose=False
        )

    @staticmethod
    def _add_bias(out: jax.Array, b: jax.Array) -> jax.Array:
        """``out + b`` (minihaiku.haiku broadcasts ``b`` first, as dm-haiku)."""
        return out + b

    def __call__(self, inputs: jax.Array) -> jax.Array:
        """Convolves ``inputs`` (``[N, *spatial, C]``, or unbatched ``[*spatial, C]``)."""
        x = jnp.asarray(inputs)
        rank = self.num_spatial_dims + 1
        if x.ndim not in (rank, rank + 1):
            raise InvalidArgumentError(
                f"{self.module_label} needs an input of rank {rank} (unbatched, spatial "
                f"dimensions and channels) or {rank + 1} (batched), got shape {x.shape}. "
                f"Use data_format={self.data_format!r}, or the layer for your number of "
                "spatial dimensions."
            )
        unbatched = x.ndim == rank
        if unbatched:
            x = x[None]
        channels = x.shape[self.channel_index]
        out_channels = self.channel_multiplier * channels
        n = self.num_spatial_dims
        w_shape = (*self.kernel_shape, 1, out_channels)
        w_init = self.w_init or truncated_normal(stddev=1.0 / math.sqrt(math.prod(w_shape[:-1])))
        w = get_param("w", w_shape, x.dtype, w_init, axes=one_axis(n + 2, -1, self.axes))
        out = lax.conv_general_dilated(
            x,
            w,
            window_strides=self.stride,
            padding=self.padding,
            rhs_dilation=self.rate,
            dimension_numbers=self.dimension_numbers,
            feature_group_count=channels,
        )
        if self.with_bias:
            b_shape = (out_channels,) + ((1,) * n if self.channel_index == 1 else ())
            b_axes = one_axis(len(b_shape), 0, self.axes)
            b = get_param("b", b_shape, x.dtype, self.b_init, axes=b_axes)
            out = self._add_bias(out, b)
        return out[0] if unbatched else out


class DepthwiseConv1D(DepthwiseConvND):
    """A 1-D depthwise convolution, as dm-haiku's ``hk.DepthwiseConv1D``.

    Args:
      channel_multiplier: filters per input channel (output channels:
        ``channel_multiplier * in_channels``).
      kernel_shape: an int or a sequence of 1 or 1 ints.
      stride: the stride (an int or a sequence as ``kernel_shape``).
      rate: the kernel dilation rate.
      padding: ``"SAME"``/``"VALID"``, ``(low, high)`` pairs or padding functions.
      with_bias: add the bias ``b``.
      w_init: initializer of ``w`` (shape ``kernel_shape + (1, out_channels)``);
        default truncated normal, stddev ``1 / sqrt(prod(kernel_shape))``.
      b_init: initializer of ``b`` (default zeros).
      data_format: ``"NWC"`` (default) or ``"NCW"``.
      name: the module's name; default ``DepthwiseConv1D_N``.
      axes: the logical axis name of the output channels of ``w`` and ``b``
        (default ``"conv_out"``; ``None``: unannotated). Keyword-only (not in
        dm-haiku).

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import DepthwiseConv1D
      >>> f = transform(lambda x: DepthwiseConv1D(2, 3)(x))
      >>> params = f.init(0, jnp.ones((1, 7, 3)))
      >>> params["~/DepthwiseConv1D_0/__call__/w"].shape
      (3, 1, 6)
      >>> f.apply(params, jnp.ones((1, 7, 3))).shape
      (1, 7, 6)
    """

    def __init__(
        self,
        channel_multiplier: int,
        kernel_shape: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        rate: int | Sequence[int] = 1,
        padding: Padding = "SAME",
        with_bias: bool = True,
        w_init: InitLike = None,
        b_init: InitLike = None,
        data_format: str = "NWC",
        name: str | None = None,
        *,
        axes: str | None = "conv_out",
    ) -> None:
        super().__init__(
            channel_multiplier, kernel_shape, 1, data_format, stride, rate, padding,
            with_bias, w_init, b_init, name, axes=axes,
        )  # fmt: skip


class DepthwiseConv2D(DepthwiseConvND):
    """A 2-D depthwise convolution, as dm-haiku's ``hk.DepthwiseConv2D``.

    Args:
      channel_multiplier: filters per input channel (output channels:
        ``channel_multiplier * in_channels``).
      kernel_shape: an int or a sequence of 1 or 2 ints.
      stride: the stride (an int or a sequence as ``kernel_shape``).
      rate: the kernel dilation rate.
      padding: ``"SAME"``/``"VALID"``, ``(low, high)`` pairs or padding functions.
      with_bias: add the bias ``b``.
      w_init: initializer of ``w`` (shape ``kernel_shape + (1, out_channels)``);
        default truncated normal, stddev ``1 / sqrt(prod(kernel_shape))``.
      b_init: initializer of ``b`` (default zeros).
      data_format: ``"NHWC"`` (default) or ``"NCHW"``.
      name: the module's name; default ``DepthwiseConv2D_N``.
      axes: the logical axis name of the output channels of ``w`` and ``b``
        (default ``"conv_out"``; ``None``: unannotated). Keyword-only (not in
        dm-haiku).

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import DepthwiseConv2D
      >>> f = transform(lambda x: DepthwiseConv2D(1, 3, stride=2)(x))
      >>> params = f.init(0, jnp.ones((1, 8, 8, 4)))
      >>> params["~/DepthwiseConv2D_0/__call__/w"].shape
      (3, 3, 1, 4)
      >>> f.apply(params, jnp.ones((1, 8, 8, 4))).shape
      (1, 4, 4, 4)
    """

    def __init__(
        self,
        channel_multiplier: int,
        kernel_shape: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        rate: int | Sequence[int] = 1,
        padding: Padding = "SAME",
        with_bias: bool = True,
        w_init: InitLike = None,
        b_init: InitLike = None,
        data_format: str = "NHWC",
        name: str | None = None,
        *,
        axes: str | None = "conv_out",
    ) -> None:
        super().__init__(
            channel_multiplier, kernel_shape, 2, data_format, stride, rate, padding,
            with_bias, w_init, b_init, name, axes=axes,
        )  # fmt: skip


class DepthwiseConv3D(DepthwiseConvND):
    """A 3-D depthwise convolution, as dm-haiku's ``hk.DepthwiseConv3D``.

    Args:
      channel_multiplier: filters per input channel (output channels:
        ``channel_multiplier * in_channels``).
      kernel_shape: an int or a sequence of 1 or 3 ints.
      stride: the stride (an int or a sequence as ``kernel_shape``).
      rate: the kernel dilation rate.
      padding: ``"SAME"``/``"VALID"``, ``(low, high)`` pairs or padding functions.
      with_bias: add the bias ``b``.
      w_init: initializer of ``w`` (shape ``kernel_shape + (1, out_channels)``);
        default truncated normal, stddev ``1 / sqrt(prod(kernel_shape))``.
      b_init: initializer of ``b`` (default zeros).
      data_format: ``"NDHWC"`` (default) or ``"NCDHW"``.
      name: the module's name; default ``DepthwiseConv3D_N``.
      axes: the logical axis name of the output channels of ``w`` and ``b``
        (default ``"conv_out"``; ``None``: unannotated). Keyword-only (not in
        dm-haiku).

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import DepthwiseConv3D
      >>> f = transform(lambda x: DepthwiseConv3D(2, 2, data_format="NCDHW")(x))
      >>> params = f.init(0, jnp.ones((1, 3, 4, 4, 4)))
      >>> params["~/DepthwiseConv3D_0/__call__/b"].shape
      (6, 1, 1, 1)
      >>> f.apply(params, jnp.ones((1, 3, 4, 4, 4))).shape
      (1, 6, 4, 4, 4)
    """

    def __init__(
        self,
        channel_multiplier: int,
        kernel_shape: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        rate: int | Sequence[int] = 1,
        padding: Padding = "SAME",
        with_bias: bool = True,
        w_init: InitLike = None,
        b_init: InitLike = None,
        data_format: str = "NDHWC",
        name: str | None = None,
        *,
        axes: str | None = "conv_out",
    ) -> None:
        super().__init__(
            channel_multiplier, kernel_shape, 3, data_format, stride, rate, padding,
            with_bias, w_init, b_init, name, axes=axes,
        )  # fmt: skip
