"""LayerNorm, RMSNorm and GroupNorm: parity with dm-haiku, names, errors, lowering."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError, transform
from minihaiku.layers import GroupNorm, LayerNorm, RMSNorm

hk = pytest.importorskip("haiku")

TOL = {"rtol": 1e-5, "atol": 1e-6}


def rand(shape, seed=0):
    return jax.random.normal(jax.random.key(seed), shape, jnp.float32) * 2.0 + 0.5


def check_parity(mh_fn, hk_fn, mapping, *args):
    """Inits dm-haiku, copies its params by ``mapping`` (mh path -> (hk module, leaf)),
    and compares outputs and gradients w.r.t. params and inputs."""
    hk_f = hk.without_apply_rng(hk.transform(hk_fn))
    hk_params = hk_f.init(jax.random.key(0), *args)
    hk_params = hk.data_structures.to_haiku_dict(
        jax.tree_util.tree_map(
            lambda v: v + 0.3 * jnp.cos(jnp.arange(v.size).reshape(v.shape)), hk_params
        )
    )
    mh_f = transform(mh_fn)
    mh_init = mh_f.init(0, *args)
    assert set(mh_init) == set(mapping), sorted(mh_init)
    mh_params = {p: hk_params[m][leaf] for p, (m, leaf) in mapping.items()}
    assert sum(v.size for v in mh_params.values()) == sum(
        v.size for v in jax.tree_util.tree_leaves(hk_params)
    )
    for p, v in mh_params.items():
        assert mh_init[p].shape == v.shape and mh_init[p].dtype == v.dtype, p

    np.testing.assert_allclose(mh_f.apply(mh_params, *args), hk_f.apply(hk_params, *args), **TOL)

    def hk_loss(params, *a):
        return jnp.sum(jnp.sin(hk_f.apply(params, *a)))

    def mh_loss(params, *a):
        return jnp.sum(jnp.sin(mh_f.apply(params, *a)))

    argnums = tuple(range(len(args) + 1))
    hk_g = jax.grad(hk_loss, argnums)(hk_params, *args)
    mh_g = jax.grad(mh_loss, argnums)(mh_params, *args)
    for p, (m, leaf) in mapping.items():
        np.testing.assert_allclose(mh_g[0][p], hk_g[0][m][leaf], **TOL)
    for a, b in zip(mh_g[1:], hk_g[1:], strict=True):
        np.testing.assert_allclose(a, b, **TOL)
    return mh_params


# ---------------------------------------------------------------- LayerNorm

LN = "~/LayerNorm_0/__call__/"


@pytest.mark.parametrize(
    ("kwargs", "shape"),
    [
        ({"axis": -1}, (4, 6)),
        ({"axis": -1, "use_fast_variance": True}, (4, 6)),
        ({"axis": (1, 2)}, (2, 3, 5)),
        ({"axis": slice(1, None), "param_axis": (1, 2)}, (2, 3, 5)),
        ({"axis": [1, 2], "param_axis": 1}, (2, 3, 5)),
        ({"axis": -1, "eps": 0.1}, (3, 4)),
    ],
)
def test_layer_norm_matches_dm_haiku(kwargs, shape):
    x = rand(shape)
    mapping = {LN + "scale": ("layer_norm", "scale"), LN + "offset": ("layer_norm", "offset")}
    check_parity(
        lambda x: LayerNorm(create_scale=True, create_offset=True, **kwargs)(x),
        lambda x: hk.LayerNorm(create_scale=True, create_offset=True, **kwargs)(x),
        mapping,
        x,
    )


@pytest.mark.parametrize(("create_scale", "create_offset"), [(True, False), (False, True)])
def test_layer_norm_with_one_parameter_matches_dm_haiku(create_scale, create_offset):
    x = rand((3, 4))
    mapping = {}
    if create_scale:
        mapping[LN + "scale"] = ("layer_norm", "scale")
    if create_offset:
        mapping[LN + "offset"] = ("layer_norm", "offset")
    check_parity(
        lambda x: LayerNorm(-1, create_scale, create_offset)(x),
        lambda x: hk.LayerNorm(-1, create_scale, create_offset)(x),
        mapping,
        x,
    )


def test_layer_norm_param_shapes_follow_param_axis():
    x = jnp.ones((2, 3, 5))
    shapes = {
        k: v.shape
        for k, v in transform(lambda x: LayerNorm((1, 2), True, True, param_axis=(1, 2))(x))
        .init(0, x)
        .items()
    }
    assert shapes == {LN + "scale": (1, 3, 5), LN + "offset": (1, 3, 5)}


def test_layer_norm_takes_scale_and_offset_at_call_time():
    x = rand((3, 4))
    s, o = rand((4,), 2), rand((4,), 3)
    f = transform(lambda x: LayerNorm(-1, False, False)(x, s, o))
    assert f.init(0, x) == {}
    want = hk.without_apply_rng(hk.transform(lambda x: hk.LayerNorm(-1, False, False)(x, s, o)))
    np.testing.assert_allclose(f.apply({}, x), want.apply({}, x), **TOL)
    mu = x.mean(-1, keepdims=True)
    hand = s * (x - mu) / jnp.sqrt(x.var(-1, keepdims=True) + 1e-5) + o
    np.testing.assert_allclose(f.apply({}, x), hand, **TOL)


def test_layer_norm_params_take_the_input_dtype_and_custom_inits():
    x = jnp.ones((2, 3), jnp.bfloat16)
    params = transform(
        lambda x: LayerNorm(-1, True, True, scale_init="zeros", offset_init="ones")(x)
    ).init(0, x)
    assert {v.dtype for v in params.values()} == {jnp.dtype(jnp.bfloat16)}
    np.testing.assert_array_equal(params[LN + "scale"], 0)
    np.testing.assert_array_equal(params[LN + "offset"], 1)


def test_layer_norm_refuses_an_axis_out_of_range():
    f = transform(lambda x: LayerNorm(3, True, True)(x))
    with pytest.raises(
        InvalidArgumentError,
        match=r"LayerNorm ~/LayerNorm_0: axis=\(3,\) is out of range for an input of rank 2 "
        r"\(axes \[3\]; valid axes are -2\.\.1\)",
    ):
        f.init(0, jnp.ones((2, 3)))
    f = transform(lambda x: LayerNorm(-1, True, True, param_axis=-4)(x))
    with pytest.raises(InvalidArgumentError, match=r"param_axis=\(-4,\) is out of range"):
        f.init(0, jnp.ones((2, 3)))


def test_layer_norm_refuses_a_bad_axis_type():
    with pytest.raises(
        InvalidArgumentTypeError,
        match=r"LayerNorm ~/LayerNorm_0: axis must be an int, a slice or a sequence of ints, "
        r"got str 'last'",
    ):
        transform(lambda x: LayerNorm("last", True, True)(x)).init(0, jnp.ones((2, 3)))


def test_layer_norm_refuses_an_init_without_its_parameter():
    with pytest.raises(
        InvalidArgumentError,
        match=r"LayerNorm ~/ln: cannot set scale_init when create_scale=False .*"
        r"Pass create_scale=True, or drop scale_init",
    ):
        transform(lambda x: LayerNorm(-1, False, True, scale_init="ones", name="ln")(x)).init(
            0, jnp.ones((2, 3))
        )
    with pytest.raises(
        InvalidArgumentError, match="cannot set offset_init when create_offset=False"
    ):
        transform(lambda x: LayerNorm(-1, True, False, offset_init="ones")(x)).init(
            0, jnp.ones((2, 3))
        )


def test_layer_norm_refuses_scale_at_call_time_when_it_owns_one():
    x = jnp.ones((2, 3))
    with pytest.raises(
        InvalidArgumentError,
        match=r"LayerNorm ~/LayerNorm_0: cannot pass scale at call time when the module was "
        r"constructed with create_scale=True",
    ):
        transform(lambda x: LayerNorm(-1, True, True)(x, scale=x)).init(0, x)
    with pytest.raises(InvalidArgumentError, match="cannot pass offset at call time"):
        transform(lambda x: LayerNorm(-1, True, True)(x, offset=x)).init(0, x)


def test_layer_norm_refuses_a_scalar_input():
    with pytest.raises(
        InvalidArgumentError, match=r"LayerNorm ~/LayerNorm_0 needs an input with at least one axis"
    ):
        transform(lambda x: LayerNorm(-1, True, True)(x)).init(0, jnp.ones(()))


def test_jitted_layer_norm_lowers_to_the_hand_written_function():
    x = rand((8, 16))
    f = transform(lambda x: LayerNorm(-1, True, True)(x))
    params = f.init(0, x)

    def hand(params, x):
        mean = jnp.mean(x, axis=(1,), keepdims=True)
        var = jnp.var(x, axis=(1,), keepdims=True)
        inv = params[LN + "scale"] * jax.lax.rsqrt(var + jnp.float32(1e-5))
        return inv * (x - mean) + params[LN + "offset"]

    assert_same_lowering(f.apply, hand, params, x)


def stablehlo_ops(fn, *args):
    text = jax.jit(fn).lower(*args).as_text()
    return [
        line.split("=", 1)[-1].split("(")[0].strip()
        for line in text.splitlines()
        if "stablehlo." in line
    ]


def assert_same_lowering(f, hand, *args):
    np.testing.assert_allclose(jax.jit(f)(*args), hand(*args), **TOL)
    assert stablehlo_ops(f, *args) == stablehlo_ops(hand, *args)


# ---------------------------------------------------------------- RMSNorm

RMS = "~/RMSNorm_0/__call__/"


@pytest.mark.parametrize(
    ("kwargs", "shape"),
    [
        ({"axis": -1}, (4, 6)),
        ({"axis": (1, 2), "eps": 1e-3}, (2, 3, 5)),
        ({"axis": slice(1, None), "param_axis": (1, 2)}, (2, 3, 5)),
    ],
)
def test_rms_norm_matches_dm_haiku(kwargs, shape):
    check_parity(
        lambda x: RMSNorm(**kwargs)(x),
        lambda x: hk.RMSNorm(**kwargs)(x),
        {RMS + "scale": ("rms_norm", "scale")},
        rand(shape),
    )


def test_rms_norm_without_scale_has_no_params_and_matches_dm_haiku():
    x = rand((3, 4))
    f = transform(lambda x: RMSNorm(-1, create_scale=False)(x))
    assert f.init(0, x) == {}
    want = hk.without_apply_rng(hk.transform(lambda x: hk.RMSNorm(-1, create_scale=False)(x)))
    np.testing.assert_allclose(f.apply({}, x), want.apply({}, x), **TOL)
    np.testing.assert_allclose(
        f.apply({}, x), x / jnp.sqrt(jnp.mean(x**2, -1, keepdims=True) + 1e-5), **TOL
    )


def test_rms_norm_errors_name_the_module():
    with pytest.raises(
        InvalidArgumentError, match=r"RMSNorm ~/rms: cannot set scale_init when create_scale=False"
    ):
        transform(lambda x: RMSNorm(-1, scale_init="ones", create_scale=False, name="rms")(x)).init(
            0, jnp.ones((2, 3))
        )
    with pytest.raises(
        InvalidArgumentError, match=r"RMSNorm ~/RMSNorm_0: axis=\(2,\) is out of range"
    ):
        transform(lambda x: RMSNorm(2)(x)).init(0, jnp.ones((2, 3)))


def test_jitted_rms_norm_lowers_to_the_hand_written_function():
    x = rand((8, 16))
    f = transform(lambda x: RMSNorm(-1)(x))
    params = f.init(0, x)

    def hand(params, x):
        scale = jnp.broadcast_to(params[RMS + "scale"], x.shape)
        ms = jnp.broadcast_to(jnp.mean(jnp.square(x), axis=(1,), keepdims=True), x.shape)
        return x * scale * jax.lax.rsqrt(ms + 1e-5)

    assert_same_lowering(f.apply, hand, params, x)


# ---------------------------------------------------------------- GroupNorm

GN = "~/GroupNorm_0/__call__/"


@pytest.mark.parametrize(
    ("kwargs", "shape"),
    [
        ({"groups": 2}, (2, 3, 4, 6)),
        ({"groups": 3, "data_format": "channels_first"}, (2, 6, 4, 3)),
        ({"groups": 3, "data_format": "NCHW"}, (2, 6, 4, 3)),
        ({"groups": 2, "axis": slice(2, None)}, (2, 5, 4)),
        ({"groups": 1, "axis": (1, 2), "eps": 1e-2}, (2, 3, 4)),
        ({"groups": 4, "axis": -1}, (3, 8)),
    ],
)
def test_group_norm_matches_dm_haiku(kwargs, shape):
    check_parity(
        lambda x: GroupNorm(**kwargs)(x),
        lambda x: hk.GroupNorm(**kwargs)(x),
        {GN + "scale": ("group_norm", "scale"), GN + "offset": ("group_norm", "offset")},
        rand(shape),
    )


def test_group_norm_channels_first_params_broadcast_over_space():
    params = transform(lambda x: GroupNorm(2, data_format="channels_first")(x)).init(
        0, jnp.ones((1, 4, 3, 3))
    )
    assert {k: v.shape for k, v in params.items()} == {
        GN + "scale": (4, 1, 1),
        GN + "offset": (4, 1, 1),
    }


def test_group_norm_takes_scale_and_offset_at_call_time():
    x, s, o = rand((2, 3, 4)), rand((4,), 1), rand((4,), 2)
    f = transform(lambda x: GroupNorm(2, create_scale=False, create_offset=False)(x, s, o))
    want = hk.without_apply_rng(
        hk.transform(lambda x: hk.GroupNorm(2, create_scale=False, create_offset=False)(x, s, o))
    )
    assert f.init(0, x) == {}
    np.testing.assert_allclose(f.apply({}, x), want.apply({}, x), **TOL)


def test_group_norm_refuses_channels_not_divisible_by_groups():
    with pytest.raises(
        InvalidArgumentError,
        match=r"GroupNorm ~/GroupNorm_0: the number of channels must be divisible by the number "
        r"of groups, got channels=6 \(input shape \(2, 6\)\), groups=4. "
        r"Pick a groups that divides 6",
    ):
        transform(lambda x: GroupNorm(4)(x)).init(0, jnp.ones((2, 6)))


def test_group_norm_refuses_a_change_of_rank_between_calls():
    def f(x):
        gn = GroupNorm(2)
        gn(x)
        return gn(x[None])

    with pytest.raises(
        InvalidArgumentError,
        match=r"GroupNorm ~/GroupNorm_0: the rank of the inputs cannot change between calls: "
        r"the first call had rank 2, this one has rank 3",
    ):
        transform(f).init(0, jnp.ones((2, 4)))


def test_group_norm_constructor_errors():
    x = jnp.ones((2, 4))
    with pytest.raises(
        InvalidArgumentError, match=r"GroupNorm ~/GroupNorm_0: groups must be a positive int, got 0"
    ):
        transform(lambda x: GroupNorm(0)(x)).init(0, x)
    with pytest.raises(
        InvalidArgumentError,
        match=r"GroupNorm ~/GroupNorm_0: unknown data_format 'HWCN'. Pass a channels-last "
        r"format such as 'NHWC' \(or 'channels_last'\) or a channels-first one",
    ):
        transform(lambda x: GroupNorm(2, data_format="HWCN")(x)).init(0, x)
    with pytest.raises(
        InvalidArgumentTypeError, match=r"data_format must be a string .* got int 1"
    ):
        transform(lambda x: GroupNorm(2, data_format=1)(x)).init(0, x)
    with pytest.raises(
        InvalidArgumentError, match="cannot set offset_init when create_offset=False"
    ):
        transform(lambda x: GroupNorm(2, create_offset=False, offset_init="ones")(x)).init(0, x)
    with pytest.raises(InvalidArgumentError, match=r"cannot pass scale at call time"):
        transform(lambda x: GroupNorm(2)(x, scale=x)).init(0, x)
    with pytest.raises(
        InvalidArgumentError, match=r"GroupNorm ~/GroupNorm_0 needs an input of rank >= 2"
    ):
        transform(lambda x: GroupNorm(2)(x)).init(0, jnp.ones(4))


def test_layer_norm_works_with_strict_rank_promotion_like_dm_haiku():
    x = rand((3, 4))
    with jax.numpy_rank_promotion("raise"):
        f = transform(lambda x: LayerNorm(-1, True, True)(x))
        params = f.init(0, x)
        got = f.apply(params, x)
        want = hk.without_apply_rng(hk.transform(lambda x: hk.LayerNorm(-1, True, True)(x)))
        np.testing.assert_allclose(got, want.apply(want.init(None, x), x), **TOL)
        np.testing.assert_allclose(
            transform(lambda x: RMSNorm(-1)(x)).apply({RMS + "scale": jnp.ones(4)}, x),
            x / jnp.sqrt(jnp.mean(x**2, -1, keepdims=True) + 1e-5),
            **TOL,
        )
