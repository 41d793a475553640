"""dm-haiku's recurrent cores on minihaiku.haiku: names, init values bit for bit, unrolled outputs.

dm-haiku's ``LSTM`` and ``VanillaRNN`` build ``hk.Linear`` inside (truncated
normal, stddev ``1/sqrt(fan_in)``); ``GRU``'s weights default to
``VarianceScaling()``. minihaiku.layers keeps its own defaults; minihaiku.haiku
gives dm-haiku's, so ``init`` is bit for bit dm-haiku's for the same key.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.haiku as mhk
import minihaiku.layers as ml

from ._compare import run_both

haiku = pytest.importorskip("haiku")

T, B = 5, 2
X = jax.random.normal(jax.random.PRNGKey(1), (T, B, 6))
X_CONV = {
    1: jax.random.normal(jax.random.PRNGKey(2), (T, B, 7, 3)),
    2: jax.random.normal(jax.random.PRNGKey(2), (T, B, 5, 5, 3)),
    3: jax.random.normal(jax.random.PRNGKey(2), (T, B, 3, 4, 4, 3)),
}


def _unrolled(core_of, how="dynamic"):
    def program(hk, xs):
        core = core_of(hk)
        unroll = hk.dynamic_unroll if how == "dynamic" else hk.static_unroll
        return unroll(core, xs, core.initial_state(B))

    return program


CORES = {
    "LSTM": lambda hk: hk.LSTM(4),
    "LSTM_named": lambda hk: hk.LSTM(3, name="encoder"),
    "VanillaRNN": lambda hk: hk.VanillaRNN(4),
    "VanillaRNN_single_bias": lambda hk: hk.VanillaRNN(4, double_bias=False),
    "GRU": lambda hk: hk.GRU(5),
    "IdentityCore": lambda hk: hk.IdentityCore(),
    "DeepRNN": lambda hk: hk.DeepRNN([hk.LSTM(4), jax.nn.relu, hk.GRU(3), hk.VanillaRNN(2)]),
    "deep_rnn_with_skip_connections": lambda hk: hk.deep_rnn_with_skip_connections(
        [hk.LSTM(4), hk.LSTM(3), hk.GRU(2)]
    ),
}


@pytest.mark.parametrize("name", sorted(CORES))
@pytest.mark.parametrize("how", ["dynamic", "static"])
def test_core_unrolled_matches_dm_haiku(name, how):
    params, _ = run_both(haiku, mhk, _unrolled(CORES[name], how), X)
    if name == "LSTM":
        assert list(params) == ["lstm/linear"]
        assert params["lstm/linear"]["w"].shape == (6 + 4, 16)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_conv_lstm_unrolled_matches_dm_haiku(n):
    spatial = X_CONV[n].shape[2:-1]
    cls = f"Conv{n}DLSTM"
    program = _unrolled(lambda hk: getattr(hk, cls)(spatial, 4, 3))
    params, _ = run_both(haiku, mhk, program, X_CONV[n])
    prefix = f"conv{n}_dlstm"
    assert list(params) == [f"{prefix}/input_to_hidden", f"{prefix}/hidden_to_hidden"]


def test_reset_core_matches_dm_haiku():
    def program(hk, xs):
        core = hk.ResetCore(hk.LSTM(3))
        resets = jnp.array([[False, True]] * T)
        return hk.dynamic_unroll(core, (xs, resets), core.initial_state(B))

    run_both(haiku, mhk, program, X)


def test_lstm_values_are_dm_haikus_for_several_keys():
    def f(hk):
        def forward(x):
            core = hk.LSTM(8)
            return core(x, core.initial_state(B))

        return hk.transform(forward)

    for seed in range(4):
        key = jax.random.PRNGKey(seed)
        ref, got = f(haiku).init(key, X[0]), f(mhk).init(key, X[0])
        np.testing.assert_array_equal(got["lstm/linear"]["w"], ref["lstm/linear"]["w"])
        np.testing.assert_array_equal(got["lstm/linear"]["b"], np.zeros(32, np.float32))


def test_the_hk_cores_are_minihaiku_layers_cores_with_hk_linear():
    assert issubclass(mhk.LSTM, ml.LSTM) and issubclass(mhk.VanillaRNN, ml.VanillaRNN)
    assert mhk.LSTM.linear_cls is mhk.Linear and mhk.VanillaRNN.linear_cls is mhk.Linear
    assert ml.LSTM.linear_cls is ml.Linear  # minihaiku.layers' own default is unchanged


def test_minihaiku_layers_lstm_keeps_its_own_default():
    # lecun_normal over minihaiku's path-derived keys: not dm-haiku's values
    def f(x):
        core = ml.LSTM(4)
        return core(x, core.initial_state(B))

    from minihaiku.core import transform

    params = transform(f).init(0, X[0])
    assert sorted(params) == [
        "~/LSTM_0/__call__/Linear_0/__call__/b",
        "~/LSTM_0/__call__/Linear_0/__call__/w",
    ]
