"""Every layer and net of minihaiku.haiku inits bit for bit as dm-haiku's (same key, same names).

One small program per dm-haiku module class and per ``hk.nets`` net; each runs
once with dm-haiku and once with minihaiku.haiku (``run_both``: names, params
and state bit for bit, then two applies with the same outputs and state).
The recurrent cores are in test_recurrent.py.
"""

import jax
import jax.numpy as jnp
import pytest

import minihaiku.haiku as mhk

from ._compare import run_both

haiku = pytest.importorskip("haiku")

K = jax.random.PRNGKey(1)
X2 = jax.random.normal(K, (2, 5))
X3 = jax.random.normal(K, (2, 8, 3))
X4 = jax.random.normal(K, (2, 8, 8, 3))
X5 = jax.random.normal(K, (2, 4, 4, 4, 3))
IMG = jax.random.normal(K, (1, 32, 32, 3))

PROGRAMS = {
    "Linear": lambda hk: hk.Linear(4)(X2),
    "Linear_no_bias": lambda hk: hk.Linear(4, with_bias=False)(X2),
    "ConvND": lambda hk: hk.ConvND(2, 4, 3)(X4),
    "Conv1D": lambda hk: hk.Conv1D(4, 3)(X3),
    "Conv2D": lambda hk: hk.Conv2D(4, (3, 2), stride=2)(X4),
    "Conv3D": lambda hk: hk.Conv3D(4, 3)(X5),
    "ConvNDTranspose": lambda hk: hk.ConvNDTranspose(2, 4, 3)(X4),
    "Conv1DTranspose": lambda hk: hk.Conv1DTranspose(4, 3)(X3),
    "Conv2DTranspose": lambda hk: hk.Conv2DTranspose(4, 3, stride=2)(X4),
    "Conv3DTranspose": lambda hk: hk.Conv3DTranspose(4, 3)(X5),
    "DepthwiseConv1D": lambda hk: hk.DepthwiseConv1D(2, 3)(X3),
    "DepthwiseConv2D": lambda hk: hk.DepthwiseConv2D(2, 3)(X4),
    "DepthwiseConv3D": lambda hk: hk.DepthwiseConv3D(2, 3)(X5),
    "Embed": lambda hk: hk.Embed(10, 4)(jnp.array([1, 2, 9])),
    "Bias": lambda hk: hk.Bias()(X2),
    "LayerNorm": lambda hk: hk.LayerNorm(-1, True, True)(X2),
    "RMSNorm": lambda hk: hk.RMSNorm(-1)(X2),
    "GroupNorm": lambda hk: hk.GroupNorm(1)(X4),
    "InstanceNorm": lambda hk: hk.InstanceNorm(True, True)(X4),
    "BatchNorm": lambda hk: hk.BatchNorm(True, True, 0.9)(X2, is_training=True),
    "MultiHeadAttention": lambda hk: hk.MultiHeadAttention(2, 3, w_init_scale=1.0)(X3, X3, X3),
    "SpectralNorm": lambda hk: hk.SpectralNorm()(jnp.ones((3, 4))),
    "ExponentialMovingAverage": lambda hk: hk.ExponentialMovingAverage(0.9)(X2),
    "EMAParamsTree": lambda hk: hk.EMAParamsTree(0.9)({"m": {"w": X2}}),
    "SNParamsTree": lambda hk: hk.SNParamsTree()({"m": {"w": jnp.ones((3, 4))}}),
    "Sequential": lambda hk: hk.Sequential([hk.Linear(3), jax.nn.relu, hk.Linear(2)])(X2),
    "Flatten_Reshape_pools": lambda hk: hk.Linear(2)(
        hk.Flatten()(hk.MaxPool(2, 2, "VALID")(hk.AvgPool(2, 1, "SAME")(hk.Reshape((8, 8, 3))(X4))))
    ),
    "MLP": lambda hk: hk.nets.MLP([4, 3])(X2),
    "VectorQuantizer": lambda hk: hk.nets.VectorQuantizer(3, 5, 0.25)(X3, is_training=True),
    "VectorQuantizerEMA": lambda hk: hk.nets.VectorQuantizerEMA(3, 5, 0.25, 0.9)(
        X3, is_training=True
    ),
    "ResNet18": lambda hk: hk.nets.ResNet18(10)(IMG, is_training=True),
    "ResNet50": lambda hk: hk.nets.ResNet50(10)(IMG, is_training=True),
    "MobileNetV1": lambda hk: hk.nets.MobileNetV1(num_classes=10)(IMG, is_training=True),
}


@pytest.mark.parametrize(
    "name",
    sorted(PROGRAMS),
)
def test_init_is_dm_haikus_bit_for_bit(name):
    run_both(haiku, mhk, lambda hk: PROGRAMS[name](hk), steps=1)
