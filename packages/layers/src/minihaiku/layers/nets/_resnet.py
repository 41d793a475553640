"""``ResNet`` (He et al. 2016) and ``ResNet18`` ... ``ResNet200``, as dm-haiku's ``hk.nets``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError, Module
from minihaiku.core.checks import prefix
from minihaiku.initializers import zeros
from minihaiku.layers._batch_norm import BatchNorm
from minihaiku.layers._conv import Conv2D
from minihaiku.layers._linear import Linear
from minihaiku.layers._pool import max_pool
from minihaiku.layers.nets._resnet_blocks import BlockGroup, BlockV1, BlockV2, FloatStrOrBool

__all__ = ["ResNet", "ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet152", "ResNet200"]


def _check_length(value: Any, name: str, where: str) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidArgumentTypeError(
            f"{prefix(where)}{name} must be a sequence of length 4 (one entry per block "
            f"group), got {type(value).__name__} {value!r:.60}."
        )
    if len(value) != 4:
        raise InvalidArgumentError(
            f"{prefix(where)}{name} must be of length 4 (one entry per block group), got "
            f"length {len(value)}: {tuple(value)!r:.60}."
        )
    return tuple(value)


class ResNet(Module):
    """A ResNet, v1 or v2, with or without bottleneck blocks, as ``hk.nets.ResNet``.

    A 7x7 stride-2 conv (``initial_conv``), batch norm and ReLU (v1), a 3x3
    stride-2 max pool, four :class:`BlockGroup` s, (v2: a final batch norm and
    ReLU), a spatial mean and the ``logits`` :class:`Linear` (zero-initialized).
    Batch statistics are state: use :func:`minihaiku.core.transform_with_state`.

    Args:
      blocks_per_group: blocks in each of the 4 groups.
      num_classes: number of logits.
      bn_config: keyword arguments of every :class:`BatchNorm`; defaults
        ``decay_rate=0.9``, ``eps=1e-5``, ``create_scale=True``,
        ``create_offset=True``.
      resnet_v2: pre-activation (v2) blocks.
      bottleneck: bottleneck blocks.
      channels_per_group: output channels of each group.
      use_projection: whether each group's first block projects its shortcut.
      logits_config: keyword arguments of the logits ``Linear`` (default
        ``w_init`` zeros, ``name="logits"``).
      name: the module's name; default ``ResNet_N`` (``ResNet50_N``, ...).
      initial_conv_config: keyword arguments of the initial ``Conv2D``
        (default 64 channels, kernel 7, stride 2, no bias, ``SAME``).
      strides: stride of each group.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform_with_state
      >>> from minihaiku.layers.nets import ResNet
      >>> def f(x, is_training):
      ...   net = ResNet([1, 1, 1, 1], 10, bottleneck=False, channels_per_group=(4, 8, 8, 8))
      ...   return net(x, is_training)
      >>> f = transform_with_state(f)
      >>> x = jnp.ones((2, 32, 32, 3))
      >>> params, state = f.init(0, x, True)
      >>> logits, state = f.apply(params, state, x, True)
      >>> logits.shape
      (2, 10)
    """

    #: The linear layer class built inside (a subclass may swap in one with other defaults).
    linear_cls: ClassVar[type[Linear]] = Linear

    CONFIGS: ClassVar[dict[int, dict[str, Any]]] = {
        18: {
            "blocks_per_group": (2, 2, 2, 2),
            "bottleneck": False,
            "channels_per_group": (64, 128, 256, 512),
            "use_projection": (False, True, True, True),
        },
        34: {
            "blocks_per_group": (3, 4, 6, 3),
            "bottleneck": False,
            "channels_per_group": (64, 128, 256, 512),
            "use_projection": (False, True, True, True),
        },
        50: {
            "blocks_per_group": (3, 4, 6, 3),
            "bottleneck": True,
            "channels_per_group": (256, 512, 1024, 2048),
            "use_projection": (True, True, True, True),
        },
        101: {
            "blocks_per_group": (3, 4, 23, 3),
            "bottleneck": True,
            "channels_per_group": (256, 512, 1024, 2048),
            "use_projection": (True, True, True, True),
        },
        152: {
            "blocks_per_group": (3, 8, 36, 3),
            "bottleneck": True,
            "channels_per_group": (256, 512, 1024, 2048),
            "use_projection": (True, True, True, True),
        },
        200: {
            "blocks_per_group": (3, 24, 36, 3),
            "bottleneck": True,
            "channels_per_group": (256, 512, 1024, 2048),
            "use_projection": (True, True, True, True),
        },
    }

    BlockGroup = BlockGroup
    BlockV1 = BlockV1
    BlockV2 = BlockV2

    def __init__(
        self,
        blocks_per_group: Sequence[int],
        num_classes: int,
        bn_config: Mapping[str, FloatStrOrBool] | None = None,
        resnet_v2: bool = False,
        bottleneck: bool = True,
        channels_per_group: Sequence[int] = (256, 512, 1024, 2048),
        use_projection: Sequence[bool] = (True, True, True, True),
        logits_config: Mapping[str, Any] | None = None,
        name: str | None = None,
        initial_conv_config: Mapping[str, FloatStrOrBool] | None = None,
        strides: Sequence[int] = (1, 2, 2, 2),
    ):
        super().__init__(name=name)
        where = self.module_label
        self.resnet_v2 = resnet_v2
        bn: dict[str, Any] = dict(bn_config or {})
        bn.setdefault("decay_rate", 0.9)
        bn.setdefault("eps", 1e-5)
        bn.setdefault("create_scale", True)
        bn.setdefault("create_offset", True)
        logits: dict[str, Any] = dict(logits_config or {})
        logits.setdefault("w_init", zeros())
        logits.setdefault("name", "logits")
        blocks_per_group = _check_length(blocks_per_group, "blocks_per_group", where)
        channels_per_group = _check_length(channels_per_group, "channels_per_group", where)
        strides = _check_length(strides, "strides", where)
        use_projection = _check_length(use_projection, "use_projection", where)
        conv: dict[str, Any] = dict(initial_conv_config or {})
        conv.setdefault("output_channels", 64)
        conv.setdefault("kernel_shape", 7)
        conv.setdefault("stride", 2)
        conv.setdefault("with_bias", False)
        conv.setdefault("padding", "SAME")
        conv.setdefault("name", "initial_conv")
        self.initial_conv = Conv2D(**conv)
        if not resnet_v2:
            self.initial_batchnorm = BatchNorm(name="initial_batchnorm", **bn)
        self.block_groups = [
            BlockGroup(
                channels=channels_per_group[i],
                num_blocks=blocks_per_group[i],
                stride=stride,
                bn_config=bn,
                resnet_v2=resnet_v2,
                bottleneck=bottleneck,
                use_projection=use_projection[i],
                name=f"block_group_{i}",
            )
            for i, stride in enumerate(strides)
        ]
        if resnet_v2:
            self.final_batchnorm = BatchNorm(name="final_batchnorm", **bn)
        self.logits = self.linear_cls(num_classes, **logits)

    def __call__(
        self, inputs: jax.Array, is_training: bool, test_local_stats: bool = False
    ) -> jax.Array:
        """Logits of NHWC ``inputs``: shape ``(batch, num_classes)``."""
        out = self.initial_conv(inputs)
        if not self.resnet_v2:
            out = jax.nn.relu(self.initial_batchnorm(out, is_training, test_local_stats))
        out = max_pool(out, window_shape=(1, 3, 3, 1), strides=(1, 2, 2, 1), padding="SAME")
        for block_group in self.block_groups:
            out = block_group(out, is_training, test_local_stats)
        if self.resnet_v2:
            out = jax.nn.relu(self.final_batchnorm(out, is_training, test_local_stats))
        return self.logits(jnp.mean(out, axis=(1, 2)))


class _ResNetDepth(ResNet):
    """A :class:`ResNet` configured by ``ResNet.CONFIGS[_DEPTH]``."""

    _DEPTH: ClassVar[int]

    def __init__(
        self,
        num_classes: int,
        bn_config: Mapping[str, FloatStrOrBool] | None = None,
        resnet_v2: bool = False,
        logits_config: Mapping[str, Any] | None = None,
        name: str | None = None,
        initial_conv_config: Mapping[str, FloatStrOrBool] | None = None,
        strides: Sequence[int] = (1, 2, 2, 2),
    ):
        super().__init__(
            num_classes=num_classes,
            bn_config=bn_config,
            initial_conv_config=initial_conv_config,
            resnet_v2=resnet_v2,
            strides=strides,
            logits_config=logits_config,
            name=name,
            **ResNet.CONFIGS[self._DEPTH],
        )


class ResNet18(_ResNetDepth):
    """ResNet18: (2, 2, 2, 2) basic blocks, as ``hk.nets.ResNet18``.

    Args:
      num_classes: number of logits.
      bn_config: keyword arguments of every :class:`BatchNorm`.
      resnet_v2: pre-activation (v2) blocks.
      logits_config: keyword arguments of the logits ``Linear``.
      name: the module's name; default ``ResNet18_N``.
      initial_conv_config: keyword arguments of the initial ``Conv2D``.
      strides: stride of each block group.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import init_shapes, transform_with_state, tree_size
      >>> from minihaiku.layers.nets import ResNet18
      >>> f = transform_with_state(lambda x: ResNet18(1000)(x, is_training=True))
      >>> params, state = init_shapes(f, jnp.ones((1, 224, 224, 3)))
      >>> tree_size(params)
      11689512
    """

    _DEPTH = 18


class ResNet34(_ResNetDepth):
    """ResNet34: (3, 4, 6, 3) basic blocks, as ``hk.nets.ResNet34``.

    Args:
      num_classes: number of logits.
      bn_config: keyword arguments of every :class:`BatchNorm`.
      resnet_v2: pre-activation (v2) blocks.
      logits_config: keyword arguments of the logits ``Linear``.
      name: the module's name; default ``ResNet34_N``.
      initial_conv_config: keyword arguments of the initial ``Conv2D``.
      strides: stride of each block group.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import init_shapes, transform_with_state, tree_size
      >>> from minihaiku.layers.nets import ResNet34
      >>> f = transform_with_state(lambda x: ResNet34(1000)(x, is_training=True))
      >>> params, state = init_shapes(f, jnp.ones((1, 224, 224, 3)))
      >>> tree_size(params)
      21797672
    """

    _DEPTH = 34


class ResNet50(_ResNetDepth):
    """ResNet50: (3, 4, 6, 3) bottleneck blocks, as ``hk.nets.ResNet50``.

    Args:
      num_classes: number of logits.
      bn_config: keyword arguments of every :class:`BatchNorm`.
      resnet_v2: pre-activation (v2) blocks.
      logits_config: keyword arguments of the logits ``Linear``.
      name: the module's name; default ``ResNet50_N``.
      initial_conv_config: keyword arguments of the initial ``Conv2D``.
      strides: stride of each block group.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import init_shapes, transform_with_state, tree_size
      >>> from minihaiku.layers.nets import ResNet50
      >>> f = transform_with_state(lambda x: ResNet50(1000)(x, is_training=True))
      >>> params, state = init_shapes(f, jnp.ones((1, 224, 224, 3)))
      >>> tree_size(params)
      25557032
    """

    _DEPTH = 50


class ResNet101(_ResNetDepth):
    """ResNet101: (3, 4, 23, 3) bottleneck blocks, as ``hk.nets.ResNet101``.

    Args:
      num_classes: number of logits.
      bn_config: keyword arguments of every :class:`BatchNorm`.
      resnet_v2: pre-activation (v2) blocks.
      logits_config: keyword arguments of the logits ``Linear``.
      name: the module's name; default ``ResNet101_N``.
      initial_conv_config: keyword arguments of the initial ``Conv2D``.
      strides: stride of each block group.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import init_shapes, transform_with_state, tree_size
      >>> from minihaiku.layers.nets import ResNet101
      >>> f = transform_with_state(lambda x: ResNet101(1000)(x, is_training=True))
      >>> params, state = init_shapes(f, jnp.ones((1, 224, 224, 3)))
      >>> tree_size(params)
      44549160
    """

    _DEPTH = 101


class ResNet152(_ResNetDepth):
    """ResNet152: (3, 8, 36, 3) bottleneck blocks, as ``hk.nets.ResNet152``.

    Args:
      num_classes: number of logits.
      bn_config: keyword arguments of every :class:`BatchNorm`.
      resnet_v2: pre-activation (v2) blocks.
      logits_config: keyword arguments of the logits ``Linear``.
      name: the module's name; default ``ResNet152_N``.
      initial_conv_config: keyword arguments of the initial ``Conv2D``.
      strides: stride of each block group.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import init_shapes, transform_with_state, tree_size
      >>> from minihaiku.layers.nets import ResNet152
      >>> f = transform_with_state(lambda x: ResNet152(1000)(x, is_training=True))
      >>> params, state = init_shapes(f, jnp.ones((1, 224, 224, 3)))
      >>> tree_size(params)
      60192808
    """

    _DEPTH = 152


class ResNet200(_ResNetDepth):
    """ResNet200: (3, 24, 36, 3) bottleneck blocks, as ``hk.nets.ResNet200``.

    Args:
      num_classes: number of logits.
      bn_config: keyword arguments of every :class:`BatchNorm`.
      resnet_v2: pre-activation (v2) blocks.
      logits_config: keyword arguments of the logits ``Linear``.
      name: the module's name; default ``ResNet200_N``.
      initial_conv_config: keyword arguments of the initial ``Conv2D``.
      strides: stride of each block group.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import init_shapes, transform_with_state, tree_size
      >>> from minihaiku.layers.nets import ResNet200
      >>> f = transform_with_state(lambda x: ResNet200(1000)(x, is_training=True))
      >>> params, state = init_shapes(f, jnp.ones((1, 224, 224, 3)))
      >>> tree_size(params)
      64673832
    """

    _DEPTH = 200
