"""Every layer on a batch of zero examples (and zero-length sequences).

Each gives an empty output, or a clear error.
"""

import jax
import jax.numpy as jnp
import pytest

import minihaiku.layers as L
from minihaiku.core import InvalidArgumentError, transform, transform_with_state
from minihaiku.initializers import variance_scaling
from minihaiku.layers import nets


def _mha(x):
    return L.MultiHeadAttention(2, 3, w_init=variance_scaling(1.0))(x, x, x)


def _step(make):
    def fn(x):
        core = make()
        return core(x, core.initial_state(x.shape[0]))

    return fn


def _unroll(unroll, make, batch):
    def fn(xs):
        core = make()
        return unroll(core, xs, core.initial_state(batch))

    return fn


LSTM_STATE = L.LSTMState((0, 3), (0, 3))

# name -> (fn of x, input shape, the outputs' shapes)
CASES = {
    "MultiHeadAttention": (_mha, (0, 4, 5), (0, 4, 6)),
    "MultiHeadAttention T=0": (_mha, (2, 0, 5), (2, 0, 6)),
    "Linear": (lambda x: L.Linear(3)(x), (0, 5), (0, 3)),
    "MLP": (lambda x: L.MLP([3, 2])(x), (0, 5), (0, 2)),
    "Conv1D": (lambda x: L.Conv1D(3, 3)(x), (0, 7, 2), (0, 7, 3)),
    "Conv2D": (lambda x: L.Conv2D(3, 3)(x), (0, 7, 7, 2), (0, 7, 7, 3)),
    "Conv3D": (lambda x: L.Conv3D(3, 3)(x), (0, 4, 4, 4, 2), (0, 4, 4, 4, 3)),
    "Conv1DTranspose": (lambda x: L.Conv1DTranspose(3, 3, stride=2)(x), (0, 7, 2), (0, 14, 3)),
    "Conv2DTranspose": (lambda x: L.Conv2DTranspose(3, 3)(x), (0, 7, 7, 2), (0, 7, 7, 3)),
    "Conv3DTranspose": (
        lambda x: L.Conv3DTranspose(3, 3)(x),
        (0, 4, 4, 4, 2),
        (0, 4, 4, 4, 3),
    ),
    "LayerNorm": (lambda x: L.LayerNorm(-1, True, True)(x), (0, 5), (0, 5)),
    "RMSNorm": (lambda x: L.RMSNorm(-1)(x), (0, 5), (0, 5)),
    "GroupNorm": (lambda x: L.GroupNorm(2)(x), (0, 4, 4), (0, 4, 4)),
    "max_pool": (lambda x: L.max_pool(x, 2, 2, "VALID"), (0, 4, 4, 2), (0, 2, 2, 2)),
    "avg_pool": (lambda x: L.avg_pool(x, 2, 2, "SAME"), (0, 4, 4, 2), (0, 2, 2, 2)),
    "MaxPool": (lambda x: L.MaxPool(2, 2, "VALID")(x), (0, 4, 4, 2), (0, 2, 2, 2)),
    "AvgPool": (lambda x: L.AvgPool((1, 2, 2, 1), 2, "VALID")(x), (0, 4, 4, 2), (0, 2, 2, 2)),
    "Embed": (lambda x: L.Embed(10, 4)(x.astype(jnp.int32)), (0, 3), (0, 3, 4)),
    "Flatten": (lambda x: L.Flatten()(x), (0, 3, 4), (0, 12)),
    "Reshape": (lambda x: L.Reshape((2, 2))(x), (0, 4), (0, 2, 2)),
    "Sequential": (lambda x: L.Sequential([L.Linear(2)])(x), (0, 4), (0, 2)),
    "BatchApply": (lambda x: L.BatchApply(L.Linear(2))(x), (0, 3, 4), (0, 3, 2)),
    "dropout": (lambda x: L.dropout(jax.random.key(0), 0.5, x), (0, 4), (0, 4)),
    "LSTM": (_step(lambda: L.LSTM(3)), (0, 4), ((0, 3), LSTM_STATE)),
    "GRU": (_step(lambda: L.GRU(3)), (0, 4), ((0, 3), (0, 3))),
    "VanillaRNN": (_step(lambda: L.VanillaRNN(3)), (0, 4), ((0, 3), (0, 3))),
    "DeepRNN": (
        _step(lambda: L.DeepRNN([L.LSTM(3), L.GRU(2)])),
        (0, 4),
        ((0, 2), (LSTM_STATE, (0, 2))),
    ),
    "static_unroll B=0": (
        _unroll(L.static_unroll, lambda: L.LSTM(3), 0),
        (5, 0, 4),
        ((5, 0, 3), LSTM_STATE),
    ),
    "dynamic_unroll B=0": (
        _unroll(L.dynamic_unroll, lambda: L.LSTM(3), 0),
        (5, 0, 4),
        ((5, 0, 3), LSTM_STATE),
    ),
    "static_unroll T=0": (
        _unroll(L.static_unroll, lambda: L.GRU(3), 2),
        (0, 2, 4),
        ((0, 2, 3), (2, 3)),
    ),
    "dynamic_unroll T=0": (
        _unroll(L.dynamic_unroll, lambda: L.GRU(3), 2),
        (0, 2, 4),
        ((0, 2, 3), (2, 3)),
    ),
    "VectorQuantizer": (
        lambda x: nets.VectorQuantizer(4, 8, 0.25)(x, is_training=True)["quantize"],
        (0, 4),
        (0, 4),
    ),
}

