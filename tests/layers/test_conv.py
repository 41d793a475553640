"""Convolutions: parity with dm-haiku (outputs and gradients), defaults, errors, lowering."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from minihaiku import layers
from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError, transform

hk = pytest.importorskip("haiku")


def rand(*shape, seed=0):
    return jax.random.normal(jax.random.PRNGKey(seed), shape, jnp.float32)


def to_minihaiku(hk_params, prefix):
    """dm-haiku's ``{module: {leaf: value}}`` (one module) as minihaiku's flat params."""
    ((_, leaves),) = hk_params.items()
    return {f"{prefix}/{leaf}": value for leaf, value in leaves.items()}


def check_parity(make, x, prefix):
    """Same params in both libraries: same names and shapes, outputs, and gradients."""
    hk_f = hk.without_apply_rng(hk.transform(lambda x: make(hk)(x)))
    hk_params = hk_f.init(jax.random.PRNGKey(0), x)
    mh_f = transform(lambda x: make(layers)(x))
    own = mh_f.init(0, x)
    params = to_minihaiku(hk_params, prefix)
    assert {k: (v.shape, v.dtype) for k, v in own.items()} == {
        k: (v.shape, v.dtype) for k, v in params.items()
    }
    np.testing.assert_allclose(
        mh_f.apply(params, x), hk_f.apply(hk_params, x), rtol=1e-5, atol=1e-6
    )

    def loss(apply):
        return lambda p, x: jnp.sum(jnp.sin(apply(p, x)))

    # jitted: one compilation instead of one per operation keeps the test quick
    hk_gp, hk_gx = jax.jit(jax.grad(loss(hk_f.apply), argnums=(0, 1)))(hk_params, x)
    mh_gp, mh_gx = jax.jit(jax.grad(loss(mh_f.apply), argnums=(0, 1)))(params, x)
    np.testing.assert_allclose(mh_gx, hk_gx, rtol=1e-5, atol=1e-5)
    for k, v in to_minihaiku(hk_gp, prefix).items():
        np.testing.assert_allclose(mh_gp[k], v, rtol=1e-5, atol=1e-5, err_msg=k)


MASK = np.random.RandomState(0).rand(3, 3, 4, 5) > 0.5

CONV_CASES = {
    "1d": (lambda m: m.Conv1D(3, 3), (2, 9, 4)),
    "1d_ncw_stride_valid": (
        lambda m: m.Conv1D(4, 5, stride=2, padding="VALID", data_format="NCW"),
        (2, 3, 11),
    ),
    "1d_causal_rate": (lambda m: m.Conv1D(2, 3, rate=2, padding=m.pad.causal), (1, 10, 3)),
    "1d_unbatched": (lambda m: m.Conv1D(3, 2), (7, 2)),
    "2d_strides": (lambda m: m.Conv2D(5, (3, 2), stride=(2, 1)), (2, 9, 8, 3)),
    "2d_rate_pairs": (lambda m: m.Conv2D(4, 3, rate=2, padding=[(1, 2), (0, 1)]), (2, 9, 9, 2)),
    "2d_one_pair": (lambda m: m.Conv2D(4, 3, padding=(2, 0)), (1, 6, 6, 2)),
    "2d_groups_nchw": (
        lambda m: m.Conv2D(6, 3, feature_group_count=2, data_format="NCHW"),
        (2, 4, 7, 7),
    ),
    "2d_no_bias_padfns": (
        lambda m: m.Conv2D(4, 3, with_bias=False, padding=(m.pad.full, m.pad.reverse_causal)),
        (2, 6, 6, 3),
    ),
    "2d_mask": (lambda m: m.Conv2D(5, 3, mask=MASK), (2, 6, 6, 4)),
    "2d_unbatched_nchw": (lambda m: m.Conv2D(3, 3, data_format="NCHW"), (2, 6, 5)),
    "2d_valid_lowercase": (lambda m: m.Conv2D(3, 3, padding="valid"), (1, 6, 6, 2)),
    "2d_channels_first_word": (
        lambda m: m.Conv2D(3, 2, stride=2, data_format="channels_first"),
        (1, 2, 6, 6),
    ),
    "3d_stride": (lambda m: m.Conv3D(2, (1, 2, 3), stride=2), (2, 5, 6, 7, 3)),
    "3d_ncdhw_groups": (
        lambda m: m.Conv3D(4, 2, data_format="NCDHW", feature_group_count=2),
        (1, 2, 4, 4, 4),
    ),
    "nd": (lambda m: m.ConvND(2, 3, 3, stride=2), (2, 7, 7, 2)),
}


@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv_matches_dm_haiku(case):
    make, shape = CONV_CASES[case]
    name = {"1": "Conv1D", "2": "Conv2D", "3": "Conv3D", "n": "ConvND"}[case[0]]
    check_parity(make, rand(*shape), f"~/{name}_0/__call__")


T_MASK = np.random.RandomState(1).rand(3, 3, 4, 2) > 0.5

TRANSPOSE_CASES = {
    "1d": (lambda m: m.Conv1DTranspose(3, 4, stride=2), (2, 5, 2)),
    "1d_output_shape": (lambda m: m.Conv1DTranspose(2, 4, stride=2, output_shape=9), (1, 5, 3)),
    "2d_valid_nchw": (
        lambda m: m.Conv2DTranspose(4, 3, stride=2, padding="VALID", data_format="NCHW"),
        (2, 3, 5, 4),
    ),
    "2d_same_output_shape": (
        lambda m: m.Conv2DTranspose(4, 3, stride=2, output_shape=(9, 10)),
        (2, 5, 5, 3),
    ),
    "2d_valid_output_shape": (
        lambda m: m.Conv2DTranspose(2, 3, stride=2, output_shape=12, padding="VALID"),
        (1, 5, 5, 3),
    ),
    "2d_pairs": (lambda m: m.Conv2DTranspose(3, 3, padding=[(1, 1), (2, 0)]), (1, 5, 6, 2)),
    "2d_mask_no_bias": (
        lambda m: m.Conv2DTranspose(4, 3, with_bias=False, mask=T_MASK),
        (2, 5, 5, 2),
    ),
    "3d_unbatched": (lambda m: m.Conv3DTranspose(2, 2, stride=2), (3, 3, 3, 2)),
    "3d_ncdhw": (lambda m: m.Conv3DTranspose(2, (1, 2, 3), data_format="NCDHW"), (1, 2, 3, 4, 4)),
    "nd": (lambda m: m.ConvNDTranspose(2, 3, 3, stride=(1, 2)), (2, 4, 4, 2)),
}


@pytest.mark.parametrize("case", list(TRANSPOSE_CASES))
def test_conv_transpose_matches_dm_haiku(case):
    make, shape = TRANSPOSE_CASES[case]
    name = {"1": "Conv1DTranspose", "2": "Conv2DTranspose", "3": "Conv3DTranspose"}.get(
        case[0], "ConvNDTranspose"
    )
    check_parity(make, rand(*shape), f"~/{name}_0/__call__")


def test_conv_precision_is_passed_to_lax():
    f = transform(lambda x: layers.Conv2D(2, 3)(x, precision=lax.Precision.HIGHEST))
    x = rand(1, 4, 4, 2)
    jaxpr = jax.make_jaxpr(f.apply)(f.init(0, x), x)
    (conv,) = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "conv_general_dilated"]
    assert conv.params["precision"] == (lax.Precision.HIGHEST, lax.Precision.HIGHEST)


@pytest.mark.parametrize(
    ("make", "fan_in"),
    [
        (lambda m: m.Conv2D(64, 5), 5 * 5 * 16),
        (lambda m: m.Conv2D(64, 5, feature_group_count=4), 5 * 5 * 4),
        (lambda m: m.Conv2DTranspose(64, 5), 5 * 5 * 16),
    ],
)
def test_default_inits_have_dm_haikus_distribution(make, fan_in):
    # dm-haiku: TruncatedNormal(stddev=1/sqrt(fan_in)) on [-2, 2] stddevs, i.e. an
    # actual stddev of 0.8796/sqrt(fan_in); the bias is zero.
    x = jnp.ones((1, 8, 8, 16))
    params = transform(lambda x: make(layers)(x)).init(0, x)
    ((wk, w), (bk, b)) = sorted(params.items(), key=lambda kv: kv[0][-1] != "w")
    hk_w = hk.transform(lambda x: make(hk)(x)).init(jax.random.PRNGKey(0), x)
    hk_w = next(iter(hk_w.values()))["w"]
    assert w.shape == hk_w.shape
    scale = 1.0 / np.sqrt(fan_in)
    assert np.abs(w).max() <= 2 * scale + 1e-6
    assert abs(np.std(w) / scale - 0.8796) < 0.02
    assert abs(np.std(w) / np.std(hk_w) - 1.0) < 0.03
    np.testing.assert_array_equal(b, np.zeros_like(b))


def test_params_take_the_input_dtype_and_named_inits_work():
    f = transform(lambda x: layers.Conv1D(2, 3, w_init="ones", b_init="ones")(x))
    params = f.init(0, jnp.ones((1, 4, 2), jnp.bfloat16))
    assert {v.dtype for v in params.values()} == {jnp.dtype(jnp.bfloat16)}
    out = f.apply(params, jnp.ones((1, 4, 2), jnp.bfloat16))
    # SAME padding of a width-3 kernel: the edges see 2 of 3 taps, 2 channels each.
    np.testing.assert_array_equal(out[0, :, 0].astype(np.float32), [5, 7, 7, 5])


def test_jitted_conv_apply_lowers_to_the_hand_written_lax_calls():
    def net(x):
        x = layers.Conv2D(4, 3, stride=2)(x)
        return layers.Conv2DTranspose(2, 3, stride=2, padding="VALID")(jax.nn.relu(x))

    def hand(p, x):
        dn = lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
        c = "~/Conv2D_0/__call__/"
        x = (
            lax.conv_general_dilated(x, p[c + "w"], (2, 2), "SAME", (1, 1), (1, 1), dn, 1)
            + p[c + "b"]
        )
        t = "~/Conv2DTranspose_0/__call__/"
        dn_t = lax.ConvDimensionNumbers((0, 3, 1, 2), (2, 3, 0, 1), (0, 3, 1, 2))
        x = lax.conv_transpose(jax.nn.relu(x), p[t + "w"], (2, 2), "VALID", dimension_numbers=dn_t)
        return x + p[t + "b"]

    x = rand(2, 8, 8, 3)
    f = transform(net)
    params = f.init(0, x)
    np.testing.assert_allclose(f.apply(params, x), hand(params, x), rtol=1e-6)
    body = lambda t: [ln.split("=", 1)[-1].strip() for ln in t.splitlines() if "stablehlo." in ln]
    ours = body(jax.jit(f.apply).lower(params, x).as_text())
    theirs = body(jax.jit(hand).lower(params, x).as_text())
    assert ours == theirs
    assert sum("stablehlo.convolution" in line for line in ours) == 2


def error(make, x=None, kind=InvalidArgumentError):
    x = jnp.ones((1, 6, 6, 4)) if x is None else x
    with pytest.raises(kind) as e:
        transform(lambda x: make()(x)).init(0, x)
    return str(e.value)


def test_kernel_stride_and_rate_lengths_must_match_the_rank():
    msg = error(lambda: layers.Conv2D(2, (3, 3, 3)), kind=InvalidArgumentTypeError)
    assert msg == (
        "Conv2D ~/Conv2D_0: kernel_shape must be an int or a sequence of length 1 or 2 "
        "(one per spatial dimension), got (3, 3, 3) of length 3. Pass e.g. "
        "kernel_shape=(3, 3)."
    )
    msg = error(lambda: layers.Conv1D(2, 3, stride=(1, 2)), kind=InvalidArgumentTypeError)
    assert msg.startswith(
        "Conv1D ~/Conv1D_0: stride must be an int or a sequence of length 1 or 1 "
    )
    msg = error(lambda: layers.Conv3DTranspose(2, 3, stride=[2, 2]), kind=InvalidArgumentTypeError)
    assert msg.startswith(
        "Conv3DTranspose ~/Conv3DTranspose_0: stride must be an int or a sequence of length "
        "1 or 3 (one per spatial dimension), got [2, 2] of length 2."
    )
    assert error(lambda: layers.Conv2D(2, 3, rate=0)) == (
        "Conv2D ~/Conv2D_0: rate must be a positive int, got int 0."
    )
    assert error(lambda: layers.ConvND(0, 2, 3)) == (
        "ConvND ~/ConvND_0: num_spatial_dims must be a positive int, got int 0."
    )
    assert error(lambda: layers.Conv2D(0, 3)) == (
        "Conv2D ~/Conv2D_0: output_channels must be a positive int, got 0. A layer needs "
        "at least one output unit."
    )


@pytest.mark.parametrize("cls", [layers.Conv2D, layers.Conv2DTranspose])
def test_unknown_data_format(cls):
    msg = error(lambda: cls(2, 3, data_format="NHCW"))
    name = cls.__name__
    assert msg == (
        f"{name} ~/{name}_0: unknown data_format 'NHCW'. Pass a channels-last format such "
        "as 'NHWC' (or 'channels_last') or a channels-first one such as 'NCHW' (or "
        "'channels_first')."
    )


def test_unknown_padding_strings_and_bad_paddings():
    assert error(lambda: layers.Conv2D(2, 3, padding="SMAE")) == (
        "Conv2D ~/Conv2D_0: unknown padding 'SMAE'. Pass 'SAME' or 'VALID', a sequence of "
        "(low, high) pairs, or a padding function such as minihaiku.layers.pad.causal."
    )
    assert error(lambda: layers.Conv2DTranspose(2, 3, padding="full")).startswith(
        "Conv2DTranspose ~/Conv2DTranspose_0: unknown padding 'full'."
    )
    msg = error(lambda: layers.Conv2D(2, 3, padding=[(1, 1, 1)]), kind=InvalidArgumentTypeError)
    assert msg == (
        "Conv2D ~/Conv2D_0: padding must be a string, a padding function or (low, high) int "
        "pairs, got [(1, 1, 1)]. Pass e.g. padding=[(1, 1)] * 2."
    )
    msg = error(
        lambda: layers.Conv2D(2, 3, padding=[layers.pad.same, (1, 1)]),
        kind=InvalidArgumentTypeError,
    )
    assert msg.startswith("Conv2D ~/Conv2D_0: padding mixes padding functions and other values")
    msg = error(
        lambda: layers.Conv2D(2, 3, padding=[layers.pad.same] * 3), kind=InvalidArgumentTypeError
    )
    assert msg.startswith("Conv2D ~/Conv2D_0: padding must be an int or a sequence of length 1")
    assert error(lambda: layers.Conv2DTranspose(2, 3, output_shape=6, padding=[(1, 1)])) == (
        "Conv2DTranspose ~/Conv2DTranspose_0: output_shape needs padding 'SAME' or 'VALID', "
        "got [(1, 1)]. Pass a string padding, or output_shape=None."
    )
    assert error(lambda: layers.Conv2DTranspose(2, 3, padding="same_lower")).startswith(
        "Conv2DTranspose ~/Conv2DTranspose_0: padding 'SAME_LOWER' is not supported by "
        "transposed convolutions."
    )


@pytest.mark.parametrize("cls", [layers.Conv2D, layers.Conv2DTranspose])
def test_input_rank_must_fit_the_layer(cls):
    name = cls.__name__
    assert error(lambda: cls(2, 3), x=jnp.ones((1, 2, 6, 6, 4))) == (
        f"{name} ~/{name}_0 needs an input of rank 3 (unbatched, spatial dimensions and "
        "channels) or 4 (batched), got shape (1, 2, 6, 6, 4). Use data_format='NHWC', or "
        "the layer for your number of spatial dimensions."
    )


def test_input_channels_must_divide_into_groups():
    assert error(lambda: layers.Conv2D(6, 3, feature_group_count=3)) == (
        "Conv2D ~/Conv2D_0: the input has 4 channels, which is not a multiple of "
        "feature_group_count=3. Use a feature_group_count that divides the number of "
        "input channels."
    )


def test_mask_must_have_the_weights_shape():
    assert error(lambda: layers.Conv2D(5, 3, mask=np.ones((3, 3, 5, 4)))) == (
        "Conv2D ~/Conv2D_0: mask has shape (3, 3, 5, 4) but the weights w have shape "
        "(3, 3, 4, 5) (kernel_shape + (input channels / groups, output channels)); give "
        "mask the shape of w."
    )
    msg = error(lambda: layers.Conv2DTranspose(5, 3, mask=np.ones((3, 3, 4, 5))))
    assert msg.startswith(
        "Conv2DTranspose ~/Conv2DTranspose_0: mask has shape (3, 3, 4, 5) but the weights "
        "w have shape (3, 3, 5, 4)"
    )


def test_transpose_output_shape_must_fit_the_input():
    assert error(lambda: layers.Conv2DTranspose(2, 3, stride=2, output_shape=20)) == (
        "Conv2DTranspose ~/Conv2DTranspose_0: output_shape asks for a spatial size of 20, "
        "which with kernel 3, stride 2 and padding 'SAME' needs an input size of 10, but "
        "the input has 6. Change output_shape, or pass output_shape=None to get the "
        "natural size."
    )


def test_pad_functions_match_dm_haiku():
    for name in ["valid", "same", "full", "causal", "reverse_causal"]:
        for k in range(1, 7):
            assert getattr(layers.pad, name)(k) == getattr(hk.pad, name)(k)
    assert layers.pad.create_from_padfn(layers.pad.same, (3, 4), (2, 1), 2) == tuple(
        map(tuple, hk.pad.create_from_padfn(hk.pad.same, (3, 4), (2, 1), 2))
    )
    assert layers.pad.create_from_tuple((1, 2), 3) == ((1, 2),) * 3
