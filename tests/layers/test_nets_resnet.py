"""nets.ResNet: parity with dm-haiku (training and eval outputs, BatchNorm state, gradients)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    init_shapes,
    transform_with_state,
    tree_size,
)
from minihaiku.layers import from_haiku
from minihaiku.layers.nets import ResNet, ResNet18, ResNet34, ResNet50

hk = pytest.importorskip("haiku")

pytestmark = pytest.mark.slow  # long: see tests/conftest.py

X = jax.random.normal(jax.random.key(3), (2, 32, 32, 3))


def perturbed(tree, seed):
    """Random values of the same shapes (zero-initialized logits would make parity trivial).

    Built key by key: tree_map would sort the dict's keys (see from_haiku's docs).
    """
    key = jax.random.key(seed)
    out = {}
    for i, (mod, leaves) in enumerate(tree.items()):
        out[mod] = {}
        for j, (leaf, x) in enumerate(leaves.items()):
            k = jax.random.fold_in(jax.random.fold_in(key, i), j)
            out[mod][leaf] = x + 0.1 * jax.random.normal(k, x.shape, x.dtype)
    return out


def assert_close(a, b, err_msg=""):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=2e-5, err_msg=err_msg)


def assert_flat_close(a, b):
    assert sorted(a) == sorted(b)  # a jitted apply returns its dicts sorted
    for k in a:
        assert_close(a[k], b[k], err_msg=k)


def check_parity(make_hk, make_mh):
    def fn(make):
        return lambda x, is_training: make()(x, is_training)

    hk_f = hk.transform_with_state(fn(make_hk))
    hk_params, hk_state = hk_f.init(jax.random.key(0), X, True)
    hk_params = perturbed(hk_params, 1)
    f = transform_with_state(fn(make_mh))
    params, state = f.init(0, X, True)
    assert tree_size(params) == tree_size(hk_params) and tree_size(state) == tree_size(hk_state)
    params = from_haiku(hk_params, params)
    state = from_haiku(hk_state, state)
    hk_apply = jax.jit(hk_f.apply, static_argnums=4)
    apply = jax.jit(f.apply, static_argnums=3)

    # training: batch statistics, state updated
    hk_out, hk_state1 = hk_apply(hk_params, hk_state, None, X, True)
    out, state1 = apply(params, state, X, True)
    assert_close(out, hk_out)
    # the jitted apply sorted dm-haiku's state dict: order= gives the creation order back
    assert_flat_close(state1, from_haiku(hk_state1, state, order=hk_state))
    # eval: the moving averages after that step
    hk_out, _ = hk_apply(hk_params, hk_state1, None, X, False)
    out, state2 = apply(params, state1, X, False)
    assert_close(out, hk_out)
    assert_flat_close(state2, state1)
    # gradients of a training loss
    hk_g = jax.jit(jax.grad(lambda p: jnp.sum(jnp.sin(hk_f.apply(p, hk_state, None, X, True)[0]))))(
        hk_params
    )
    g = jax.jit(jax.grad(lambda p: jnp.sum(jnp.sin(f.apply(p, state, X, True)[0]))))(params)
    assert_flat_close(g, from_haiku(hk_g, params, order=hk_params))


def test_resnet18_matches_dm_haiku():
    check_parity(lambda: hk.nets.ResNet18(10), lambda: ResNet18(10))


@pytest.mark.parametrize("resnet_v2", [False, True])
def test_small_bottleneck_resnet_matches_dm_haiku(resnet_v2):
    kw = dict(
        blocks_per_group=(1, 2, 1, 1),
        num_classes=5,
        bn_config={"decay_rate": 0.5},
        resnet_v2=resnet_v2,
        bottleneck=True,
        channels_per_group=(8, 16, 16, 32),
        initial_conv_config={"output_channels": 8, "kernel_shape": 3},
    )
    check_parity(lambda: hk.nets.ResNet(**kw), lambda: ResNet(**kw))


def test_resnet18_v2_matches_dm_haiku():
    check_parity(lambda: hk.nets.ResNet18(4, resnet_v2=True), lambda: ResNet18(4, resnet_v2=True))


def test_names_follow_dm_haikus_modules():
    f = transform_with_state(lambda x: ResNet18(10)(x, True))
    params, state = init_shapes(f, X)
    assert "~/ResNet18_0/initial_conv/__call__/w" in params
    assert "~/ResNet18_0/block_group_1/block_0/shortcut_conv/__call__/w" in params
    assert "~/ResNet18_0/block_group_3/block_1/batchnorm_1/__call__/scale" in params
    assert "~/ResNet18_0/logits/__call__/b" in params
    assert "~/ResNet18_0/initial_batchnorm/mean_ema/average" in state
    assert params["~/ResNet18_0/initial_conv/__call__/w"].shape == (7, 7, 3, 64)


@pytest.mark.parametrize(("cls", "size"), [(ResNet34, 21797672), (ResNet50, 25557032)])
def test_deeper_resnets_have_dm_haikus_parameter_count(cls, size):
    f = transform_with_state(lambda x: cls(1000)(x, True))
    params, _ = init_shapes(f, jnp.ones((1, 224, 224, 3)))
    hk_f = hk.transform_with_state(lambda x: getattr(hk.nets, cls.__name__)(1000)(x, True))
    hk_params, _ = jax.eval_shape(hk_f.init, jax.random.key(0), jnp.ones((1, 224, 224, 3)))
    assert tree_size(params) == size == sum(x.size for x in jax.tree_util.tree_leaves(hk_params))


@pytest.mark.parametrize(
    ("kw", "error", "message"),
    [
        (
            {"blocks_per_group": (2, 2, 2)},
            InvalidArgumentError,
            r"ResNet ~/ResNet_0: blocks_per_group must be of length 4 \(one entry per block "
            r"group\), got length 3: \(2, 2, 2\)\.",
        ),
        (
            {"strides": 2},
            InvalidArgumentTypeError,
            r"ResNet ~/ResNet_0: strides must be a sequence of length 4 \(one entry per block "
            r"group\), got int 2\.",
        ),
        (
            {"channels_per_group": (8, 8)},
            InvalidArgumentError,
            r"ResNet ~/ResNet_0: channels_per_group must be of length 4",
        ),
        (
            {"use_projection": (True,) * 5},
            InvalidArgumentError,
            r"ResNet ~/ResNet_0: use_projection must be of length 4",
        ),
    ],
)
def test_resnet_argument_errors(kw, error, message):
    args = {"blocks_per_group": (1, 1, 1, 1), "num_classes": 2, **kw}
    with pytest.raises(error, match=message):
        transform_with_state(lambda: ResNet(**args)).init(0)
