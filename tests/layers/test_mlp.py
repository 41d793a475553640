"""MLP (dropout, reverse, b_init check) and Linear (precision): parity with dm-haiku, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from minihaiku.core import InvalidArgumentError, RngError, transform
from minihaiku.initializers import ones
from minihaiku.layers import MLP, Linear

hk = pytest.importorskip("haiku")

x = jax.random.normal(jax.random.PRNGKey(0), (4, 3))


def hk_mlp_params_to_flat(hk_params, prefix="~/MLP_0/__call__"):
    out = {}
    for module, leaves in hk_params.items():
        i = int(module.rsplit("_", 1)[-1])
        for leaf, v in leaves.items():
            out[f"{prefix}/Linear_{i}/__call__/{leaf}"] = v
    return out


def both(make_hk, make_ours, *args):
    g = hk.without_apply_rng(hk.transform(make_hk))
    hk_params = g.init(jax.random.PRNGKey(0), *args)
    f = transform(make_ours)
    params = hk_mlp_params_to_flat(hk_params)
    assert {k: v.shape for k, v in params.items()} == {
        k: v.shape for k, v in f.init(0, *args).items()
    }
    return g, hk_params, f, params


@pytest.mark.parametrize("activate_final", [False, True])
@pytest.mark.parametrize("rng", [None, 3, jax.random.PRNGKey(5)])
def test_mlp_matches_dm_haiku_with_and_without_dropout(activate_final, rng):
    rate = None if rng is None else 0.4
    kw = {"activation": jnp.tanh, "activate_final": activate_final}
    g, hk_params, f, params = both(
        lambda x: hk.nets.MLP([8, 8, 2], **kw)(x, dropout_rate=rate, rng=rng),
        lambda x: MLP([8, 8, 2], **kw)(x, dropout_rate=rate, rng=rng),
        x,
    )
    out = f.apply(params, x)
    np.testing.assert_allclose(out, g.apply(hk_params, x), rtol=1e-6, atol=1e-7)
    if rng is not None:  # dropout really happened: it differs from the deterministic run
        plain = transform(lambda x: MLP([8, 8, 2], **kw)(x)).apply(params, x)
        assert not np.allclose(out, plain)
    loss = lambda apply: jax.grad(lambda p, x: jnp.sum(apply(p, x) ** 2), argnums=(0, 1))
    (hk_gp, hk_gx), (gp, gx) = loss(g.apply)(hk_params, x), loss(f.apply)(params, x)
    np.testing.assert_allclose(gx, hk_gx, rtol=1e-5, atol=1e-6)
    for k, v in hk_mlp_params_to_flat(hk_gp).items():
        np.testing.assert_allclose(gp[k], v, rtol=1e-5, atol=1e-6, err_msg=k)


def test_mlp_takes_dm_haikus_positional_order():
    f = transform(lambda x: MLP([2], ones(), None, False, jnp.tanh, True)(x))
    params = f.init(0, x)
    assert list(params) == ["~/MLP_0/__call__/Linear_0/__call__/w"]
    np.testing.assert_allclose(
        f.apply(params, x), np.tanh(np.asarray(x).sum(1, keepdims=True) * [1, 1]), rtol=1e-6
    )


def test_mlp_dropout_and_rng_go_together():
    with pytest.raises(RngError) as e:
        transform(lambda x: MLP([2])(x, dropout_rate=0.5)).init(0, x)
    assert str(e.value) == (
        "MLP ~/MLP_0: dropout_rate=0.5 needs an rng key. Pass rng=next_rng_key() (or any "
        "PRNG key) with dropout_rate."
    )
    with pytest.raises(InvalidArgumentError) as e:
        transform(lambda x: MLP([2])(x, rng=jax.random.PRNGKey(0))).init(0, x)
    assert str(e.value) == (
        "MLP ~/MLP_0: rng is only used for dropout; pass dropout_rate with it, or leave rng out."
    )


def test_mlp_b_init_without_bias_is_an_error():
    with pytest.raises(InvalidArgumentError) as e:
        transform(lambda x: MLP([2], b_init=ones(), with_bias=False)(x)).init(0, x)
    assert str(e.value) == (
        "MLP ~/MLP_0: b_init is given but with_bias=False, so there is no bias to "
        "initialize. Drop b_init, or set with_bias=True."
    )


def test_mlp_reverse_mirrors_the_layers_like_dm_haiku():
    def ours(x):
        mlp = MLP([5, 7, 2], activation=jnp.tanh, activate_final=True)
        y = mlp(x)
        rev = mlp.reverse(activate_final=False)
        assert (rev.output_sizes, rev.activate_final, rev.activation) == (
            (7, 5, 3),
            False,
            jnp.tanh,
        )
        assert rev.name == "MLP_0_reversed"
        return rev(y), mlp.reverse(name="back").name

    def theirs(x):
        mlp = hk.nets.MLP([5, 7, 2], activation=jnp.tanh, activate_final=True)
        y = mlp(x)
        return mlp.reverse(activate_final=False)(y)

    f = transform(ours)
    params = f.init(0, x)
    rev = "~/MLP_0/reverse/MLP_0_reversed/__call__"
    assert {k: v.shape for k, v in params.items() if k.startswith(rev)} == {
        f"{rev}/Linear_0/__call__/w": (2, 7),
        f"{rev}/Linear_0/__call__/b": (7,),
        f"{rev}/Linear_1/__call__/w": (7, 5),
        f"{rev}/Linear_1/__call__/b": (5,),
        f"{rev}/Linear_2/__call__/w": (5, 3),
        f"{rev}/Linear_2/__call__/b": (3,),
    }
    out, other_name = f.apply(params, x)
    assert other_name == "back"
    g = hk.without_apply_rng(hk.transform(theirs))
    hk_params = g.init(jax.random.PRNGKey(0), x)
    mapping = {}
    for module, leaves in hk_params.items():
        i = int(module.rsplit("_", 1)[-1])
        prefix = rev if "reversed" in module else "~/MLP_0/__call__"
        for leaf, v in leaves.items():
            mapping[f"{prefix}/Linear_{i}/__call__/{leaf}"] = v
    assert sorted(mapping) == sorted(params)
    np.testing.assert_allclose(f.apply(mapping, x)[0], g.apply(hk_params, x), rtol=1e-6)


def test_mlp_reverse_before_a_call_is_an_error():
    with pytest.raises(InvalidArgumentError) as e:
        transform(lambda x: MLP([2]).reverse()(x)).init(0, x)
    assert str(e.value) == (
        "MLP ~/MLP_0: reverse() needs the input size of every layer, known only once the "
        "MLP has been called. Call it on an input first."
    )


@pytest.mark.parametrize("precision", [None, lax.Precision.HIGHEST, lax.Precision.DEFAULT])
def test_linear_precision_matches_dm_haiku(precision):
    g = hk.without_apply_rng(hk.transform(lambda x: hk.Linear(4)(x, precision=precision)))
    hk_params = g.init(jax.random.PRNGKey(0), x)
    f = transform(lambda x: Linear(4)(x, precision=precision))
    params = {f"~/Linear_0/__call__/{k}": v for k, v in hk_params["linear"].items()}
    np.testing.assert_allclose(f.apply(params, x), g.apply(hk_params, x), rtol=1e-6)
    (dot,) = [
        e
        for e in jax.make_jaxpr(f.apply)(params, x).jaxpr.eqns
        if e.primitive.name == "dot_general"
    ]
    want = None if precision is None else (precision, precision)
    assert dot.params["precision"] == want


def test_linear_records_its_input_size_like_dm_haiku():
    def f(x):
        lin = Linear(2)
        assert lin.input_size is None
        lin(x)
        return lin.input_size

    assert transform(f).apply(transform(f).init(0, x), x) == 3
