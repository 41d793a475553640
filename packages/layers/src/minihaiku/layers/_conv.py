"""Convolutions: ``ConvND`` and ``Conv1D``/``Conv2D``/``Conv3D``, as dm-haiku's."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
from jax import lax

from minihaiku.core import InitLike, InvalidArgumentError, Module
from minihaiku.core.checks import check_positive_int
from minihaiku.layers._axes import CONV_AXES, Pair
from minihaiku.layers._checks import positive_ints
from minihaiku.layers._conv_base import ConvBase
from minihaiku.layers._conv_common import Padding, resolve_padding

__all__ = ["Conv1D", "Conv2D", "Conv3D", "ConvND"]


class ConvND(ConvBase, Module):
    """An N-dimensional convolution, as dm-haiku's ``hk.ConvND``.

    Parameters: ``w`` of shape ``kernel_shape + (in_channels // feature_group_count,
    output_channels)`` and, with ``with_bias``, ``b`` of shape ``(output_channels,)``
    (channels last) or ``(output_channels, 1, ..., 1)`` (channels first), in the
    input's dtype.

    Args:
      num_spatial_dims: the number of spatial dimensions (a positive int).
      output_channels: the number of output channels.
      kernel_shape: an int, or a sequence of 1 or ``num_spatial_dims`` ints.
      stride: the stride: an int or a sequence as ``kernel_shape``.
      rate: the kernel dilation rate (1: a plain convolution).
      padding: ``"SAME"`` or ``"VALID"`` (any case), a sequence of
        ``(low, high)`` pairs (one, or one per spatial dimension), or a padding
        function from :mod:`minihaiku.layers.pad` (or one per dimension).
      with_bias: add the bias ``b``.
      w_init: initializer of ``w`` (a callable or a registered name). Default:
        truncated normal with stddev ``1 / sqrt(fan_in)``, as dm-haiku.
      b_init: initializer of ``b``. Default: zeros.
      data_format: ``"channels_last"`` (default), ``"channels_first"``, or a
        format string such as ``"NHWC"`` / ``"NCHW"``.
      mask: an optional array multiplied into ``w`` (same shape as ``w``).
      feature_group_count: the number of groups of a grouped convolution; the
        input channels must be a multiple of it.
      name: the module's name; default ``ConvND_N``.
      axes: the logical axis names (input channels, output channels) of ``w``
        for sharding (its spatial axes get None); ``b`` gets the output name.
        Default ``("conv_in", "conv_out")``; ``None``: unannotated.
        Keyword-only (not in dm-haiku).

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import ConvND
      >>> f = transform(lambda x: ConvND(2, output_channels=4, kernel_shape=3)(x))
      >>> params = f.init(0, jnp.ones((1, 8, 8, 3)))
      >>> {k: v.shape for k, v in params.items()}
      {'~/ConvND_0/__call__/w': (3, 3, 3, 4), '~/ConvND_0/__call__/b': (4,)}
      >>> f.apply(params, jnp.ones((1, 8, 8, 3))).shape
      (1, 8, 8, 4)
    """

    def __init__(
        self,
        num_spatial_dims: int,
        output_channels: int,
        kernel_shape: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        rate: int | Sequence[int] = 1,
        padding: Padding = "SAME",
        with_bias: bool = True,
        w_init: InitLike = None,
        b_init: InitLike = None,
        data_format: str = "channels_last",
        mask: Any = None,
        feature_group_count: int = 1,
        name: str | None = None,
        *,
        axes: Pair = CONV_AXES,
    ) -> None:
        super().__init__(name=name)
        where = self.module_label
        n = self._check_shape_args(num_spatial_dims, output_channels, kernel_shape, stride, axes)
        self.kernel_dilation = positive_ints(rate, "rate", where, n=n)
        self.lhs_dilation = (1,) * n
        self.feature_group_count = check_positive_int(
            feature_group_count, "feature_group_count", where
        )
        self._check_param_args(with_bias, w_init, b_init, data_format, mask)
        self.padding = resolve_padding(padding, self.kernel_shape, self.kernel_dilation, where)

    def __call__(self, inputs: Any, *, precision: lax.Precision | None = None) -> jax.Array:
        """Convolves ``inputs`` (``[N, *spatial, C]``, or unbatched ``[*spatial, C]``).

        Args:
          inputs: the input; channels first if ``data_format`` says so.
          precision: passed to :func:`jax.lax.conv_general_dilated`.

        Returns:
          The output, batched if ``inputs`` was.
        """
        x, unbatched = self._input(inputs)
        channels = x.shape[self.channel_index]
        if channels % self.feature_group_count:
            raise InvalidArgumentError(
                f"{self.module_label}: the input has {channels} channels, which is not a "
                f"multiple of feature_group_count={self.feature_group_count}. Use a "
                "feature_group_count that divides the number of input channels."
            )
        w_shape = (*self.kernel_shape, channels // self.feature_group_count, self.output_channels)
        w = self._weights(w_shape, math.prod(w_shape[:-1]), x.dtype)
        out = lax.conv_general_dilated(
            x,
            w,
            window_strides=self.stride,
            padding=self.padding,
            lhs_dilation=self.lhs_dilation,
            rhs_dilation=self.kernel_dilation,
            dimension_numbers=self.dimension_numbers,
            feature_group_count=self.feature_group_count,
            precision=precision,
        )
        return self._finish(out, x.dtype, unbatched)


class Conv1D(ConvND):
    """A one-dimensional convolution, as dm-haiku's ``hk.Conv1D``.

    Args:
      output_channels: the number of output channels.
      kernel_shape: an int or a sequence of 1 int.
      stride: the stride (int or sequence of 1).
      rate: the kernel dilation rate.
      padding: as in :class:`ConvND`.
      with_bias: add the bias ``b``.
      w_init: initializer of ``w`` (default truncated normal, stddev 1/sqrt(fan_in)).
      b_init: initializer of ``b`` (default zeros).
      data_format: ``"NWC"`` (default) or ``"NCW"``.
      mask: an optional array multiplied into ``w``.
      feature_group_count: the number of groups.
      name: the module's name; default ``Conv1D_N``.
      axes: the logical axis names (input channels, output channels) of ``w``
        for sharding (its spatial axes get None); ``b`` gets the output name.
        Default ``("conv_in", "conv_out")``; ``None``: unannotated.
        Keyword-only (not in dm-haiku).

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import Conv1D, pad
      >>> f = transform(lambda x: Conv1D(2, kernel_shape=3, padding=pad.causal)(x))
      >>> f.apply(f.init(0, jnp.ones((10, 5))), jnp.ones((10, 5))).shape
      (10, 2)
    """

    def __init__(
        self,
        output_channels: int,
        kernel_shape: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        rate: int | Sequence[int] = 1,
        padding: Padding = "SAME",
        with_bias: bool = True,
        w_init: InitLike = None,
        b_init: InitLike = None,
        data_format: str = "NWC",
        mask: Any = None,
        feature_group_count: int = 1,
        name: str | None = None,
        *,
        axes: Pair = CONV_AXES,
    ) -> None:
        super().__init__(
            1, output_channels, kernel_shape, stride, rate, padding, with_bias, w_init,
            b_init, data_format, mask, feature_group_count, name, axes=axes,
        )  # fmt: skip


class Conv2D(ConvND):
    """A two-dimensional convolution, as dm-haiku's ``hk.Conv2D``.

    Args:
      output_channels: the number of output channels.
      kernel_shape: an int or a sequence of 1 or 2 ints.
      stride: the stride (int or sequence of 1 or 2).
      rate: the kernel dilation rate.
      padding: as in :class:`ConvND`.
      with_bias: add the bias ``b``.
      w_init: initializer of ``w`` (default truncated normal, stddev 1/sqrt(fan_in)).
      b_init: initializer of ``b`` (default zeros).
      data_format: ``"NHWC"`` (default) or ``"NCHW"``.
      mask: an optional array multiplied into ``w``.
      feature_group_count: the number of groups.
      name: the module's name; default ``Conv2D_N``.
      axes: the logical axis names (input channels, output channels) of ``w``
        for sharding (its spatial axes get None); ``b`` gets the output name.
        Default ``("conv_in", "conv_out")``; ``None``: unannotated.
        Keyword-only (not in dm-haiku).

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import Conv2D
      >>> f = transform(lambda x: Conv2D(16, kernel_shape=3, stride=2)(x))
      >>> params = f.init(0, jnp.ones((4, 28, 28, 1)))
      >>> params["~/Conv2D_0/__call__/w"].shape
      (3, 3, 1, 16)
      >>> f.apply(params, jnp.ones((4, 28, 28, 1))).shape
      (4, 14, 14, 16)
    """

    def __init__(
        self,
        output_channels: int,
        kernel_shape: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        rate: int | Sequence[int] = 1,
        padding: Padding = "SAME",
        with_bias: bool = True,
        w_init: InitLike = None,
        b_init: InitLike = None,
        data_format: str = "NHWC",
        mask: Any = None,
        feature_group_count: int = 1,
        name: str | None = None,
        *,
        axes: Pair = CONV_AXES,
    ) -> None:
        super().__init__(
            2, output_channels, kernel_shape, stride, rate, padding, with_bias, w_init,
            b_init, data_format, mask, feature_group_count, name, axes=axes,
        )  # fmt: skip


class Conv3D(ConvND):
    """A three-dimensional convolution, as dm-haiku's ``hk.Conv3D``.

    Args:
      output_channels: the number of output channels.
      kernel_shape: an int or a sequence of 1 or 3 ints.
      stride: the stride (int or sequence of 1 or 3).
      rate: the kernel dilation rate.
      padding: as in :class:`ConvND`.
      with_bias: add the bias ``b``.
      w_init: initializer of ``w`` (default truncated normal, stddev 1/sqrt(fan_in)).
      b_init: initializer of ``b`` (default zeros).
      data_format: ``"NDHWC"`` (default) or ``"NCDHW"``.
      mask: an optional array multiplied into ``w``.
      feature_group_count: the number of groups.
      name: the module's name; default ``Conv3D_N``.
      axes: the logical axis names (input channels, output channels) of ``w``
        for sharding (its spatial axes get None); ``b`` gets the output name.
        Default ``("conv_in", "conv_out")``; ``None``: unannotated.
        Keyword-only (not in dm-haiku).

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import Conv3D
      >>> f = transform(lambda x: Conv3D(2, kernel_shape=(1, 3, 3), data_format="NCDHW")(x))
      >>> f.apply(f.init(0, jnp.ones((1, 3, 4, 5, 5))), jnp.ones((1, 3, 4, 5, 5))).shape
      (1, 2, 4, 5, 5)
    """

    def __init__(
        self,
        output_channels: int,
        kernel_shape: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        rate: int | Sequence[int] = 1,
        padding: Padding = "SAME",
        with_bias: bool = True,
        w_init: InitLike = None,
        b_init: InitLike = None,
        data_format: str = "NDHWC",
        mask: Any = None,
        feature_group_count: int = 1,
        name: str | None = None,
        *,
        axes: Pair = CONV_AXES,
    ) -> None:
        super().__init__(
            3, output_channels, kernel_shape, stride, rate, padding, with_bias, w_init,
            b_init, data_format, mask, feature_group_count, name, axes=axes,
        )  # fmt: skip
