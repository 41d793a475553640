"""The layers, nets and functions wired in for issue 18 against dm-haiku: names, values, outputs."""

import jax
import jax.numpy as jnp
import pytest

import minihaiku.haiku as mhk

from ._compare import run_both

haiku = pytest.importorskip("haiku")

X1 = jax.random.normal(jax.random.PRNGKey(1), (2, 8, 3))
X2 = jax.random.normal(jax.random.PRNGKey(1), (2, 8, 8, 3))
X3 = jax.random.normal(jax.random.PRNGKey(1), (2, 4, 4, 4, 3))


def _conv_lstm(n, shape):
    def program(hk, x):
        core = getattr(hk, f"Conv{n}DLSTM")(shape, 4, 3)
        out, state = core(x, core.initial_state(2))
        return out, state.hidden, state.cell

    return program


PROGRAMS = {
    "Bias": (lambda hk, x: hk.Bias()(x), X2),
    "Bias_dims": (lambda hk, x: hk.Bias(bias_dims=[-1], b_init=jnp.ones)(x), X2),
    "DepthwiseConv1D": (lambda hk, x: hk.DepthwiseConv1D(2, 3)(x), X1),
    "DepthwiseConv2D": (lambda hk, x: hk.DepthwiseConv2D(2, 3, stride=2)(x), X2),
    "DepthwiseConv3D": (lambda hk, x: hk.DepthwiseConv3D(1, 2)(x), X3),
    "DepthwiseConv2D_inits": (
        lambda hk, x: hk.DepthwiseConv2D(
            1, 3, w_init=hk.initializers.RandomNormal(0.5), b_init=hk.initializers.Constant(0.3)
        )(x),
        X2,
    ),
    "InstanceNorm": (lambda hk, x: hk.InstanceNorm(True, True)(x), X2),
    "Conv1DLSTM": (_conv_lstm(1, (8,)), X1),
    "Conv2DLSTM": (_conv_lstm(2, (8, 8)), X2),
    "Deferred": (lambda hk, x: hk.Deferred(lambda: hk.Linear(3))(x), X1),
    "EMAParamsTree": (lambda hk, x: hk.EMAParamsTree(0.9)({"a": {"w": x}}), X1),
    "SNParamsTree": (lambda hk, x: hk.SNParamsTree()({"a": {"w": x[0]}}), X1),
    "expand_apply": (lambda hk, x: hk.expand_apply(lambda y: hk.Linear(2)(y))(x[0, 0]), X1),
    "one_hot": (lambda hk, x: hk.one_hot(jnp.array([1, 2]), 4), X1),
    "multinomial": (lambda hk, x: hk.multinomial(hk.next_rng_key(), x[0], 3), X1),
    "causal_pad": (lambda hk, x: hk.Conv1D(2, 3, padding=hk.pad.causal)(x), X1),
    "ResNet18": (lambda hk, x: hk.nets.ResNet18(10)(x, is_training=True), X2),
    "MobileNetV1": (lambda hk, x: hk.nets.MobileNetV1(num_classes=5)(x, is_training=True), X2),
    "VectorQuantizer": (
        lambda hk, x: hk.nets.VectorQuantizer(3, 6, 0.25)(x, is_training=True),
        X1,
    ),
    "VectorQuantizerEMA": (
        lambda hk, x: hk.nets.VectorQuantizerEMA(3, 6, 0.25, 0.9)(x, is_training=True),
        X1,
    ),
}


@pytest.mark.parametrize(
    "name",
    sorted(PROGRAMS),
)
def test_matches_dm_haiku(name):
    program, x = PROGRAMS[name]
    run_both(haiku, mhk, program, x)


def test_get_channel_index_matches():
    for fmt in ("NHWC", "NCHW", "NWC", "NCW", "channels_last", "channels_first"):
        assert mhk.get_channel_index(fmt) == haiku.get_channel_index(fmt)


def test_pad_functions_match():
    for name in ("causal", "full", "reverse_causal", "same", "valid"):
        for k in (1, 2, 5):
            assert getattr(mhk.pad, name)(k) == getattr(haiku.pad, name)(k)
    assert mhk.pad.create(mhk.pad.same, 3, 2, 2) == tuple(haiku.pad.create(haiku.pad.same, 3, 2, 2))
