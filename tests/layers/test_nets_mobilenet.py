"""nets.MobileNetV1: parity with dm-haiku (training and eval outputs, BatchNorm state), errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import InvalidArgumentError, init_shapes, transform_with_state, tree_size
from minihaiku.layers import from_haiku
from minihaiku.layers.nets import MobileNetV1

hk = pytest.importorskip("haiku")

pytestmark = pytest.mark.slow  # long: see tests/conftest.py

X = jax.random.normal(jax.random.key(3), (2, 16, 16, 3))
SMALL = {"strides": (1, 2, 2), "channels": (8, 16, 16), "num_classes": 5}


def perturbed(tree, seed):
    """Random values of the same shapes, built key by key (keeps the creation order)."""
    key = jax.random.key(seed)
    out = {}
    for i, (mod, leaves) in enumerate(tree.items()):
        out[mod] = {}
        for j, (leaf, x) in enumerate(leaves.items()):
            k = jax.random.fold_in(jax.random.fold_in(key, i), j)
            out[mod][leaf] = x + 0.1 * jax.random.normal(k, x.shape, x.dtype)
    return out


def close(a, b, err_msg=""):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=2e-5, err_msg=err_msg)


@pytest.mark.parametrize("use_bn", [True, False])
def test_matches_dm_haiku(use_bn):
    def fn(make):
        return lambda x, is_training: make(**SMALL, use_bn=use_bn)(x, is_training)

    hk_f = hk.transform_with_state(fn(hk.nets.MobileNetV1))
    hk_params, hk_state = hk_f.init(jax.random.key(0), X, True)
    hk_params = perturbed(hk_params, 1)
    f = transform_with_state(fn(MobileNetV1))
    params, state = f.init(0, X, True)
    assert tree_size(params) == tree_size(hk_params) and tree_size(state) == tree_size(hk_state)
    params, state = from_haiku(hk_params, params), from_haiku(hk_state, state)
    # training: batch statistics, then eval on the moving averages after that step
    hk_out, hk_state1 = hk_f.apply(hk_params, hk_state, None, X, True)
    out, state1 = f.apply(params, state, X, True)
    close(out, hk_out)
    expected = from_haiku(hk_state1, state)
    for k in state1:
        close(state1[k], expected[k], err_msg=k)
    hk_out, _ = hk_f.apply(hk_params, hk_state1, None, X, False)
    out, _ = f.apply(params, state1, X, False)
    close(out, hk_out)


def test_default_network_has_dm_haikus_parameter_count():
    x = jnp.ones((1, 224, 224, 3))
    f = transform_with_state(lambda x: MobileNetV1()(x, True))
    params, state = init_shapes(f, x)
    hk_f = hk.transform_with_state(lambda x: hk.nets.MobileNetV1()(x, True))
    hk_params, hk_state = jax.eval_shape(hk_f.init, jax.random.key(0), x)
    assert tree_size(params) == sum(v.size for v in jax.tree_util.tree_leaves(hk_params))
    assert tree_size(state) == sum(v.size for v in jax.tree_util.tree_leaves(hk_state))


def test_names():
    f = transform_with_state(lambda x: MobileNetV1(**SMALL)(x, True))
    params, _ = init_shapes(f, X)
    assert (
        "~/MobileNetV1_0/__call__/MobileNetV1Block_2/__call__/pointwise_conv/__call__/w" in params
    )
    assert params["~/MobileNetV1_0/__call__/logits/__call__/w"].shape == (16, 5)


def test_strides_and_channels_must_pair():
    f = transform_with_state(lambda x: MobileNetV1((1, 2), (8,))(x, True))
    with pytest.raises(InvalidArgumentError, match=r"MobileNetV1_0: strides and channels"):
        f.init(0, X)
