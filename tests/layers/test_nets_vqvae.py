"""nets.VectorQuantizer(EMA): parity with dm-haiku (outputs, loss, state, gradients), errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    transform,
    transform_with_state,
)
from minihaiku.layers import from_haiku
from minihaiku.layers.nets import VectorQuantizer, VectorQuantizerEMA

hk = pytest.importorskip("haiku")

X = jax.random.normal(jax.random.key(2), (2, 5, 5, 8))


def vq_fn(lib_vq):
    def fn(x, is_training):
        vq = lib_vq(embedding_dim=8, num_embeddings=12, commitment_cost=0.25)
        out = vq(x, is_training=is_training)
        out["requantized"] = vq.quantize(out["encoding_indices"])
        return out

    return fn


@pytest.mark.parametrize("is_training", [True, False])
def test_vector_quantizer_matches_dm_haiku(is_training):
    hk_f = hk.without_apply_rng(hk.transform(vq_fn(hk.nets.VectorQuantizer)))
    hk_params = hk_f.init(jax.random.key(0), X, is_training)
    f = transform(vq_fn(VectorQuantizer))
    params = from_haiku(hk_params, f.init(0, X, is_training))
    assert list(params) == ["~/VectorQuantizer_0/embeddings"]
    np.testing.assert_array_equal(
        params["~/VectorQuantizer_0/embeddings"],
        hk_params["vector_quantizer"]["embeddings"],
    )
    out = f.apply(params, X, is_training)
    hk_out = hk_f.apply(hk_params, X, is_training)
    assert sorted(out) == sorted(hk_out)
    for k in out:
        np.testing.assert_allclose(out[k], hk_out[k], rtol=1e-5, atol=1e-6, err_msg=k)
    assert len(np.unique(out["encoding_indices"])) > 3  # a test that exercises the argmax

    def loss(apply, p, x):
        o = apply(p, x, is_training)
        return o["loss"] + jnp.sum(jnp.sin(o["quantize"]))

    g = jax.grad(lambda p, x: loss(f.apply, p, x), argnums=(0, 1))(params, X)
    hk_g = jax.grad(lambda p, x: loss(hk_f.apply, p, x), argnums=(0, 1))(hk_params, X)
    np.testing.assert_allclose(
        g[0]["~/VectorQuantizer_0/embeddings"],
        hk_g[0]["vector_quantizer"]["embeddings"],
        rtol=1e-5,
        atol=1e-7,
    )
    np.testing.assert_allclose(g[1], hk_g[1], rtol=1e-5, atol=1e-7)


def test_quantize_alone_reads_the_same_codebook():
    def fn(x, idx):
        vq = VectorQuantizer(8, 12, 0.25)
        return vq(x, is_training=True)["quantize"], vq.quantize(idx)

    f = transform(fn)
    idx = jnp.array([[0, 11], [3, 3]])
    params = f.init(0, X, idx)
    assert len(params) == 1
    w = params["~/VectorQuantizer_0/embeddings"]
    np.testing.assert_array_equal(f.apply(params, X, idx)[1], w.T[idx])
    only = transform(lambda idx: VectorQuantizer(8, 12, 0.25).quantize(idx))
    assert list(only.init(0, idx)) == list(params)


def test_codebook_init_is_lecun_uniform_and_dtype():
    f = transform(lambda x: VectorQuantizer(400, 300, 0.25, dtype=jnp.bfloat16)(x, True))
    w = f.init(0, jnp.ones((1, 400)))["~/VectorQuantizer_0/embeddings"]
    assert w.dtype == jnp.bfloat16 and w.shape == (400, 300)
    w = np.asarray(w, np.float32)
    limit = np.sqrt(3.0 / 400)
    assert np.abs(w).max() <= limit * 1.01 and np.abs(w).max() > limit * 0.95
    assert abs(w.var() * 400 - 1.0) < 0.05


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (
            (0, 4, 0.25),
            InvalidArgumentError,
            r"VectorQuantizer ~/VectorQuantizer_0: embedding_dim must be a positive int, got 0",
        ),
        (
            (4, 2.5, 0.25),
            InvalidArgumentTypeError,
            r"VectorQuantizer ~/VectorQuantizer_0: num_embeddings must be a positive int, got "
            r"float 2\.5",
        ),
        (
            (4, 4, "0.25"),
            InvalidArgumentTypeError,
            r"VectorQuantizer ~/VectorQuantizer_0: commitment_cost must be a number, got str "
            r"'0\.25'\. Pass e\.g\. commitment_cost=0\.25\.",
        ),
    ],
)
def test_construction_errors(args, error, message):
    with pytest.raises(error, match=message):
        transform(lambda: VectorQuantizer(*args)).init(0)


def test_inputs_of_the_wrong_size():
    f = transform(lambda x: VectorQuantizer(4, 8, 0.25, name="vq")(x, True))
    with pytest.raises(
        InvalidArgumentError,
        match=r"VectorQuantizer ~/vq: inputs must have a last axis of size embedding_dim=4, got "
        r"shape \(2, 3\)\. Project the inputs to 4 features first",
    ):
        f.init(0, jnp.ones((2, 3)))


def vq_ema_fn(lib_vq):
    def fn(x, is_training):
        vq = lib_vq(embedding_dim=8, num_embeddings=12, commitment_cost=0.25, decay=0.9)
        out = vq(x, is_training=is_training)
        out["requantized"] = vq.quantize(out["encoding_indices"])
        return out

    return fn


def test_vector_quantizer_ema_matches_dm_haiku_over_training_steps():
    hk_f = hk.transform_with_state(vq_ema_fn(hk.nets.VectorQuantizerEMA))
    hk_params, hk_state = hk_f.init(jax.random.key(0), X, True)
    assert hk_params == {}
    f = transform_with_state(vq_ema_fn(VectorQuantizerEMA))
    params, state = f.init(0, X, True)
    assert list(state) == [
        "~/VectorQuantizerEMA_0/embeddings",
        "~/VectorQuantizerEMA_0/ema_cluster_size/hidden",
        "~/VectorQuantizerEMA_0/ema_cluster_size/average",
        "~/VectorQuantizerEMA_0/ema_cluster_size/counter",
        "~/VectorQuantizerEMA_0/ema_dw/hidden",
        "~/VectorQuantizerEMA_0/ema_dw/average",
        "~/VectorQuantizerEMA_0/ema_dw/counter",
    ]
    template = state
    state = from_haiku(hk_state, state)
    for step in range(3):
        x = X + 0.3 * step
        is_training = step < 2
        out, state = f.apply(params, state, x, is_training)
        hk_out, hk_state = hk_f.apply(hk_params, hk_state, None, x, is_training)
        for k in hk_out:
            np.testing.assert_allclose(out[k], hk_out[k], rtol=1e-5, atol=1e-6, err_msg=k)
        expected = from_haiku(hk_state, template, order=list(hk_state))
        for k in expected:
            np.testing.assert_allclose(state[k], expected[k], rtol=1e-5, atol=1e-6, err_msg=k)
    assert int(state["~/VectorQuantizerEMA_0/ema_dw/counter"]) == 2

    def loss(apply, p, s, x):
        o = apply(p, s, x, True)[0]
        return o["loss"] + jnp.sum(jnp.sin(o["quantize"]))

    g = jax.grad(lambda x: loss(lambda *a: f.apply(*a), params, state, x))(X)
    hk_state_now = hk_state
    hk_g = jax.grad(
        lambda x: loss(lambda p, s, *a: hk_f.apply(p, s, None, *a), {}, hk_state_now, x)
    )(X)
    np.testing.assert_allclose(g, hk_g, rtol=1e-5, atol=1e-7)


def test_vector_quantizer_ema_decay_must_be_in_range():
    with pytest.raises(
        InvalidArgumentError,
        match=r"VectorQuantizerEMA ~/VectorQuantizerEMA_0: decay must be in range \[0, 1\], got "
        r"1\.5\. Pass e\.g\. decay=0\.99",
    ):
        transform_with_state(lambda: VectorQuantizerEMA(4, 8, 0.25, 1.5)).init(0)