# stateful: name -> (fn of x, input shape, the outputs' shapes)
STATEFUL = {
    "BatchNorm is_training=False": (
        lambda x: L.BatchNorm(True, True, 0.9)(x, is_training=x.shape[0] > 0),
        (0, 5),
        (0, 5),
    ),
    "BatchNorm test_local_stats": (
        lambda x: L.BatchNorm(True, True, 0.9)(
            x, is_training=x.shape[0] > 0, test_local_stats=True
        ),
        (0, 5),
        (0, 5),
    ),
    "ResNet18 is_training=False": (
        lambda x: nets.ResNet18(10)(x, is_training=x.shape[0] > 0),
        (0, 32, 32, 3),
        (0, 10),
    ),
    "VectorQuantizerEMA is_training=False": (
        lambda x: nets.VectorQuantizerEMA(4, 8, 0.25, 0.9)(x, is_training=x.shape[0] > 0)[
            "quantize"
        ],
        (0, 4),
        (0, 4),
    ),
    "SpectralNorm": (lambda x: L.SpectralNorm()(x), (0, 4), (0, 4)),
    "ExponentialMovingAverage": (lambda x: L.ExponentialMovingAverage(0.9)(x), (0, 4), (0, 4)),
}


def shapes(tree):
    return jax.tree_util.tree_map(jnp.shape, tree)


def expected_shapes(tree):
    return jax.tree_util.tree_map(lambda s: s, tree, is_leaf=lambda s: isinstance(s, tuple))


@pytest.mark.parametrize("name", [*CASES, *STATEFUL])
def test_an_empty_batch_gives_an_empty_output(name):
    stateful = name in STATEFUL
    fn, shape, expected = (STATEFUL if stateful else CASES)[name]
    x = jnp.ones(shape)
    if stateful:
        # the moving averages need an init on one example; then apply on none
        f = transform_with_state(fn)
        one = "is_training" in name or "local" in name
        params, state = f.init(0, jnp.ones((1, *shape[1:])) if one else x)
        out, _ = f.apply(params, state, x)
    else:
        f = transform(fn)
        out = f.apply(f.init(0, x), x)
    assert shapes(out) == expected_shapes(expected)


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (
            lambda x: L.BatchNorm(True, True, 0.9)(x, is_training=True),
            r"^BatchNorm ~/BatchNorm_0: is_training=True on an input of shape \(0, 5\) with "
            r"no elements to average over axes \(0,\): the batch statistics would be NaN "
            r"and turn the moving averages into NaN\. Skip empty batches, or call with "
            r"is_training=False\.$",
        ),
        (
            lambda x: nets.VectorQuantizerEMA(5, 4, 0.25, 0.9)(x, is_training=True),
            r"^VectorQuantizerEMA ~/VectorQuantizerEMA_0: is_training=True on inputs of "
            r"shape \(0, 5\) with no vectors: the codebook update would divide by zero counts "
            r"\(NaN codes from the first step on\)\. Skip empty batches, or call with "
            r"is_training=False\.$",
        ),
    ],
)
def test_training_on_an_empty_batch_is_refused_where_it_would_poison_the_state(fn, message):
    with pytest.raises(InvalidArgumentError, match=message):
        transform_with_state(fn).init(0, jnp.ones((0, 5)))
