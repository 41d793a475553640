"""``ConvBase``: what ``ConvND`` and ``ConvNDTranspose`` share, as one mixin.

The argument checks and attributes common to both (axes, sizes, kernel,
stride, bias, initializers, mask, data format, dimension numbers) and the
two ends of their call (checking the input and creating the masked weights
``w``; adding ``b`` and unbatching). Each convolution keeps only what
differs: its padding, dilation or output shape, the shape of ``w`` and the
``lax`` function it calls.

``ConvBase`` is a plain class, not a ``Module``: its methods run inside the
module's own (wrapped) ``__init__`` and ``__call__``, so the parameters keep
their ``~/<Layer>/__call__/w`` paths.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from minihaiku.core import InitLike, InvalidArgumentError, get_param
from minihaiku.core.checks import check_initializer, check_positive_int
from minihaiku.initializers import truncated_normal, zeros
from minihaiku.layers._axes import Pair, check_axis_pair
from minihaiku.layers._checks import channel_index, check_size, positive_ints
from minihaiku.layers._conv_common import conv_axes, to_dimension_numbers

__all__ = ["ConvBase"]


class ConvBase:
    """The shared part of the convolutions; mixed into ``Module`` subclasses.

    Examples:
      >>> from minihaiku.layers import Conv1D, Conv1DTranspose
      >>> from minihaiku.layers._conv_base import ConvBase
      >>> issubclass(Conv1D, ConvBase) and issubclass(Conv1DTranspose, ConvBase)
      True
    """

    _transposed: bool = False
    module_label: str
    axes: Pair
    num_spatial_dims: int
    output_channels: int
    kernel_shape: tuple[int, ...]
    stride: tuple[int, ...]
    with_bias: bool
    w_init: Any
    b_init: Any
    mask: Any
    data_format: str
    channel_index: int
    dimension_numbers: lax.ConvDimensionNumbers
    _w_axes: tuple[str | None, ...] | None
    _b_axes: tuple[str | None, ...] | None

    def _check_shape_args(
        self,
        num_spatial_dims: int,
        output_channels: int,
        kernel_shape: int | Sequence[int],
        stride: int | Sequence[int],
        axes: Pair,
    ) -> int:
        """Checks and stores the axes, sizes, kernel and stride; returns the spatial rank."""
        where = self.module_label
        self.axes = check_axis_pair(axes, "axes", where)
        n = self.num_spatial_dims = check_positive_int(num_spatial_dims, "num_spatial_dims", where)
        self.output_channels = check_size(output_channels, "output_channels", where)
        self.kernel_shape = positive_ints(kernel_shape, "kernel_shape", where, n=n)
        self.stride = positive_ints(stride, "stride", where, n=n)
        return n

    def _check_param_args(
        self,
        with_bias: bool,
        w_init: InitLike,
        b_init: InitLike,
        data_format: str,
        mask: Any,
    ) -> None:
        """Checks and stores the bias, initializers, mask and data format."""
        where = self.module_label
        self.with_bias = bool(with_bias)
        # w's default depends on the input (its fan-in), so None stays None
        # until the call; a name or a callable is checked now.
        self.w_init = (
            None if w_init is None else check_initializer(w_init, "w_init", where, default=None)
        )
        self.b_init = check_initializer(b_init, "b_init", where, default=zeros())
        self.mask = mask
        self.data_format = data_format
        self.channel_index = channel_index(data_format, "data_format", where)
        n = self.num_spatial_dims
        self._w_axes, self._b_axes = conv_axes(
            self.axes, n, self.channel_index, transpose=self._transposed
        )
        self.dimension_numbers = to_dimension_numbers(
            n, channels_last=self.channel_index == -1, transpose=self._transposed
        )

    def _input(self, inputs: Any) -> tuple[jax.Array, bool]:
        """``inputs`` batched (and whether it was not), rank checked."""
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
        return (x[None] if unbatched else x), unbatched

    def _weights(self, w_shape: tuple[int, ...], fan_in: int, dtype: Any) -> jax.Array:
        """The parameter ``w`` of ``w_shape`` (times the mask, if any).

        Its default initializer is dm-haiku's: truncated normal with stddev
        ``1 / sqrt(fan_in)``.
        """
        if self.mask is not None and tuple(np.shape(self.mask)) != w_shape:
            raise InvalidArgumentError(
                f"{self.module_label}: mask has shape {tuple(np.shape(self.mask))} but the "
                f"weights w have shape {w_shape} (kernel_shape + (input channels / groups, "
                "output channels)); give mask the shape of w."
            )
        w_init = self.w_init or truncated_normal(stddev=1.0 / math.sqrt(fan_in))
        w = get_param("w", w_shape, dtype, w_init, axes=self._w_axes)
        return w if self.mask is None else w * self.mask

    @staticmethod
    def _add_bias(out: jax.Array, b: jax.Array) -> jax.Array:
        """``out + b`` (minihaiku.haiku broadcasts ``b`` first, as dm-haiku)."""
        return out + b

    def _finish(self, out: jax.Array, dtype: Any, unbatched: bool) -> jax.Array:
        """``out`` plus the bias ``b`` (when ``with_bias``), unbatched if the input was."""
        if self.with_bias:
            shape: tuple[int, ...] = (self.output_channels,)
            if self.channel_index == 1:
                shape += (1,) * self.num_spatial_dims
            b = get_param("b", shape, dtype, self.b_init, axes=self._b_axes)
            out = self._add_bias(out, b)
        return out[0] if unbatched else out
