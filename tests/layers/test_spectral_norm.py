"""SpectralNorm: state after each step and gradients against dm-haiku, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError, transform_with_state
from minihaiku.layers import SpectralNorm

hk = pytest.importorskip("haiku")

TOL = {"rtol": 1e-5, "atol": 1e-6}
SN = "~/SpectralNorm_0/"


def rand(shape, seed=0):
    return jax.random.normal(jax.random.key(seed), shape, jnp.float32)


@pytest.mark.parametrize(
    ("kwargs", "shape", "update_stats"),
    [
        ({}, (4, 3), True),
        ({"n_steps": 3, "eps": 1e-6}, (5, 6), True),
        ({}, (2, 3, 4), True),
        ({}, (4, 3), False),
    ],
)
def test_spectral_norm_matches_dm_haiku_over_several_steps(kwargs, shape, update_stats):
    mh = transform_with_state(lambda w: SpectralNorm(**kwargs)(w, update_stats))
    hkf = hk.transform_with_state(lambda w: hk.SpectralNorm(**kwargs)(w, update_stats))
    ws = [rand(shape, seed) for seed in range(4)]
    _, mh_state = mh.init(0, ws[0])
    _, hk_state = hkf.init(jax.random.key(0), ws[0])
    assert set(mh_state) == {SN + leaf for leaf in hk_state["spectral_norm"]}
    for leaf, v in hk_state["spectral_norm"].items():
        assert mh_state[SN + leaf].shape == v.shape and mh_state[SN + leaf].dtype == v.dtype
    mh_state = {SN + leaf: v for leaf, v in hk_state["spectral_norm"].items()}

    def loss(apply, state, w):
        out, state = apply({}, state, w)
        return jnp.sum(jnp.sin(3 * out)), (out, state)

    def hk_apply(p, s, w):
        return hkf.apply(p, s, None, w)

    for w in ws:
        (_, (mh_out, mh_state)), mh_g = jax.value_and_grad(loss, 2, has_aux=True)(
            mh.apply, mh_state, w
        )
        (_, (hk_out, hk_state)), hk_g = jax.value_and_grad(loss, 2, has_aux=True)(
            hk_apply, hk_state, w
        )
        np.testing.assert_allclose(mh_out, hk_out, **TOL)
        np.testing.assert_allclose(mh_g, hk_g, rtol=1e-4, atol=1e-5)
        for leaf, v in hk_state["spectral_norm"].items():
            np.testing.assert_allclose(mh_state[SN + leaf], v, **TOL)


def test_spectral_norm_converges_to_the_largest_singular_value():
    w = rand((6, 4), 3)
    f = transform_with_state(lambda w: SpectralNorm(n_steps=50)(w))
    _, state = f.init(0, w)
    out, state = f.apply({}, state, w)
    top = np.linalg.svd(np.asarray(w), compute_uv=False)[0]
    np.testing.assert_allclose(state[SN + "sigma"], top, rtol=1e-4)
    np.testing.assert_allclose(np.linalg.svd(np.asarray(out), compute_uv=False)[0], 1.0, rtol=1e-4)


def test_spectral_norm_properties_read_the_module_state():
    def f(w):
        sn = SpectralNorm(name="sn")
        before = sn.sigma
        sn(w)
        return before, sn.sigma, sn.u0

    init, apply = transform_with_state(f)
    _, state = init(0, rand((3, 2)))
    assert sorted(state) == ["~/sn/sigma", "~/sn/u0"]
    (before, sigma, u0), new = apply({}, state, rand((3, 2)))
    assert float(before) == float(state["~/sn/sigma"])
    assert float(sigma) == float(new["~/sn/sigma"])
    np.testing.assert_array_equal(u0, new["~/sn/u0"])


def test_spectral_norm_refuses_vectors_and_non_matrices_when_asked():
    with pytest.raises(
        InvalidArgumentError,
        match=r"SpectralNorm ~/SpectralNorm_0: spectral normalization is not defined for scalar "
        r"or vector inputs, got shape \(3,\)",
    ):
        transform_with_state(lambda w: SpectralNorm()(w)).init(0, jnp.ones(3))
    with pytest.raises(
        InvalidArgumentError,
        match=r"SpectralNorm ~/SpectralNorm_0: the input has rank 3 \(shape \(2, 3, 4\)\) but "
        r"error_on_non_matrix is True",
    ):
        transform_with_state(lambda w: SpectralNorm()(w, error_on_non_matrix=True)).init(
            0, jnp.ones((2, 3, 4))
        )


def test_spectral_norm_refuses_bad_n_steps():
    with pytest.raises(
        InvalidArgumentError, match=r"SpectralNorm ~/sn: n_steps must be at least 1 .*got 0"
    ):
        transform_with_state(lambda w: SpectralNorm(n_steps=0, name="sn")(w)).init(
            0, jnp.ones((2, 2))
        )
    with pytest.raises(InvalidArgumentTypeError, match=r"n_steps must be an int, got float 2.0"):
        transform_with_state(lambda w: SpectralNorm(n_steps=2.0)(w)).init(0, jnp.ones((2, 2)))
