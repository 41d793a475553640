"""Each hk layer on minihaiku.haiku: dm-haiku's names, init values bit for bit, outputs, state."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.haiku as mhk

haiku = pytest.importorskip("haiku")

X = jax.random.normal(jax.random.PRNGKey(1), (2, 6, 6, 4))


def _rnn(core_of):
    def f(hk, x):
        core = core_of(hk)
        return core(x[:, 0, 0], core.initial_state(2))

    return f


PROGRAMS = {
    "Conv2D": lambda hk, x: hk.Conv2D(3, 3)(x),
    "Conv1DTranspose": lambda hk, x: hk.Conv1DTranspose(3, 2, stride=2)(x[:, 0]),
    "LayerNorm": lambda hk, x: hk.LayerNorm(-1, True, True)(x),
    "RMSNorm": lambda hk, x: hk.RMSNorm(-1)(x),
    "MultiHeadAttention": lambda hk, x: hk.MultiHeadAttention(2, 3, w_init_scale=1.0)(
        x[:, 0], x[:, 1], x[:, 2]
    ),
    "Embed": lambda hk, x: hk.Embed(10, 4)(jnp.array([1, 2])),
    "GroupNorm": lambda hk, x: hk.GroupNorm(2)(x),
    "GRU": _rnn(lambda hk: hk.GRU(3)),
    "LSTM": _rnn(lambda hk: hk.LSTM(3)),
    "VanillaRNN": _rnn(lambda hk: hk.VanillaRNN(3)),
    "Sequential": lambda hk, x: hk.Sequential([hk.Linear(3), jax.nn.relu, hk.Linear(2)])(x),
    "SpectralNorm": lambda hk, x: hk.SpectralNorm()(jnp.ones((3, 4))),
    "BatchNorm": lambda hk, x: hk.BatchNorm(True, True, 0.9)(x, is_training=True),
    "ExponentialMovingAverage": lambda hk, x: hk.ExponentialMovingAverage(0.9)(x),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_layer_matches_dm_haiku(name):
    def program(hk):
        return hk.transform_with_state(lambda x: PROGRAMS[name](hk, x))

    key = jax.random.PRNGKey(0)
    ref = program(haiku).init(key, X)
    got = program(mhk).init(key, X)
    for a, b in zip(ref, got, strict=True):  # params, then state
        assert list(a) == list(b)
        assert jax.tree.structure(a) == jax.tree.structure(b)
        for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            assert u.dtype == v.dtype
            np.testing.assert_array_equal(v, u)
    params, state = ref
    for _ in range(2):  # the same outputs and new state at each step
        out_ref, state_ref = program(haiku).apply(params, state, None, X)
        out_got, state_got = program(mhk).apply(params, state, None, X)
        for u, v in zip(jax.tree.leaves(out_ref), jax.tree.leaves(out_got), strict=True):
            np.testing.assert_allclose(v, u, rtol=1e-5, atol=1e-6)
        for u, v in zip(jax.tree.leaves(state_ref), jax.tree.leaves(state_got), strict=True):
            np.testing.assert_allclose(v, u, rtol=1e-5, atol=1e-6)
        state = state_ref
