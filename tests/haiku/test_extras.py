"""minihaiku's extras work on an hk program: interceptors, train() with nested params."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import minihaiku.haiku as hk
from minihaiku.core import RngError, intercept_params
from minihaiku.training import train

X = jnp.linspace(-1.0, 1.0, 32).reshape(-1, 1)


def test_param_interceptors_see_haiku_paths_and_change_values():
    seen = []

    def double(path, value):
        seen.append(path)
        return value * 2

    def f(x):
        with intercept_params(double):
            return hk.Linear(1, w_init=jnp.ones, b_init=jnp.ones)(x)

    t = hk.without_apply_rng(hk.transform(f))
    params = t.init(None, X)
    seen.clear()
    out = t.apply(params, jnp.ones((1, 1)))
    assert seen == ["linear/w", "linear/b"]
    np.testing.assert_array_equal(out, [[4.0]])


def test_train_runs_on_nested_params_and_returns_them_nested():
    f = hk.without_apply_rng(hk.transform(lambda x: hk.nets.MLP([8, 1])(x)))
    params = f.init(jax.random.PRNGKey(0), X)

    def loss(p, batch):
        x, y = batch
        return jnp.mean((f.apply(p, x) - y) ** 2)

    result = train(loss, params, (X, X**2), optax.adam(0.01), 30, progress=False)
    assert list(result.params) == ["mlp/~/linear_0", "mlp/~/linear_1"]
    assert sorted(result.params["mlp/~/linear_0"]) == ["b", "w"]
    assert result.losses[-1] < result.losses[0]
    np.testing.assert_allclose(float(loss(result.params, (X, X**2))), result.final_loss, rtol=1e-4)


def test_the_haiku_scheme_draws_no_key_for_keyless_initializers():
    # zeros and constants draw nothing (as dm-haiku's), so the next random value is unchanged
    def f(with_zeros):
        def g():
            if with_zeros:
                hk.get_parameter("z", [2], init=jnp.zeros)
                hk.get_parameter("c", [2], init=hk.initializers.Constant(1.0))
            return hk.get_parameter("w", [2], init=hk.initializers.RandomNormal())

        return hk.transform(g).init(jax.random.PRNGKey(0))["~"]["w"]

    np.testing.assert_array_equal(f(True), f(False))


def test_init_without_a_key_fails_only_when_a_random_initializer_runs():
    t = hk.transform(lambda: hk.get_parameter("w", [2], init=hk.initializers.RandomNormal()))
    with pytest.raises(RngError) as e:
        t.init(None)
    assert isinstance(e.value, ValueError)
    assert str(e.value) == (
        "next_rng_key was called (by a random initializer or your code) but init was "
        "given rng=None. Pass a key: init(jax.random.PRNGKey(seed), ...)."
    )
