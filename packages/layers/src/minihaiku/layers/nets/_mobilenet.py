"""``MobileNetV1`` (https://arxiv.org/abs/1704.04861), as dm-haiku's ``hk.nets.MobileNetV1``."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from minihaiku.core import InvalidArgumentError, Module
from minihaiku.core.checks import check_positive_int
from minihaiku.layers._batch_norm import BatchNorm
from minihaiku.layers._conv import Conv2D
from minihaiku.layers._depthwise_conv import DepthwiseConv2D
from minihaiku.layers._linear import Linear

__all__ = ["MobileNetV1", "MobileNetV1Block"]


def _batch_norm(use_bn: bool, x: jax.Array, is_training: bool) -> jax.Array:
    if use_bn:
        x = BatchNorm(create_scale=True, create_offset=True, decay_rate=0.999)(x, is_training)
    return jax.nn.relu(x)


class MobileNetV1Block(Module):
    """One MobileNet block: a 3x3 depthwise conv and a 1x1 conv, each with batch norm and relu.

    The depthwise conv pads one pixel on each side (dm-haiku's
    ``((1, 1), (1, 1))``, not ``"SAME"``).

    Args:
      channels: the output channels (of the 1x1 ``pointwise_conv``).
      stride: the stride of the 3x3 ``depthwise_conv``.
      use_bn: batch norm after each conv (the convs then have no bias).
      name: the module's name; default ``MobileNetV1Block_N``.

    Examples:
      >>> from minihaiku.core import transform_with_state
      >>> from minihaiku.layers.nets._mobilenet import MobileNetV1Block
      >>> f = transform_with_state(lambda x: MobileNetV1Block(8, 2)(x, True))
      >>> params, state = f.init(0, jnp.ones((1, 6, 6, 4)))
      >>> f.apply(params, state, jnp.ones((1, 6, 6, 4)))[0].shape
      (1, 3, 3, 8)
    """

    def __init__(self, channels: int, stride: int, use_bn: bool = True, name: str | None = None):
        super().__init__(name=name)
        self.channels = channels
        self.stride = stride
        self.use_bn = bool(use_bn)

    def __call__(self, inputs: jax.Array, is_training: bool) -> jax.Array:
        """The block's output, ``stride`` times smaller in height and width."""
        bias = not self.use_bn
        x = DepthwiseConv2D(
            1, 3, self.stride, padding=((1, 1), (1, 1)), with_bias=bias, name="depthwise_conv"
        )(inputs)
        x = _batch_norm(self.use_bn, x, is_training)
        x = Conv2D(
            self.channels, 1, stride=1, padding="VALID", with_bias=bias, name="pointwise_conv"
        )(x)
        return _batch_norm(self.use_bn, x, is_training)


class MobileNetV1(Module):
    """MobileNet v1 for classification, as dm-haiku's ``hk.nets.MobileNetV1``.

    A 3x3 conv of 32 channels with stride 2 (``"VALID"``), one :class:`MobileNetV1Block` per
    ``(stride, channels)`` pair, a mean over height and width and a
    ``Linear`` ``logits`` layer; with ``use_bn``, batch norm (decay 0.999)
    after every conv, whose moving averages are state.

    Args:
      strides: the stride of each block.
      channels: the output channels of each block (as many as ``strides``).
      num_classes: the number of logits.
      use_bn: use batch norm (the convs then have no bias).
      name: the module's name; default ``MobileNetV1_N``.

    Examples:
      >>> from minihaiku.core import transform_with_state
      >>> from minihaiku.layers.nets import MobileNetV1
      >>> net = lambda x: MobileNetV1((1, 2), (8, 16), num_classes=10)(x, is_training=True)
      >>> f = transform_with_state(net)
      >>> params, state = f.init(0, jnp.ones((2, 32, 32, 3)))
      >>> f.apply(params, state, jnp.ones((2, 32, 32, 3)))[0].shape
      (2, 10)
    """

    #: The class of the ``logits`` layer (minihaiku.haiku swaps in dm-haiku's ``Linear``).
    logits_class: type[Linear] = Linear

    def __init__(
        self,
        strides: Sequence[int] = (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1),
        channels: Sequence[int] = (
            64,
            128,
            128,
            256,
            256,
            512,
            512,
            512,
            512,
            512,
            512,
            1024,
            1024,
        ),
        num_classes: int = 1000,
        use_bn: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        where = self.module_label
        if len(strides) != len(channels):
            raise InvalidArgumentError(
                f"{where}: strides and channels must have the same length (one of each per "
                f"block), got {len(strides)} strides and {len(channels)} channels. Give one "
                "stride per block."
            )
        self.strides = tuple(check_positive_int(s, "strides", where) for s in strides)
        self.channels = tuple(check_positive_int(c, "channels", where) for c in channels)
        self.num_classes = check_positive_int(num_classes, "num_classes", where)
        self.use_bn = bool(use_bn)

    def __call__(self, inputs: jax.Array, is_training: bool) -> jax.Array:
        """The logits, ``[N, num_classes]``, of images ``[N, H, W, C]``."""
        x = Conv2D(32, 3, stride=2, padding="VALID", with_bias=not self.use_bn)(inputs)
        x = _batch_norm(self.use_bn, x, is_training)
        for stride, channels in zip(self.strides, self.channels, strict=True):
            x = MobileNetV1Block(channels, stride, self.use_bn)(x, is_training)
        x = jnp.mean(x, axis=(1, 2))
        return self.logits_class(self.num_classes, name="logits")(x)
