"""DepthwiseConv1D/2D/3D and SeparableDepthwiseConv2D: parity with dm-haiku, shapes, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku import layers
from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError, param_axes, transform
from minihaiku.layers import from_haiku

hk = pytest.importorskip("haiku")


def rand(*shape, seed=0):
    return jax.random.normal(jax.random.PRNGKey(seed), shape, jnp.float32)


def check_parity(make, x):
    """dm-haiku's params (perturbed) in minihaiku's layout: same shapes, outputs, gradients."""
    hk_f = hk.without_apply_rng(hk.transform(lambda x: make(hk)(x)))
    hk_params = hk_f.init(jax.random.PRNGKey(0), x)
    hk_params = jax.tree_util.tree_map(
        lambda p: p + 0.1 * jnp.cos(jnp.arange(p.size)).reshape(p.shape), hk_params
    )
    f = transform(lambda x: make(layers)(x))
    own = f.init(0, x)
    params = from_haiku(hk_params, own)
    assert {k: v.shape for k, v in own.items()} == {k: v.shape for k, v in params.items()}
    np.testing.assert_allclose(f.apply(params, x), hk_f.apply(hk_params, x), rtol=1e-5, atol=1e-6)
    hk_g = jax.grad(lambda p: jnp.sum(jnp.sin(hk_f.apply(p, x))))(hk_params)
    g = jax.grad(lambda p: jnp.sum(jnp.sin(f.apply(p, x))))(params)
    for k, v in from_haiku(hk_g, own).items():
        np.testing.assert_allclose(g[k], v, rtol=1e-5, atol=1e-5, err_msg=k)
    return params


CASES = {
    "1d": (lambda m: m.DepthwiseConv1D(2, 3), (2, 9, 3)),
    "1d_stride_valid": (lambda m: m.DepthwiseConv1D(1, 4, stride=2, padding="VALID"), (2, 11, 2)),
    "2d": (lambda m: m.DepthwiseConv2D(3, (3, 2)), (2, 7, 6, 2)),
    "2d_rate_pairs": (
        lambda m: m.DepthwiseConv2D(2, 3, rate=2, padding=[(1, 2), (0, 1)], with_bias=False),
        (1, 9, 9, 2),
    ),
    "2d_nchw_stride": (
        lambda m: m.DepthwiseConv2D(2, 3, stride=2, data_format="NCHW"),
        (2, 3, 7, 7),
    ),
    "3d": (lambda m: m.DepthwiseConv3D(2, (1, 2, 3), stride=(1, 2, 1)), (1, 4, 5, 6, 2)),
    "separable": (lambda m: m.SeparableDepthwiseConv2D(2, (3, 2)), (2, 7, 7, 3)),
    "separable_stride_nchw": (
        lambda m: m.SeparableDepthwiseConv2D(1, 3, stride=2, data_format="NCHW"),
        (2, 2, 7, 7),
    ),
    "separable_valid_no_bias": (
        lambda m: m.SeparableDepthwiseConv2D(3, (2, 3), padding="VALID", with_bias=False),
        (1, 6, 6, 2),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_matches_dm_haiku(case):
    make, shape = CASES[case]
    check_parity(make, rand(*shape))


def test_param_names_and_shapes():
    x = jnp.ones((2, 5, 5, 3))
    params = transform(lambda x: layers.DepthwiseConv2D(2, 3, data_format="NHWC")(x)).init(0, x)
    assert {k: v.shape for k, v in params.items()} == {
        "~/DepthwiseConv2D_0/__call__/w": (3, 3, 1, 6),
        "~/DepthwiseConv2D_0/__call__/b": (6,),
    }
    x = jnp.ones((2, 3, 5, 5, 5))
    f = transform(lambda x: layers.DepthwiseConv3D(2, 3, data_format="NCDHW")(x))
    params = f.init(0, x)
    # dm-haiku's 3-D channels-first bias is (6, 1, 1) and fails to broadcast; ours works
    assert params["~/DepthwiseConv3D_0/__call__/b"].shape == (6, 1, 1, 1)
    assert f.apply(params, x).shape == (2, 6, 5, 5, 5)


def test_default_w_init_is_truncated_normal_over_the_kernel_size():
    x = jnp.ones((1, 4, 4, 1000))
    w = transform(lambda x: layers.DepthwiseConv2D(1, 5)(x)).init(0, x)[
        "~/DepthwiseConv2D_0/__call__/w"
    ]
    # truncated normal at stddev 1 / sqrt(25): |w| <= 2 / 5, std ~= 0.88 / 5
    assert float(jnp.abs(w).max()) <= 0.4
    assert abs(float(w.std()) - 0.8796 / 5) < 0.005


def test_unbatched_input_and_padding_function():
    x = rand(7, 6, 2)
    f = transform(lambda x: layers.DepthwiseConv2D(2, 3, padding=layers.pad.full)(x))
    params = f.init(0, x)
    batched = f.apply(params, x[None])
    np.testing.assert_allclose(f.apply(params, x), batched[0], rtol=1e-6)
    assert batched.shape == (1, 9, 8, 4)


def test_errors():
    with pytest.raises(InvalidArgumentError, match=r"DepthwiseConv2D_0 needs an input of rank 3"):
        transform(lambda x: layers.DepthwiseConv2D(1, 3)(x)).init(0, jnp.ones((4, 4)))
    with pytest.raises(InvalidArgumentError, match="channel_multiplier"):
        transform(lambda x: layers.DepthwiseConv2D(0, 3)(x)).init(0, jnp.ones((1, 4, 4, 1)))
    with pytest.raises(InvalidArgumentTypeError, match="kernel_shape"):
        transform(lambda x: layers.DepthwiseConv2D(1, (1, 2, 3))(x)).init(0, jnp.ones((1, 4, 4, 1)))
    with pytest.raises(InvalidArgumentError, match="unknown padding 'FULL'"):
        transform(lambda x: layers.DepthwiseConv1D(1, 3, padding="FULL")(x)).init(
            0, jnp.ones((1, 4, 1))
        )
    with pytest.raises(InvalidArgumentError, match="unknown data_format 'HWNC'"):
        transform(lambda x: layers.SeparableDepthwiseConv2D(1, 3, data_format="HWNC")(x)).init(
            0, jnp.ones((1, 4, 4, 1))
        )
    with pytest.raises(ValueError):  # the built-in type a dm-haiku user catches
        transform(lambda x: layers.DepthwiseConv2D(1, 3)(x)).init(0, jnp.ones((4, 4)))


def test_sharding_annotations_name_the_output_channels():
    x = jnp.ones((1, 5, 5, 3))
    f = transform(lambda x: layers.DepthwiseConv2D(2, 3)(x))
    assert param_axes(f, x) == {
        "~/DepthwiseConv2D_0/__call__/w": (None, None, None, "conv_out"),
        "~/DepthwiseConv2D_0/__call__/b": ("conv_out",),
    }
    g = transform(lambda x: layers.DepthwiseConv2D(2, 3, axes=None)(x))
    assert param_axes(g, x) == {
        "~/DepthwiseConv2D_0/__call__/w": None,
        "~/DepthwiseConv2D_0/__call__/b": None,
    }
