"""BatchNorm: parity with dm-haiku over several steps, cross-replica statistics, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    MissingStateError,
    ParameterShapeError,
    transform_with_state,
)
from minihaiku.layers import BatchNorm

hk = pytest.importorskip("haiku")

TOL = {"rtol": 1e-5, "atol": 1e-6}
BN = "~/BatchNorm_0/"
EMA_LEAVES = ("counter", "hidden", "average")


def rand(shape, seed=0):
    return jax.random.normal(jax.random.key(seed), shape, jnp.float32) * 1.5 + 0.7


def state_map(bn=BN, hk_bn="batch_norm"):
    return {
        f"{bn}{ema}/{leaf}": (f"{hk_bn}/~/{ema}", leaf)
        for ema in ("mean_ema", "var_ema")
        for leaf in EMA_LEAVES
    }


def assert_same_state(mh_state, hk_state, table):
    assert set(mh_state) == set(table)
    for p, (m, leaf) in table.items():
        assert mh_state[p].dtype == hk_state[m][leaf].dtype, p
        np.testing.assert_allclose(mh_state[p], hk_state[m][leaf], **TOL)


def run_parity(ctor, call_kwargs, xs, eval_x, params_leaves=("scale", "offset")):
    """Trains over ``xs`` in both libraries (outputs, grads and state at each step),
    then evaluates ``eval_x`` with the moving averages."""
    mh = transform_with_state(lambda x, t: ctor(BatchNorm)(x, t, **call_kwargs))
    hkf = hk.transform_with_state(lambda x, t: ctor(hk.BatchNorm)(x, t, **call_kwargs))
    mh_params, mh_state = mh.init(0, xs[0], True)
    hk_params, hk_state = hkf.init(jax.random.key(0), xs[0], True)
    ptable = {f"{BN}__call__/{leaf}": ("batch_norm", leaf) for leaf in params_leaves}
    stable = state_map()
    assert set(mh_params) == set(ptable)
    hk_params = jax.tree_util.tree_map(
        lambda v: v + 0.2 * jnp.cos(jnp.arange(v.size)).reshape(v.shape), hk_params
    )
    mh_params = {p: hk_params[m][leaf] for p, (m, leaf) in ptable.items()}
    assert_same_state(mh_state, hk_state, stable)

    def loss(apply, params, state, x):
        out, state = apply(params, state, x, True)
        return jnp.sum(jnp.sin(out)), (out, state)

    def hk_apply(p, s, x, t):
        return hkf.apply(p, s, None, x, t)

    for x in xs:
        (_, (mh_out, mh_new)), mh_g = jax.value_and_grad(loss, (1, 3), has_aux=True)(
            mh.apply, mh_params, mh_state, x
        )
        (_, (hk_out, hk_new)), hk_g = jax.value_and_grad(loss, (1, 3), has_aux=True)(
            hk_apply, hk_params, hk_state, x
        )
        np.testing.assert_allclose(mh_out, hk_out, **TOL)
        for p, (m, leaf) in ptable.items():
            np.testing.assert_allclose(mh_g[0][p], hk_g[0][m][leaf], **TOL)
        np.testing.assert_allclose(mh_g[1], hk_g[1], **TOL)
        mh_state, hk_state = mh_new, hk_new
        assert_same_state(mh_state, hk_state, stable)
    mh_out, mh_after = mh.apply(mh_params, mh_state, eval_x, False)
    hk_out, hk_after = hkf.apply(hk_params, hk_state, None, eval_x, False)
    np.testing.assert_allclose(mh_out, hk_out, **TOL)
    assert_same_state(mh_after, hk_after, stable)
    return mh_state


@pytest.mark.parametrize(
    ("kwargs", "shape"),
    [
        ({}, (8, 3)),
        ({"eps": 1e-3, "decay_rate": 0.5}, (4, 5, 5, 3)),
        ({"data_format": "channels_first"}, (4, 3, 5, 5)),
        ({"data_format": "NCHW"}, (4, 3, 5)),
        ({"axis": [0]}, (4, 5, 3)),
    ],
)
def test_batch_norm_matches_dm_haiku_over_training_and_evaluation(kwargs, shape):
    kw = {"decay_rate": 0.9, **kwargs}
    xs = [rand(shape, seed) for seed in range(3)]
    run_parity(lambda cls: cls(True, True, **kw), {}, xs, rand(shape, 9))


def test_batch_norm_with_external_scale_and_offset_matches_dm_haiku():
    s, o = rand((3,), 5), rand((3,), 6)
    xs = [rand((6, 3), seed) for seed in range(2)]
    run_parity(
        lambda cls: cls(False, False, 0.8), {"scale": s, "offset": o}, xs, rand((6, 3), 9), ()
    )


def test_batch_norm_test_local_stats_matches_dm_haiku_and_leaves_the_averages():
    f = transform_with_state(lambda x: BatchNorm(True, True, 0.9)(x, False, test_local_stats=True))
    g = hk.transform_with_state(
        lambda x: hk.BatchNorm(True, True, 0.9)(x, False, test_local_stats=True)
    )
    x = rand((5, 4))
    _, train_state = transform_with_state(lambda x: BatchNorm(True, True, 0.9)(x, True)).init(0, x)
    params, _ = f.init(0, x)
    hk_params, hk_state = hk.transform_with_state(
        lambda x: hk.BatchNorm(True, True, 0.9)(x, True)
    ).init(None, x)
    out, state = f.apply(params, train_state, x)
    want, _ = g.apply(hk_params, hk_state, None, x)
    np.testing.assert_allclose(out, want, **TOL)
    np.testing.assert_allclose(
        out, (x - x.mean(0)) / jnp.sqrt(x.var(0) + 1e-5), rtol=1e-4, atol=1e-5
    )
    assert all(np.array_equal(state[k], train_state[k]) for k in state)


def test_batch_norm_param_shapes_keep_the_reduced_axes():
    params, _ = transform_with_state(lambda x: BatchNorm(True, True, 0.9)(x, True)).init(
        0, jnp.ones((2, 4, 4, 3))
    )
    assert {k: v.shape for k, v in params.items()} == {
        BN + "__call__/scale": (1, 1, 1, 3),
        BN + "__call__/offset": (1, 1, 1, 3),
    }


def make_bn(**kwargs):
    return transform_with_state(lambda x: BatchNorm(True, True, 0.9, **kwargs)(x, True))


@pytest.mark.parametrize("axis_names", [("i",), ("i", "j")])
def test_cross_replica_statistics_under_a_named_vmap_equal_the_full_batch_ones(axis_names):
    x = rand((2, 3, 4, 5))  # [replica i, replica j, per-replica batch, channels]
    full = make_bn()
    params, state = full.init(0, x.reshape(-1, 5))
    params = {k: v + 0.1 * jnp.arange(5.0) for k, v in params.items()}
    want, want_state = full.apply(params, state, x.reshape(-1, 5))
    for _ in range(2):
        want, want_state = full.apply(params, want_state, x.reshape(-1, 5))

    name = axis_names[0] if len(axis_names) == 1 else list(axis_names)
    sharded = make_bn(cross_replica_axis=name)
    apply = sharded.apply
    if len(axis_names) == 1:
        x = x.reshape(6, 4, 5)
        apply = jax.vmap(apply, (None, 0, 0), axis_name="i")
        rep_state = jax.tree_util.tree_map(lambda v: jnp.stack([v] * 6), state)
    else:
        apply = jax.vmap(jax.vmap(apply, (None, 0, 0), axis_name="j"), (None, 0, 0), axis_name="i")
        rep_state = jax.tree_util.tree_map(lambda v: jnp.broadcast_to(v, (2, 3, *v.shape)), state)
    got, got_state = apply(params, rep_state, x)
    for _ in range(2):
        got, got_state = apply(params, got_state, x)
    np.testing.assert_allclose(got.reshape(-1, 5), want, **TOL)
    for k, v in want_state.items():
        np.testing.assert_allclose(got_state[k], jnp.broadcast_to(v, got_state[k].shape), **TOL)
    # without cross_replica_axis, each replica uses its own statistics
    local, _ = jax.vmap(make_bn().apply, (None, 0, 0))(
        params, jax.tree_util.tree_map(lambda v: jnp.stack([v] * 6), state), x.reshape(6, 4, 5)
    )
    assert not np.allclose(local.reshape(-1, 5), want, atol=1e-3)


def test_batch_norm_requires_is_training():
    f = transform_with_state(lambda x: BatchNorm(True, True, 0.9, name="bn")(x))
    with pytest.raises(
        InvalidArgumentTypeError,
        match=r"BatchNorm ~/bn: is_training is required: call it as bn\(x, is_training=True\)",
    ):
        f.init(0, jnp.ones((2, 3)))


def test_batch_norm_refuses_a_traced_is_training():
    f = transform_with_state(lambda x, t: BatchNorm(True, True, 0.9)(x, t))
    params, state = f.init(0, jnp.ones((2, 3)), True)
    with pytest.raises(
        InvalidArgumentTypeError,
        match=r"BatchNorm ~/BatchNorm_0: is_training must be a Python bool, got .*Tracer.* "
        r"pass True or False \(for jit, mark it static",
    ):
        jax.jit(f.apply)(params, state, jnp.ones((2, 3)), True)
    out, _ = f.apply(params, state, jnp.ones((2, 3)), jnp.array(True))  # concrete is fine
    assert out.shape == (2, 3)


def test_batch_norm_evaluation_needs_initialized_averages():
    f = transform_with_state(lambda x: BatchNorm(True, True, 0.9)(x, False))
    with pytest.raises(
        ParameterShapeError,
        match=r"BatchNorm ~/BatchNorm_0: there are no moving averages to normalize with "
        r"\(is_training=False\). Initialize with is_training=True",
    ):
        f.init(0, jnp.ones((2, 3)))


def test_batch_norm_constructor_errors():
    x = jnp.ones((2, 3))
    with pytest.raises(
        InvalidArgumentError,
        match=r"BatchNorm ~/BatchNorm_0: cross_replica_axis_index_groups needs cross_replica_axis",
    ):
        make_bn(cross_replica_axis_index_groups=[[0, 1]]).init(0, x)
    with pytest.raises(
        InvalidArgumentError,
        match=r"BatchNorm ~/BatchNorm_0: cannot set scale_init when create_scale=False",
    ):
        transform_with_state(
            lambda x: BatchNorm(False, True, 0.9, scale_init="ones")(x, True)
        ).init(0, x)
    with pytest.raises(
        InvalidArgumentError,
        match=r"BatchNorm ~/BatchNorm_0: unknown data_format 'CHW'. Pass a channels-last format",
    ):
        make_bn(data_format="CHW").init(0, x)
    with pytest.raises(
        InvalidArgumentError, match=r"BatchNorm ~/BatchNorm_0: cannot pass offset at call time"
    ):
        transform_with_state(lambda x: BatchNorm(True, True, 0.9)(x, True, offset=x)).init(0, x)
    with pytest.raises(
        InvalidArgumentError,
        match=r"BatchNorm ~/BatchNorm_0: axis=\(2,\) is out of range for an input of rank 2",
    ):
        make_bn(axis=[2]).init(0, x)


def test_batch_norm_outside_a_mapped_axis_says_so():
    with pytest.raises(
        InvalidArgumentError,
        match=r"BatchNorm ~/BatchNorm_0: cross_replica_axis='batch' is not the name of an "
        r"enclosing mapped axis",
    ):
        make_bn(cross_replica_axis="batch").init(0, jnp.ones((2, 3)))


def test_batch_norm_evaluation_without_the_state_names_the_missing_average():
    f = transform_with_state(lambda x, t: BatchNorm(True, True, 0.9)(x, t))
    params, _ = f.init(0, jnp.ones((2, 3)), True)
    with pytest.raises(
        MissingStateError,
        match=r"BatchNorm ~/BatchNorm_0: there are no moving averages to normalize with .* "
        r"\(state '~/BatchNorm_0/mean_ema/average' is not in the state given to apply",
    ):
        f.apply(params, {}, jnp.ones((2, 3)), False)
