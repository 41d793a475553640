"""The residual blocks of :class:`ResNet`: ``BlockV1``, ``BlockV2`` and ``BlockGroup``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax

from minihaiku.core import Module
from minihaiku.initializers import zeros
from minihaiku.layers._batch_norm import BatchNorm
from minihaiku.layers._conv import Conv2D

__all__ = ["BlockGroup", "BlockV1", "BlockV2"]

FloatStrOrBool = str | float | bool


def _conv(channels: int, kernel: int, stride: int | Sequence[int], name: str) -> Conv2D:
    return Conv2D(
        output_channels=channels,
        kernel_shape=kernel,
        stride=stride,
        with_bias=False,
        padding="SAME",
        name=name,
    )


class BlockV1(Module):
    """A ResNet v1 block (post-activation), with an optional bottleneck, as dm-haiku's.

    Args:
      channels: output channels.
      stride: stride of the block (on its first 3x3 conv, or the projection).
      use_projection: project the shortcut with a 1x1 conv and batch norm.
      bn_config: keyword arguments of every :class:`BatchNorm`
        (``create_scale``/``create_offset`` default to True, ``decay_rate``
        to 0.999).
      bottleneck: 1x1, 3x3, 1x1 convs with ``channels // 4`` inside.
      name: the module's name; default ``BlockV1_N``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform_with_state
      >>> from minihaiku.layers.nets import BlockV1
      >>> f = transform_with_state(lambda x: BlockV1(8, 1, True, {}, False)(x, True, False))
      >>> params, state = f.init(0, jnp.ones((1, 4, 4, 3)))
      >>> f.apply(params, state, jnp.ones((1, 4, 4, 3)))[0].shape
      (1, 4, 4, 8)
    """

    def __init__(
        self,
        channels: int,
        stride: int | Sequence[int],
        use_projection: bool,
        bn_config: Mapping[str, FloatStrOrBool],
        bottleneck: bool,
        name: str | None = None,
    ):
        super().__init__(name=name)
        self.use_projection = use_projection
        bn: dict[str, Any] = dict(bn_config)
        bn.setdefault("create_scale", True)
        bn.setdefault("create_offset", True)
        bn.setdefault("decay_rate", 0.999)
        if use_projection:
            self.proj_conv = _conv(channels, 1, stride, "shortcut_conv")
            self.proj_batchnorm = BatchNorm(name="shortcut_batchnorm", **bn)
        div = 4 if bottleneck else 1
        conv_0 = _conv(
            channels // div, 1 if bottleneck else 3, 1 if bottleneck else stride, "conv_0"
        )
        bn_0 = BatchNorm(name="batchnorm_0", **bn)
        conv_1 = _conv(channels // div, 3, stride if bottleneck else 1, "conv_1")
        bn_1 = BatchNorm(name="batchnorm_1", **bn)
        layers: tuple[tuple[Conv2D, BatchNorm], ...] = ((conv_0, bn_0), (conv_1, bn_1))
        if bottleneck:
            conv_2 = _conv(channels, 1, 1, "conv_2")
            bn_2 = BatchNorm(name="batchnorm_2", scale_init=zeros(), **bn)
            layers = (*layers, (conv_2, bn_2))
        self.layers = layers

    def __call__(self, inputs: jax.Array, is_training: bool, test_local_stats: bool) -> jax.Array:
        """Applies the block to NHWC ``inputs``."""
        out = shortcut = inputs
        if self.use_projection:
            shortcut = self.proj_conv(shortcut)
            shortcut = self.proj_batchnorm(shortcut, is_training, test_local_stats)
        for i, (conv_i, bn_i) in enumerate(self.layers):
            out = bn_i(conv_i(out), is_training, test_local_stats)
            if i < len(self.layers) - 1:
                out = jax.nn.relu(out)
        return jax.nn.relu(out + shortcut)


class BlockV2(Module):
    """A ResNet v2 block (pre-activation), with an optional bottleneck, as dm-haiku's.

    Args:
      channels: output channels.
      stride: stride of the block.
      use_projection: project the shortcut with a 1x1 conv.
      bn_config: keyword arguments of every :class:`BatchNorm`.
      bottleneck: 1x1, 3x3, 1x1 convs with ``channels // 4`` inside.
      name: the module's name; default ``BlockV2_N``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform_with_state
      >>> from minihaiku.layers.nets import BlockV2
      >>> cfg = {"decay_rate": 0.9}
      >>> f = transform_with_state(lambda x: BlockV2(8, 2, True, cfg, True)(x, True, False))
      >>> params, state = f.init(0, jnp.ones((1, 4, 4, 3)))
      >>> f.apply(params, state, jnp.ones((1, 4, 4, 3)))[0].shape
      (1, 2, 2, 8)
    """

    def __init__(
        self,
        channels: int,
        stride: int | Sequence[int],
        use_projection: bool,
        bn_config: Mapping[str, FloatStrOrBool],
        bottleneck: bool,
        name: str | None = None,
    ):
        super().__init__(name=name)
        self.use_projection = use_projection
        bn: dict[str, Any] = dict(bn_config)
        bn.setdefault("create_scale", True)
        bn.setdefault("create_offset", True)
        if use_projection:
            self.proj_conv = _conv(channels, 1, stride, "shortcut_conv")
        div = 4 if bottleneck else 1
        conv_0 = _conv(
            channels // div, 1 if bottleneck else 3, 1 if bottleneck else stride, "conv_0"
        )
        bn_0 = BatchNorm(name="batchnorm_0", **bn)
        conv_1 = _conv(channels // div, 3, stride if bottleneck else 1, "conv_1")
        bn_1 = BatchNorm(name="batchnorm_1", **bn)
        layers: tuple[tuple[Conv2D, BatchNorm], ...] = ((conv_0, bn_0), (conv_1, bn_1))
        if bottleneck:
            conv_2 = _conv(channels, 1, 1, "conv_2")
            bn_2 = BatchNorm(name="batchnorm_2", **bn)
            layers = (*layers, (conv_2, bn_2))
        self.layers = layers

    def __call__(self, inputs: jax.Array, is_training: bool, test_local_stats: bool) -> jax.Array:
        """Applies the block to NHWC ``inputs``."""
        x = shortcut = inputs
        for i, (conv_i, bn_i) in enumerate(self.layers):
            x = jax.nn.relu(bn_i(x, is_training, test_local_stats))
            if i == 0 and self.use_projection:
                shortcut = self.proj_conv(x)
            x = conv_i(x)
        return x + shortcut


class BlockGroup(Module):
    """``num_blocks`` residual blocks, the first one with ``stride`` and the projection.

    Args:
      channels: output channels of every block.
      num_blocks: number of blocks.
      stride: stride of the first block.
      bn_config: keyword arguments of every :class:`BatchNorm`.
      resnet_v2: use :class:`BlockV2` rather than :class:`BlockV1`.
      bottleneck: bottleneck blocks.
      use_projection: give the first block a projection shortcut.
      name: the module's name; default ``BlockGroup_N``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform_with_state
      >>> from minihaiku.layers.nets import BlockGroup
      >>> g = lambda x: BlockGroup(8, 2, 2, {}, False, False, True)(x, True, False)
      >>> f = transform_with_state(g)
      >>> params, state = f.init(0, jnp.ones((1, 4, 4, 3)))
      >>> f.apply(params, state, jnp.ones((1, 4, 4, 3)))[0].shape
      (1, 2, 2, 8)
    """

    def __init__(
        self,
        channels: int,
        num_blocks: int,
        stride: int | Sequence[int],
        bn_config: Mapping[str, FloatStrOrBool],
        resnet_v2: bool,
        bottleneck: bool,
        use_projection: bool,
        name: str | None = None,
    ):
        super().__init__(name=name)
        block_cls = BlockV2 if resnet_v2 else BlockV1
        self.blocks = [
            block_cls(
                channels=channels,
                stride=(1 if i else stride),
                use_projection=(i == 0 and use_projection),
                bottleneck=bottleneck,
                bn_config=bn_config,
                name=f"block_{i}",
            )
            for i in range(num_blocks)
        ]

    def __call__(self, inputs: jax.Array, is_training: bool, test_local_stats: bool) -> jax.Array:
        """Applies the blocks in order."""
        out = inputs
        for block in self.blocks:
            out = block(out, is_training, test_local_stats)
        return out
