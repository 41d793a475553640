"""minihaiku.layers.nets: whole networks and network parts, as dm-haiku's ``hk.nets``.

Examples:
  >>> import jax.numpy as jnp
  >>> from minihaiku.core import transform
  >>> from minihaiku.layers.nets import VectorQuantizer
  >>> f = transform(lambda x: VectorQuantizer(2, 8, 0.25)(x, is_training=False)["loss"])
  >>> f.apply(f.init(0, jnp.ones((3, 2))), jnp.ones((3, 2))).shape
  ()
"""

from minihaiku.layers._mlp import MLP
from minihaiku.layers.nets._mobilenet import MobileNetV1
from minihaiku.layers.nets._resnet import (
    ResNet,
    ResNet18,
    ResNet34,
    ResNet50,
    ResNet101,
    ResNet152,
    ResNet200,
)
from minihaiku.layers.nets._resnet_blocks import BlockGroup, BlockV1, BlockV2
from minihaiku.layers.nets._vqvae import VectorQuantizer
from minihaiku.layers.nets._vqvae_ema import VectorQuantizerEMA

__all__ = [
    "BlockGroup",
    "BlockV1",
    "BlockV2",
    "ResNet",
    "ResNet18",
    "ResNet34",
    "ResNet50",
    "ResNet101",
    "ResNet152",
    "ResNet200",
    "VectorQuantizer",
    "VectorQuantizerEMA",
    "MLP",
    "MobileNetV1",
]
