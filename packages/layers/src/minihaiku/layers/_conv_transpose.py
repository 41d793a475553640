"""Transposed convolutions: ``ConvNDTranspose`` and its 1D/2D/3D forms, as dm-haiku's."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
from jax import lax

from minihaiku.core import InitLike, InvalidArgumentError, Module
from minihaiku.layers._axes import CONV_AXES, Pair
from minihaiku.layers._checks import positive_ints
from minihaiku.layers._conv_base import ConvBase
from minihaiku.layers._conv_common import padding_pairs, padding_string

__all__ = ["Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "ConvNDTranspose"]

TransposePadding = str | Sequence[tuple[int, int]]


def compute_adjusted_padding(
    input_size: int, output_size: int, kernel_size: int, stride: int, padding: str, where: str
) -> tuple[int, int]:
    """The explicit padding that gives ``output_size`` (dm-haiku's rule)."""
    if padding == "VALID":
        expected = (output_size - kernel_size + stride) // stride
        before = 0
    else:
        expected = (output_size + stride - 1) // stride
        before = max(0, (input_size - 1) * stride + kernel_size - output_size) // 2
    if input_size != expected:
        raise InvalidArgumentError(
            f"{where}: output_shape asks for a spatial size of {output_size}, which "
            f"with kernel {kernel_size}, stride {stride} and padding {padding!r} needs an "
            f"input size of {expected}, but the input has {input_size}. Change "
            "output_shape, or pass output_shape=None to get the natural size."
        )
    pad_before = kernel_size - 1 - before
    pad_after = output_size + kernel_size - 1 - ((input_size - 1) * stride + 1) - pad_before
    return (pad_before, pad_after)


class ConvNDTranspose(ConvBase, Module):
    """An N-dimensional transposed convolution, as dm-haiku's ``hk.ConvNDTranspose``.

    Parameters: ``w`` of shape ``kernel_shape + (output_channels, in_channels)``
    and, with ``with_bias``, ``b`` as in :class:`ConvND`, in the input's dtype.

    Args:
      num_spatial_dims: the number of spatial dimensions (a positive int).
      output_channels: the number of output channels.
      kernel_shape: an int, or a sequence of 1 or ``num_spatial_dims`` ints.
      stride: the stride: an int or a sequence as ``kernel_shape``.
      output_shape: the spatial output shape (an int or a sequence); ``None``
        gives the natural size. Needs a string ``padding``.
      padding: ``"SAME"`` or ``"VALID"`` (any case), or a sequence of
        ``(low, high)`` pairs.
      with_bias: add the bias ``b``.
      w_init: initializer of ``w``. Default: truncated normal with stddev
        ``1 / sqrt(prod(kernel_shape) * in_channels)``, as dm-haiku.
      b_init: initializer of ``b``. Default: zeros.
      data_format: ``"channels_last"`` (default), ``"channels_first"``, or a
        format string such as ``"NHWC"`` / ``"NCHW"``.
      mask: an optional array multiplied into ``w`` (same shape as ``w``).
      name: the module's name; default ``ConvNDTranspose_N``.
      axes: the logical axis names (input channels, output channels) of ``w``
        for sharding (its spatial axes get None); ``b`` gets the output name.
        Default ``("conv_in", "conv_out")``; ``None``: unannotated.
        Keyword-only (not in dm-haiku).

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import ConvNDTranspose
      >>> f = transform(lambda x: ConvNDTranspose(2, 4, kernel_shape=3, stride=2)(x))
      >>> params = f.init(0, jnp.ones((1, 5, 5, 3)))
      >>> params["~/ConvNDTranspose_0/__call__/w"].shape
      (3, 3, 4, 3)
      >>> f.apply(params, jnp.ones((1, 5, 5, 3))).shape
      (1, 10, 10, 4)
    """

    _transposed = True

    def __init__(
        self,
        num_spatial_dims: int,
        output_channels: int,
        kernel_shape: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        output_shape: int | Sequence[int] | None = None,
        padding: TransposePadding = "SAME",
        with_bias: bool = True,
        w_init: InitLike = None,
        b_init: InitLike = None,
        data_format: str = "channels_last",
        mask: Any = None,
        name: str | None = None,
        *,
        axes: Pair = CONV_AXES,
    ) -> None:
        super().__init__(name=name)
        where = self.module_label
        n = self._check_shape_args(num_spatial_dims, output_channels, kernel_shape, stride, axes)
        self.output_shape = (
            None
            if output_shape is None
            else positive_ints(output_shape, "output_shape", where, n=n)
        )
        self.padding: str | tuple[tuple[int, int], ...]
        if isinstance(padding, str):
            self.padding = padding_string(padding, "padding", where)
            if self.padding == "SAME_LOWER":
                raise InvalidArgumentError(
                    f"{where}: padding 'SAME_LOWER' is not supported by transposed "
                    "convolutions. Pass 'SAME' or 'VALID', or (low, high) pairs."
                )
        else:
            if self.output_shape is not None:
                raise InvalidArgumentError(
                    f"{where}: output_shape needs padding 'SAME' or 'VALID', got "
                    f"{padding!r:.60}. Pass a string padding, or output_shape=None."
                )
            self.padding = padding_pairs(padding, "padding", where, n=n)
        self._check_param_args(with_bias, w_init, b_init, data_format, mask)

    def __call__(self, inputs: Any, *, precision: lax.Precision | None = None) -> jax.Array:
        """Transposed-convolves ``inputs`` (``[N, *spatial, C]`` or unbatched ``[*spatial, C]``).

        Args:
          inputs: the input; channels first if ``data_format`` says so.
          precision: passed to :func:`jax.lax.conv_transpose`.

        Returns:
          The output, batched if ``inputs`` was.
        """
        x, unbatched = self._input(inputs)
        channels = x.shape[self.channel_index]
        w_shape = (*self.kernel_shape, self.output_channels, channels)
        w = self._weights(w_shape, math.prod(self.kernel_shape) * channels, x.dtype)
        padding: Any = self.padding
        if self.output_shape is not None:
            spatial = x.shape[2:] if self.channel_index == 1 else x.shape[1:-1]
            padding = tuple(
                compute_adjusted_padding(i, o, k, s, self.padding, self.module_label)  # type: ignore[arg-type]
                for i, o, k, s in zip(
                    spatial, self.output_shape, self.kernel_shape, self.stride, strict=True
                )
            )
        out = lax.conv_transpose(
            x,
            w,
            strides=self.stride,
            padding=padding,
            dimension_numbers=self.dimension_numbers,
            precision=precision,
        )
        return self._finish(out, x.dtype, unbatched)


class Conv1DTranspose(ConvNDTranspose):
    """A one-dimensional transposed convolution, as dm-haiku's ``hk.Conv1DTranspose``.

    Args:
      output_channels: the number of output channels.
      kernel_shape: an int or a sequence of 1 int.
      stride: the stride.
      output_shape: the spatial output shape, or ``None``.
      padding: ``"SAME"``, ``"VALID"`` or ``(low, high)`` pairs.
      with_bias: add the bias ``b``.
      w_init: initializer of ``w`` (default truncated normal, stddev 1/sqrt(fan_in)).
      b_init: initializer of ``b`` (default zeros).
      data_format: ``"NWC"`` (default) or ``"NCW"``.
      mask: an optional array multiplied into ``w``.
      name: the module's name; default ``Conv1DTranspose_N``.
      axes: the logical axis names (input channels, output channels) of ``w``
        for sharding (its spatial axes get None); ``b`` gets the output name.
        Default ``("conv_in", "conv_out")``; ``None``: unannotated.
        Keyword-only (not in dm-haiku).

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import Conv1DTranspose
      >>> f = transform(lambda x: Conv1DTranspose(2, 4, stride=2, output_shape=9)(x))
      >>> f.apply(f.init(0, jnp.ones((1, 5, 3))), jnp.ones((1, 5, 3))).shape
      (1, 9, 2)
    """

    def __init__(
        self,
        output_channels: int,
        kernel_shape: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        output_shape: int | Sequence[int] | None = None,
        padding: TransposePadding = "SAME",
        with_bias: bool = True,
        w_init: InitLike = None,
        b_init: InitLike = None,
        data_format: str = "NWC",
        mask: Any = None,
        name: str | None = None,
        *,
        axes: Pair = CONV_AXES,
    ) -> None:
        super().__init__(
            1, output_channels, kernel_shape, stride, output_shape, padding, with_bias,
            w_init, b_init, data_format, mask, name, axes=axes,
        )  # fmt: skip


class Conv2DTranspose(ConvNDTranspose):
    """A two-dimensional transposed convolution, as dm-haiku's ``hk.Conv2DTranspose``.

    Args:
      output_channels: the number of output channels.
      kernel_shape: an int or a sequence of 1 or 2 ints.
      stride: the stride.
      output_shape: the spatial output shape, or ``None``.
      padding: ``"SAME"``, ``"VALID"`` or ``(low, high)`` pairs.
      with_bias: add the bias ``b``.
      w_init: initializer of ``w`` (default truncated normal, stddev 1/sqrt(fan_in)).
      b_init: initializer of ``b`` (default zeros).
      data_format: ``"NHWC"`` (default) or ``"NCHW"``.
      mask: an optional array multiplied into ``w``.
      name: the module's name; default ``Conv2DTranspose_N``.
      axes: the logical axis names (input channels, output channels) of ``w``
        for sharding (its spatial axes get None); ``b`` gets the output name.
        Default ``("conv_in", "conv_out")``; ``None``: unannotated.
        Keyword-only (not in dm-haiku).

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import Conv2DTranspose
      >>> f = transform(lambda x: Conv2DTranspose(8, kernel_shape=4, stride=2)(x))
      >>> f.apply(f.init(0, jnp.ones((2, 7, 7, 16))), jnp.ones((2, 7, 7, 16))).shape
      (2, 14, 14, 8)
    """

    def __init__(
        self,
        output_channels: int,
        kernel_shape: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        output_shape: int | Sequence[int] | None = None,
        padding: TransposePadding = "SAME",
        with_bias: bool = True,
        w_init: InitLike = None,
        b_init: InitLike = None,
        data_format: str = "NHWC",
        mask: Any = None,
        name: str | None = None,
        *,
        axes: Pair = CONV_AXES,
    ) -> None:
        super().__init__(
            2, output_channels, kernel_shape, stride, output_shape, padding, with_bias,
            w_init, b_init, data_format, mask, name, axes=axes,
        )  # fmt: skip


class Conv3DTranspose(ConvNDTranspose):
    """A three-dimensional transposed convolution, as dm-haiku's ``hk.Conv3DTranspose``.

    Args:
      output_channels: the number of output channels.
      kernel_shape: an int or a sequence of 1 or 3 ints.
      stride: the stride.
      output_shape: the spatial output shape, or ``None``.
      padding: ``"SAME"``, ``"VALID"`` or ``(low, high)`` pairs.
      with_bias: add the bias ``b``.
      w_init: initializer of ``w`` (default truncated normal, stddev 1/sqrt(fan_in)).
      b_init: initializer of ``b`` (default zeros).
      data_format: ``"NDHWC"`` (default) or ``"NCDHW"``.
      mask: an optional array multiplied into ``w``.
      name: the module's name; default ``Conv3DTranspose_N``.
      axes: the logical axis names (input channels, output channels) of ``w``
        for sharding (its spatial axes get None); ``b`` gets the output name.
        Default ``("conv_in", "conv_out")``; ``None``: unannotated.
        Keyword-only (not in dm-haiku).

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import Conv3DTranspose
      >>> f = transform(lambda x: Conv3DTranspose(2, kernel_shape=2, stride=2)(x))
      >>> f.apply(f.init(0, jnp.ones((3, 3, 3, 1))), jnp.ones((3, 3, 3, 1))).shape
      (6, 6, 6, 2)
    """

    def __init__(
        self,
        output_channels: int,
        kernel_shape: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        output_shape: int | Sequence[int] | None = None,
        padding: TransposePadding = "SAME",
        with_bias: bool = True,
        w_init: InitLike = None,
        b_init: InitLike = None,
        data_format: str = "NDHWC",
        mask: Any = None,
        name: str | None = None,
        *,
        axes: Pair = CONV_AXES,
    ) -> None:
        super().__init__(
            3, output_channels, kernel_shape, stride, output_shape, padding, with_bias,
            w_init, b_init, data_format, mask, name, axes=axes,
        )  # fmt: skip
