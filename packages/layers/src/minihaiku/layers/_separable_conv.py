"""``SeparableDepthwiseConv2D``: a depthwise 2-D convolution with a separable kernel."""

from __future__ import annotations

from collections.abc import Sequence

import jax

from minihaiku.core import InitLike, Module
from minihaiku.layers._checks import positive_ints
from minihaiku.layers._conv_common import Padding
from minihaiku.layers._depthwise_conv import DepthwiseConv2D

__all__ = ["SeparableDepthwiseConv2D"]


class SeparableDepthwiseConv2D(Module):
    """A depthwise 2-D convolution of kernel ``(kh, kw)`` as two, as dm-haiku's.

    A :class:`DepthwiseConv2D` of kernel ``(kh, 1)`` (``channel_multiplier``
    filters per channel, the stride, no bias) then one of kernel ``(1, kw)``
    (one filter per channel, with the bias), dm-haiku's two
    ``depthwise_conv2_d`` modules in that order.

    Args:
      channel_multiplier: filters per input channel.
      kernel_shape: an int or a pair ``(kh, kw)``.
      stride: the stride of the first convolution (an int or a pair).
      padding: ``"SAME"``/``"VALID"``, ``(low, high)`` pairs or padding
        functions, for both convolutions.
      with_bias: give the second convolution the bias ``b``.
      w_init: initializer of both ``w``.
      b_init: initializer of ``b``.
      data_format: ``"NHWC"`` (default) or ``"NCHW"``.
      name: the module's name; default ``SeparableDepthwiseConv2D_N``.

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import SeparableDepthwiseConv2D
      >>> f = transform(lambda x: SeparableDepthwiseConv2D(2, (3, 5))(x))
      >>> params = f.init(0, jnp.ones((1, 8, 8, 3)))
      >>> for k, v in params.items(): print(k, v.shape)
      ~/SeparableDepthwiseConv2D_0/DepthwiseConv2D_0/__call__/w (3, 1, 1, 6)
      ~/SeparableDepthwiseConv2D_0/DepthwiseConv2D_1/__call__/w (1, 5, 1, 6)
      ~/SeparableDepthwiseConv2D_0/DepthwiseConv2D_1/__call__/b (6,)
      >>> f.apply(params, jnp.ones((1, 8, 8, 3))).shape
      (1, 8, 8, 6)
    """

    def __init__(
        self,
        channel_multiplier: int,
        kernel_shape: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: Padding = "SAME",
        with_bias: bool = True,
        w_init: InitLike = None,
        b_init: InitLike = None,
        data_format: str = "NHWC",
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        kh, kw = positive_ints(kernel_shape, "kernel_shape", self.module_label, n=2)
        self.conv1 = DepthwiseConv2D(
            channel_multiplier, (kh, 1), stride=stride, padding=padding, with_bias=False,
            w_init=w_init, data_format=data_format,
        )  # fmt: skip
        self.conv2 = DepthwiseConv2D(
            1, (1, kw), stride=1, padding=padding, with_bias=with_bias, w_init=w_init,
            b_init=b_init, data_format=data_format,
        )  # fmt: skip

    def __call__(self, inputs: jax.Array) -> jax.Array:
        """Convolves ``inputs`` (``[N, H, W, C]``, or unbatched ``[H, W, C]``)."""
        return self.conv2(self.conv1(inputs))
