"""One hk program, jitted, lowers to the same StableHLO on dm-haiku and on minihaiku.haiku.

Issue 18 item 7: ``jax.jit(apply)`` and ``jax.jit(jax.grad(loss))`` of the MLP,
a pre-LayerNorm transformer block and ResNet18 (small sizes), and of each
layer with a parameter that is added or scaled, give the same StableHLO text
once locations, the module's name and the result-info attributes are taken
out. The params are fed in as the transforms return them (nested dicts, which
JAX flattens in sorted key order), so the arguments come in the same order.
"""

import re

import jax
import jax.numpy as jnp
import pytest

import minihaiku.haiku as mhk
import minihaiku.layers as ml
from minihaiku.core import transform

haiku = pytest.importorskip("haiku")

LOC = re.compile(r" loc\([^()]*(\([^()]*\))*[^()]*\)")


def strip(text):
    """StableHLO text without locations, the module's name and metadata attributes."""
    lines = []
    for line in text.splitlines():
        if line.startswith("#loc") or not line.strip():
            continue
        line = LOC.sub("", line)
        line = re.sub(r"module @\S+", "module @m", line)
        line = re.sub(r" attributes \{mhlo\.[^}]*\}", "", line)
        line = re.sub(r" \{jax\.result_info = [^}]*\}", "", line)
        lines.append(line.rstrip())
    return "\n".join(lines)


def mlp(hk, x, is_training):
    del is_training
    return hk.nets.MLP([16, 16, 4])(x)


def transformer(hk, x, is_training):
    del is_training
    t = x.shape[-2]
    mask = jnp.tril(jnp.ones((1, 1, t, t), bool))
    h = hk.LayerNorm(axis=-1, create_scale=True, create_offset=True)(x)
    attn = hk.MultiHeadAttention(
        num_heads=2, key_size=4, w_init=hk.initializers.VarianceScaling(1.0)
    )
    x = x + attn(h, h, h, mask)
    h = hk.LayerNorm(axis=-1, create_scale=True, create_offset=True)(x)
    return x + hk.nets.MLP([16, 8], activation=jax.nn.gelu)(h)


def resnet18(hk, x, is_training):
    return hk.nets.ResNet18(3)(x, is_training=is_training)


def core(rnn_core):
    """One step of ``rnn_core`` from its initial state (the output)."""
    return lambda x: rnn_core(x, rnn_core.initial_state(x.shape[0]))[0]


def layer(make):
    return lambda hk, x, is_training: make(hk)(x)


MODELS = {
    "mlp": (mlp, (3, 8)),
    "transformer": (transformer, (2, 4, 8)),
    "resnet18": (resnet18, (2, 16, 16, 3)),
    "Linear": (layer(lambda hk: hk.Linear(5)), (2, 3, 4)),
    "Conv2D": (layer(lambda hk: hk.Conv2D(4, 3)), (2, 6, 6, 3)),
    "Conv2D NCHW": (layer(lambda hk: hk.Conv2D(4, 3, data_format="NCHW")), (2, 3, 6, 6)),
    "Conv1D": (layer(lambda hk: hk.Conv1D(4, 3)), (2, 6, 3)),
    "Conv3D": (layer(lambda hk: hk.Conv3D(2, 2)), (2, 3, 3, 3, 2)),
    "Conv2DTranspose": (layer(lambda hk: hk.Conv2DTranspose(4, 3, stride=2)), (2, 5, 5, 3)),
    "DepthwiseConv2D": (layer(lambda hk: hk.DepthwiseConv2D(2, 3)), (2, 6, 6, 3)),
    "Bias": (layer(lambda hk: hk.Bias()), (2, 5)),
    "Bias multiplier": (layer(lambda hk: lambda x: hk.Bias()(x, 2.0)), (2, 5)),
    "MultiHeadAttention": (
        layer(lambda hk: lambda x: hk.MultiHeadAttention(2, 3, w_init_scale=1.0)(x, x, x)),
        (2, 4, 5),
    ),
    "LayerNorm": (layer(lambda hk: hk.LayerNorm(-1, True, True)), (2, 3, 5)),
    "RMSNorm": (layer(lambda hk: hk.RMSNorm(-1)), (2, 3, 5)),
    "GroupNorm": (layer(lambda hk: hk.GroupNorm(2)), (2, 3, 3, 4)),
    "InstanceNorm": (layer(lambda hk: hk.InstanceNorm(True, True)), (2, 3, 3, 4)),
    "BatchNorm": (
        lambda hk, x, is_training: hk.BatchNorm(True, True, 0.9)(x, is_training),
        (2, 3, 3, 4),
    ),
    "Embed": (layer(lambda hk: lambda x: hk.Embed(10, 4)(x.astype(jnp.int32))), (2, 3)),
    "LSTM": (layer(lambda hk: core(hk.LSTM(4))), (2, 3)),
    "GRU": (layer(lambda hk: core(hk.GRU(4))), (2, 3)),
    "VanillaRNN": (layer(lambda hk: core(hk.VanillaRNN(4))), (2, 3)),
    "Conv2DLSTM": (layer(lambda hk: core(hk.Conv2DLSTM((5, 5), 4, 3))), (2, 5, 5, 3)),
    "MobileNetV1": (
        lambda hk, x, is_training: hk.nets.MobileNetV1(num_classes=3)(x, is_training),
        (2, 32, 32, 3),
    ),
    "VectorQuantizer": (
        lambda hk, x, is_training: hk.nets.VectorQuantizer(4, 8, 0.25)(x, is_training)["quantize"],
        (2, 3, 4),
    ),
}


def lowered(hk, model):
    """The stripped StableHLO of ``jit(apply)`` and of ``jit(grad(loss))``."""
    fn, shape = MODELS[model]
    f = hk.without_apply_rng(hk.transform_with_state(lambda x: fn(hk, x, True)))
    x = jax.random.normal(jax.random.PRNGKey(1), shape)
    params, state = f.init(jax.random.PRNGKey(0), x)

    def apply(p, s, x):
        return f.apply(p, s, x)

    def loss(p, s, x):
        out, new_state = f.apply(p, s, x)
        return jnp.mean(jnp.square(out)), new_state

    grad = jax.grad(loss, has_aux=True)
    return (
        strip(jax.jit(apply).lower(params, state, x).as_text()),
        strip(jax.jit(grad).lower(params, state, x).as_text()),
    )


@pytest.mark.parametrize(
    "model",
    list(MODELS),
)
def test_same_stablehlo(model):
    dm_apply, dm_grad = lowered(haiku, model)
    mini_apply, mini_grad = lowered(mhk, model)
    assert (
        "dot_general" in dm_apply
        or "convolution" in dm_apply
        or "Norm" in model
        or (model.startswith(("Bias", "Embed")))
    )
    assert mini_apply == dm_apply
    assert mini_grad == dm_grad


def test_minihaiku_layers_keep_the_hand_written_bias_add():
    """minihaiku.layers' own Linear still adds ``b`` as ``x @ w + b`` (rank promotion)."""
    x = jnp.ones((3, 4))
    f = transform(lambda x: ml.Linear(2)(x))
    params = f.init(0, x)
    text = jax.jit(f.apply).lower(params, x).as_text()

    def by_hand(w, b, x):
        return x @ w + b

    w, b = params["~/Linear_0/__call__/w"], params["~/Linear_0/__call__/b"]
    hand = jax.jit(by_hand).lower(w, b, x).as_text()
    ops = re.compile(r"stablehlo\.\w+")
    assert ops.findall(strip(text)) == ops.findall(strip(hand))
    assert strip(text).count("broadcast_in_dim") == 2
