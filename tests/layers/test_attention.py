"""MultiHeadAttention: parity with dm-haiku, names, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import InvalidArgumentError, transform
from minihaiku.initializers import variance_scaling
from minihaiku.layers import MultiHeadAttention

hk = pytest.importorskip("haiku")

TOL = {"rtol": 1e-5, "atol": 1e-6}
MHA = "~/MultiHeadAttention_0/__call__/"
SUBMODULES = ("query", "key", "value", "linear")


def rand(shape, seed=0):
    return jax.random.normal(jax.random.key(seed), shape, jnp.float32)


def mapping(with_bias=True):
    leaves = ("w", "b") if with_bias else ("w",)
    return {
        f"{MHA}{m}/__call__/{leaf}": (f"multi_head_attention/{m}", leaf)
        for m in SUBMODULES
        for leaf in leaves
    }


def check_parity(kwargs, *args, mask=None, with_bias=True):
    def hk_fn(q, k, v):
        w_init = hk.initializers.VarianceScaling(1.0)
        return hk.MultiHeadAttention(**kwargs, w_init=w_init, with_bias=with_bias)(q, k, v, mask)

    def mh_fn(q, k, v):
        return MultiHeadAttention(**kwargs, w_init=variance_scaling(1.0), with_bias=with_bias)(
            q, k, v, mask
        )

    hk_f = hk.without_apply_rng(hk.transform(hk_fn))
    hk_params = hk_f.init(jax.random.key(0), *args)
    # random biases too, so that the bias gradients are compared on non-zero values
    hk_params = jax.tree_util.tree_map(
        lambda v: v + 0.1 * jnp.sin(jnp.arange(v.size)).reshape(v.shape), hk_params
    )
    mh_f = transform(mh_fn)
    mh_init = mh_f.init(0, *args)
    table = mapping(with_bias)
    assert set(mh_init) == set(table)
    mh_params = {p: hk_params[m][leaf] for p, (m, leaf) in table.items()}
    for p in table:
        assert mh_init[p].shape == mh_params[p].shape, p
    assert len(table) == len(jax.tree_util.tree_leaves(hk_params))

    out = mh_f.apply(mh_params, *args)
    np.testing.assert_allclose(out, hk_f.apply(hk_params, *args), **TOL)

    def loss(apply):
        return lambda p, *a: jnp.sum(jnp.sin(apply(p, *a)))

    hk_g = jax.grad(loss(hk_f.apply), (0, 1, 2, 3))(hk_params, *args)
    mh_g = jax.grad(loss(mh_f.apply), (0, 1, 2, 3))(mh_params, *args)
    for p, (m, leaf) in table.items():
        np.testing.assert_allclose(mh_g[0][p], hk_g[0][m][leaf], **TOL)
    for a, b in zip(mh_g[1:], hk_g[1:], strict=True):
        np.testing.assert_allclose(a, b, **TOL)
    return out


def test_self_attention_matches_dm_haiku():
    x = rand((5, 6))
    out = check_parity({"num_heads": 2, "key_size": 3}, x, x, x)
    assert out.shape == (5, 6)


def test_cross_attention_with_different_sizes_matches_dm_haiku():
    q, k, v = rand((4, 6), 1), rand((7, 5), 2), rand((7, 3), 3)
    out = check_parity({"num_heads": 3, "key_size": 2, "value_size": 4, "model_size": 9}, q, k, v)
    assert out.shape == (4, 9)


def test_masked_attention_with_leading_batch_axes_matches_dm_haiku():
    q, k = rand((2, 3, 4, 6), 1), rand((2, 3, 5, 6), 2)
    mask = jax.random.bernoulli(jax.random.key(7), 0.6, (2, 3, 1, 4, 5))
    mask = mask.at[..., 0].set(True)  # every query sees at least one key
    check_parity({"num_heads": 2, "key_size": 4}, q, k, k, mask=mask)


def test_per_head_mask_without_bias_matches_dm_haiku():
    q, k = rand((4, 6), 1), rand((5, 6), 2)
    mask = jnp.tril(jnp.ones((2, 4, 5), bool))
    check_parity({"num_heads": 2, "key_size": 4}, q, k, k, mask=mask, with_bias=False)


def test_attention_against_a_hand_computation():
    q, k, v = rand((3, 4), 1), rand((5, 4), 2), rand((5, 4), 3)
    f = transform(lambda q, k, v: MultiHeadAttention(1, 2, w_init=variance_scaling())(q, k, v))
    p = f.init(0, q, k, v)

    def lin(name, x):
        return x @ p[f"{MHA}{name}/__call__/w"] + p[f"{MHA}{name}/__call__/b"]

    w = jax.nn.softmax(lin("query", q) @ lin("key", k).T / np.sqrt(2.0), axis=-1)
    np.testing.assert_allclose(f.apply(p, q, k, v), lin("linear", w @ lin("value", v)), **TOL)


def test_deprecated_w_init_scale_warns_and_scales_the_weights():
    x = jnp.ones((2, 400))
    f = transform(lambda x: MultiHeadAttention(1, 300, w_init_scale=4.0)(x, x, x))
    with pytest.warns(
        DeprecationWarning,
        match=r"MultiHeadAttention ~/MultiHeadAttention_0: w_init_scale is deprecated",
    ):
        params = f.init(0, x)
    assert abs(np.var(params[MHA + "query/__call__/w"]) * 400 / 4.0 - 1.0) < 0.05


def test_attention_needs_a_weight_initializer():
    x = jnp.ones((2, 3))
    with pytest.raises(
        InvalidArgumentError,
        match=r"MultiHeadAttention ~/att: a weight initializer is required: pass w_init",
    ):
        transform(lambda x: MultiHeadAttention(1, 2, name="att")(x, x, x)).init(0, x)
    with (
        pytest.warns(DeprecationWarning),
        pytest.raises(
            InvalidArgumentError,
            match=r"pass only w_init, not both w_init and the deprecated w_init_scale",
        ),
    ):
        transform(lambda x: MultiHeadAttention(1, 2, 1.0, w_init=variance_scaling())(x, x, x)).init(
            0, x
        )


def test_attention_refuses_bad_sizes():
    with pytest.raises(
        InvalidArgumentError,
        match=r"MultiHeadAttention ~/MultiHeadAttention_0: num_heads must be a positive int, got 0",
    ):
        transform(lambda x: MultiHeadAttention(0, 2, w_init="ones")(x, x, x)).init(
            0, jnp.ones((2, 3))
        )


def make(q_shape, k_shape, v_shape, mask=None):
    f = transform(lambda q, k, v: MultiHeadAttention(2, 2, w_init="ones")(q, k, v, mask))
    return lambda: f.init(0, jnp.ones(q_shape), jnp.ones(k_shape), jnp.ones(v_shape))


def test_attention_refuses_key_and_value_of_different_lengths():
    with pytest.raises(
        InvalidArgumentError,
        match=r"MultiHeadAttention ~/MultiHeadAttention_0: key and value must have the same "
        r"sequence length T, got key shape \(5, 3\) and value shape \(4, 3\)",
    ):
        make((2, 3), (5, 3), (4, 3))()


def test_attention_refuses_a_mask_of_the_wrong_rank():
    with pytest.raises(
        InvalidArgumentError,
        match=r"mask has rank 2 \(shape \(2, 5\)\) but the attention logits have rank 3 "
        r"\(shape \(2, 2, 5\), \[\.\.\., H, T', T\]\). Give the mask a head axis",
    ):
        make((2, 3), (5, 3), (5, 3), mask=jnp.ones((2, 5), bool))()


def test_attention_refuses_inputs_without_a_sequence_axis():
    with pytest.raises(
        InvalidArgumentError,
        match=r"query must have shape \[\.\.\., T, D\] \(rank >= 2\), got shape \(3,\)",
    ):
        make((3,), (5, 3), (5, 3))()


def test_attention_refuses_batch_axes_that_do_not_broadcast():
    with pytest.raises(
        InvalidArgumentError,
        match=r"the leading \(batch\) axes of query \(2, 4, 3\) and key \(3, 5, 3\) "
        r"do not broadcast",
    ):
        make((2, 4, 3), (3, 5, 3), (3, 5, 3))()


def test_attention_refuses_a_mask_whose_last_axes_do_not_match():
    with pytest.raises(
        InvalidArgumentError,
        match=r"MultiHeadAttention ~/MultiHeadAttention_0: mask of shape \(1, 2, 4\) does not "
        r"broadcast to the attention logits' shape \(2, 2, 5\) .*T'=2 queries and T=5 keys",
    ):
        make((2, 3), (5, 3), (5, 3), mask=jnp.ones((1, 2, 4), bool))()
