"""EMAParamsTree and SNParamsTree: dm-haiku's state names, values over steps, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku import layers
from minihaiku.core import InvalidArgumentTypeError, transform_with_state

hk = pytest.importorskip("haiku")


def tree(seed):
    k = jax.random.key(seed)
    return {
        "linear": {"w": jax.random.normal(k, (3, 4)), "b": jnp.full((4,), float(seed))},
        "mlp/~/linear_0": {"w": jax.random.normal(jax.random.fold_in(k, 1), (4, 2))},
    }


def hk_names(state, module):
    return [k.removeprefix(module + "/") for k in state]


def mh_names(state, module):
    return sorted({k.split("/")[3] for k in state if k.startswith(f"~/{module}_0/")})


@pytest.mark.parametrize("ignore", ["", ".*b$", "linear", "w"])
def test_ema_params_tree_matches_dm_haiku_over_steps(ignore):
    def make(lib):
        return lambda t: lib.EMAParamsTree(0.8, ignore_regex=ignore)(t)

    hk_f = hk.transform_with_state(make(hk))
    f = transform_with_state(make(layers))
    _, hk_state = hk_f.init(None, tree(0))
    _, state = f.init(0, tree(0))
    assert mh_names(state, "EMAParamsTree") == sorted(hk_names(hk_state, "ema_params_tree"))
    for step in range(1, 4):
        hk_out, hk_state = hk_f.apply({}, hk_state, None, tree(step))
        out, state = f.apply({}, state, tree(step))
        assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(hk_out)
        for a, b in zip(
            jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(hk_out), strict=True
        ):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_sn_params_tree_matches_dm_haiku():
    def make(lib):
        return lambda t: lib.SNParamsTree(n_steps=2, ignore_regex=".*b$")(t)

    hk_f = hk.transform_with_state(make(hk))
    f = transform_with_state(make(layers))
    _, hk_state = hk_f.init(jax.random.key(0), tree(0))
    _, state = f.init(0, tree(0))
    assert mh_names(state, "SNParamsTree") == sorted(hk_names(hk_state, "sn_params_tree"))
    # the same u0 in both: dm-haiku's draw
    state = {k: hk_state["sn_params_tree/" + k.split("/")[3]][k.split("/")[-1]] for k in state}
    hk_out, hk_state = hk_f.apply({}, hk_state, None, tree(1))
    out, state = f.apply({}, state, tree(1))
    for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(hk_out), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_flat_minihaiku_params_are_a_tree_too():
    params = {"~/Linear_0/__call__/w": jnp.ones((2, 2)), "~/Linear_0/__call__/b": jnp.ones(2)}
    f = transform_with_state(lambda p: layers.EMAParamsTree(0.5, ignore_regex=".*/b$")(p))
    _, state = f.init(0, params)
    assert mh_names(state, "EMAParamsTree") == ["_tilde___Linear_0____call____w"]
    out, _ = f.apply({}, state, params)
    assert sorted(out) == sorted(params)


def test_errors():
    f = transform_with_state(lambda p: layers.EMAParamsTree(0.5)(p))
    with pytest.raises(InvalidArgumentTypeError, match=r"EMAParamsTree_0: tree must be a dict"):
        f.init(0, [jnp.ones(2)])
    g = transform_with_state(lambda p: layers.SNParamsTree(ignore_regex=3)(p))
    with pytest.raises(InvalidArgumentTypeError, match="ignore_regex must be a string"):
        g.init(0, tree(0))
