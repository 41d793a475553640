"""Embed: parity with dm-haiku for both lookup styles, weight tying, defaults, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError, transform
from minihaiku.layers import Embed, EmbedLookupStyle

hk = pytest.importorskip("haiku")

TOL = {"rtol": 1e-5, "atol": 1e-6}
E = "~/Embed_0/embeddings"
IDS = jnp.array([[0, 3, 7], [7, 7, 1]])


@pytest.mark.parametrize("style", ["ARRAY_INDEX", "one_hot", EmbedLookupStyle.ONE_HOT])
def test_embed_matches_dm_haiku_values_and_gradients(style):
    hk_style = style if isinstance(style, str) else hk.EmbedLookupStyle.ONE_HOT
    mh = transform(lambda ids: Embed(8, 5, lookup_style=style)(ids))
    hkf = hk.without_apply_rng(hk.transform(lambda ids: hk.Embed(8, 5, lookup_style=hk_style)(ids)))
    hk_params = hkf.init(jax.random.key(0), IDS)
    mh_init = mh.init(0, IDS)
    assert list(mh_init) == [E]
    assert mh_init[E].shape == hk_params["embed"]["embeddings"].shape == (8, 5)
    params = {E: hk_params["embed"]["embeddings"]}
    out = mh.apply(params, IDS)
    assert out.shape == (2, 3, 5)
    np.testing.assert_allclose(out, hkf.apply(hk_params, IDS), **TOL)
    np.testing.assert_allclose(out, np.asarray(params[E])[np.asarray(IDS)], **TOL)

    def loss(apply, p):
        return jnp.sum(jnp.sin(apply(p, IDS)) * jnp.arange(5.0))

    g = jax.grad(lambda p: loss(mh.apply, p))(params)
    hk_g = jax.grad(lambda p: loss(hkf.apply, p))(hk_params)
    np.testing.assert_allclose(g[E], hk_g["embed"]["embeddings"], **TOL)


def test_embed_lookup_style_can_be_overridden_per_call():
    def f(ids):
        e = Embed(8, 5, lookup_style="ARRAY_INDEX")
        return e(ids), e(ids, lookup_style="ONE_HOT", precision=jax.lax.Precision.HIGHEST)

    tf = transform(f)
    params = tf.init(0, IDS)
    a, b = tf.apply(params, IDS)
    np.testing.assert_allclose(a, b, **TOL)


def test_embed_tying_uses_one_parameter_and_adds_both_gradients():
    def lm(ids):
        embed = Embed(vocab_size=6, embed_dim=3)
        h = jnp.tanh(embed(ids))
        return h @ embed.embeddings.T

    f = transform(lm)
    ids = jnp.array([0, 2, 5, 2])
    params = f.init(0, ids)
    assert list(params) == [E]

    def hand(emb):
        return jnp.tanh(emb[ids]) @ emb.T

    np.testing.assert_allclose(f.apply(params, ids), hand(params[E]), **TOL)
    g = jax.grad(lambda p: jnp.sum(jnp.sin(f.apply(p, ids))))(params)[E]
    want = jax.grad(lambda e: jnp.sum(jnp.sin(hand(e))))(params[E])
    np.testing.assert_allclose(g, want, **TOL)
    # both uses contribute: the lookup alone and the output layer alone give less
    only_out = jax.grad(lambda e: jnp.sum(jnp.sin(jnp.tanh(jax.lax.stop_gradient(e)[ids]) @ e.T)))(
        params[E]
    )
    assert not np.allclose(g, only_out, atol=1e-4)


def test_embed_from_a_matrix_and_its_checks():
    m = np.arange(12.0, dtype=np.float32).reshape(4, 3)
    f = transform(lambda ids: Embed(embedding_matrix=m)(ids))
    params = f.init(0, jnp.array([1]))
    np.testing.assert_array_equal(params[E], m)
    np.testing.assert_array_equal(f.apply(params, jnp.array([3, 1])), m[[3, 1]])
    transform(lambda ids: Embed(4, 3, embedding_matrix=m)(ids)).init(0, jnp.array([1]))
    with pytest.raises(
        InvalidArgumentError,
        match=r"Embed ~/Embed_0: an embedding_matrix of shape \(4, 3\) was given, but "
        r"vocab_size=5 does not match it",
    ):
        transform(lambda ids: Embed(5, embedding_matrix=m)(ids)).init(0, jnp.array([1]))
    with pytest.raises(InvalidArgumentError, match=r"but embed_dim=2 does not match it"):
        transform(lambda ids: Embed(embed_dim=2, embedding_matrix=m)(ids)).init(0, jnp.array([1]))
    with pytest.raises(
        InvalidArgumentError,
        match=r"Embed ~/Embed_0: embedding_matrix must be 2-D .*got shape \(12,\)",
    ):
        transform(lambda ids: Embed(embedding_matrix=m.ravel())(ids)).init(0, jnp.array([1]))
    with pytest.raises(
        InvalidArgumentError, match=r"pass either embedding_matrix or w_init, not both"
    ):
        transform(lambda ids: Embed(embedding_matrix=m, w_init="ones")(ids)).init(0, jnp.array([1]))


def test_embed_default_init_is_dm_haikus_truncated_normal():
    params = transform(lambda ids: Embed(400, 256)(ids)).init(0, jnp.array([0]))
    w = np.asarray(params[E])
    assert np.abs(w).max() <= 2.0
    assert abs(w.std() - 0.8796) < 0.01  # stddev of N(0, 1) truncated to [-2, 2]


def test_embed_needs_sizes_or_a_matrix():
    with pytest.raises(
        InvalidArgumentError,
        match=r"Embed ~/emb needs either an initial embedding_matrix or both vocab_size and "
        r"embed_dim \(got vocab_size=10, embed_dim=None\)",
    ):
        transform(lambda ids: Embed(10, name="emb")(ids)).init(0, jnp.array([0]))
    with pytest.raises(
        InvalidArgumentError, match=r"Embed ~/Embed_0: embed_dim must be a positive int, got 0"
    ):
        transform(lambda ids: Embed(10, 0)(ids)).init(0, jnp.array([0]))


def test_embed_refuses_float_ids_and_unknown_lookup_styles():
    with pytest.raises(
        InvalidArgumentTypeError,
        match=r"Embed ~/Embed_0 takes an array of integer ids, got dtype float32",
    ):
        transform(lambda ids: Embed(4, 2)(ids)).init(0, jnp.array([0.0]))
    with pytest.raises(
        InvalidArgumentError,
        match=r"Embed ~/Embed_0: unknown lookup_style 'GATHER'. Use one of 'ARRAY_INDEX', "
        r"'ONE_HOT'",
    ):
        transform(lambda ids: Embed(4, 2, lookup_style="GATHER")(ids)).init(0, jnp.array([0]))
    with pytest.raises(InvalidArgumentError, match=r"unknown lookup_style 3"):
        transform(lambda ids: Embed(4, 2)(ids, lookup_style=3)).init(0, jnp.array([0]))
