"""ExponentialMovingAverage: state after each step against dm-haiku, names, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    transform_with_state,
)
from minihaiku.layers import BatchNorm, ExponentialMovingAverage

hk = pytest.importorskip("haiku")

EMA = "~/ExponentialMovingAverage_0/"
LEAVES = ("counter", "hidden", "average")


def run_both(kwargs, values, update_stats=True):
    """Runs the EMA over ``values`` in both libraries; compares outputs and state each step."""
    mh = transform_with_state(lambda v: ExponentialMovingAverage(**kwargs)(v, update_stats))
    hk_f = hk.transform_with_state(lambda v: hk.ExponentialMovingAverage(**kwargs)(v, update_stats))
    _, mh_state = mh.init(0, values[0])
    _, hk_state = hk_f.init(jax.random.key(0), values[0])
    assert set(mh_state) == {EMA + leaf for leaf in hk_state["exponential_moving_average"]}
    outs = []
    for v in values:
        for leaf, want in hk_state["exponential_moving_average"].items():
            got = mh_state[EMA + leaf]
            assert got.dtype == want.dtype and got.shape == want.shape, leaf
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
        mh_out, mh_state = mh.apply({}, mh_state, v)
        hk_out, hk_state = hk_f.apply({}, hk_state, None, v)
        np.testing.assert_allclose(mh_out, hk_out, rtol=1e-6, atol=1e-7)
        outs.append(mh_out)
    for leaf, want in hk_state["exponential_moving_average"].items():
        np.testing.assert_allclose(mh_state[EMA + leaf], want, rtol=1e-6, atol=1e-7)
    return outs, mh_state


VALUES = [
    jnp.asarray(v, jnp.float32)
    for v in ([1.0, -2.0], [3.0, 0.5], [-1.0, 4.0], [2.0, 2.0], [0.0, 1.0])
]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"decay": 0.9},
        {"decay": 0.5, "zero_debias": False},
        {"decay": 0.8, "zero_debias": False, "warmup_length": 2},
        {"decay": 0.0},
    ],
)
def test_ema_state_matches_dm_haiku_after_each_step(kwargs):
    run_both(kwargs, VALUES)


def test_ema_without_update_stats_keeps_the_state_like_dm_haiku():
    outs, state = run_both({"decay": 0.9}, VALUES, update_stats=False)
    np.testing.assert_allclose(outs[-1], VALUES[-1])  # one debiased step from zero
    assert int(state[EMA + "counter"]) == 0


def test_ema_debiased_average_by_hand():
    f = transform_with_state(lambda v: ExponentialMovingAverage(0.5)(v))
    _, state = f.init(0, 0.0)
    hidden = 0.0
    for n, v in enumerate([2.0, 4.0, 8.0], start=1):
        out, state = f.apply({}, state, v)
        hidden = hidden * 0.5 + v * 0.5
        np.testing.assert_allclose(out, hidden / (1 - 0.5**n), rtol=1e-6)
    assert state[EMA + "counter"].dtype == jnp.int32


def test_ema_warmup_starts_counter_below_zero_and_tracks_the_value():
    f = transform_with_state(
        lambda v: ExponentialMovingAverage(0.9, zero_debias=False, warmup_length=3)(v)
    )
    _, state = f.init(0, 0.0)
    assert int(state[EMA + "counter"]) == -3
    for v in (5.0, 7.0, 1.0):  # counter <= 0: decay 0, the average is the value
        out, state = f.apply({}, state, v)
        assert float(out) == v
    out, _ = f.apply({}, state, 11.0)
    np.testing.assert_allclose(out, 0.9 * 1.0 + 0.1 * 11.0, rtol=1e-6)


def test_ema_average_property_and_initialize_share_the_state():
    def f(v):
        ema = ExponentialMovingAverage(0.5, name="ema")
        ema.initialize(v.shape, v.dtype)
        before = ema.average
        ema(v)
        return before, ema.average

    init, apply = transform_with_state(f)
    _, state = init(0, jnp.ones(2))
    assert sorted(state) == ["~/ema/average", "~/ema/counter", "~/ema/hidden"]
    (before, after), state = apply({}, state, jnp.full(2, 3.0))
    np.testing.assert_array_equal(before, 0.0)
    np.testing.assert_allclose(after, 3.0)
    np.testing.assert_allclose(state["~/ema/average"], 3.0)


def test_ema_initialize_with_a_value_is_deprecated():
    f = transform_with_state(lambda v: ExponentialMovingAverage(0.5).initialize(v))
    with pytest.warns(
        DeprecationWarning,
        match=r"ExponentialMovingAverage ~/ExponentialMovingAverage_0: passing a value to "
        r"initialize",
    ):
        _, state = f.init(0, jnp.ones(3, jnp.bfloat16))
    assert state[EMA + "hidden"].dtype == jnp.bfloat16


def test_ema_refuses_bad_warmup():
    with pytest.raises(
        InvalidArgumentError,
        match=r"ExponentialMovingAverage ~/ExponentialMovingAverage_0: warmup_length is -1, "
        r"but should be non-negative",
    ):
        transform_with_state(lambda: ExponentialMovingAverage(0.9, warmup_length=-1)(1.0)).init(0)
    with pytest.raises(
        InvalidArgumentError,
        match=r"ExponentialMovingAverage ~/e: zero debiasing does not make sense .* "
        r"Set zero_debias=False",
    ):
        transform_with_state(
            lambda: ExponentialMovingAverage(0.9, warmup_length=2, name="e")(1.0)
        ).init(0)
    with pytest.raises(
        InvalidArgumentTypeError, match=r"warmup_length must be an int, got float 1.5"
    ):
        transform_with_state(lambda: ExponentialMovingAverage(0.9, False, 1.5)(1.0)).init(0)


@pytest.mark.parametrize("decay", [1.0, -0.1, 1.5])
def test_ema_refuses_a_decay_outside_zero_one(decay):
    with pytest.raises(
        InvalidArgumentError,
        match=rf"ExponentialMovingAverage ~/BatchNorm_0/mean_ema: decay must be in \[0, 1\), "
        rf"got {decay}",
    ):
        transform_with_state(lambda x: BatchNorm(True, True, decay)(x, True)).init(
            0, jnp.ones((2, 3))
        )


def test_ema_takes_a_traced_decay():
    f = transform_with_state(lambda v, d: ExponentialMovingAverage(d)(v))
    _, state = f.init(0, 1.0, 0.5)
    out, _ = jax.jit(f.apply)({}, state, 2.0, 0.5)
    np.testing.assert_allclose(out, 2.0)


@pytest.mark.parametrize("decay", [0.9, 0.7])
def test_ema_debiases_with_dm_haikus_bits_every_step(decay):
    """Eager: the debiasing exponent (read from the stored counter) is dm-haiku's, bit for bit."""
    f = transform_with_state(lambda v: ExponentialMovingAverage(decay)(v))
    g = hk.transform_with_state(lambda v: hk.ExponentialMovingAverage(decay)(v))
    _, state = f.init(0, VALUES[0])
    _, hk_state = g.init(jax.random.key(0), VALUES[0])
    for v in VALUES * 2:
        out, state = f.apply({}, state, v)
        want, hk_state = g.apply({}, hk_state, None, v)
        np.testing.assert_array_equal(out, want)
        for leaf, value in hk_state["exponential_moving_average"].items():
            np.testing.assert_array_equal(state[EMA + leaf], value, err_msg=leaf)
    assert int(state[EMA + "counter"]) == 2 * len(VALUES)


def test_ema_called_twice_in_one_step_debiases_with_each_count():
    """Two calls in one init and apply: as dm-haiku's, bit for bit."""

    def f(lib):
        def g(v):
            ema = lib.ExponentialMovingAverage(0.9, name="ema")
            return ema(v), ema(2 * v)

        return g

    import minihaiku.layers as ml

    mine = transform_with_state(f(ml))
    theirs = hk.transform_with_state(f(hk))
    _, state = mine.init(0, VALUES[0])
    _, hk_state = theirs.init(jax.random.key(0), VALUES[0])
    for v in VALUES[1:3]:
        (a, b), state = mine.apply({}, state, v)
        (c, d), hk_state = theirs.apply({}, hk_state, None, v)
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    assert int(state["~/ema/counter"]) == int(hk_state["ema"]["counter"])
