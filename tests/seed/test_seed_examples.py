"""Every example of the seed tutorial (build_your_own_haiku), run on minihaiku.

Ported only where minihaiku's API must differ: ``transform`` returns an
``(init, apply)`` pair, ``init`` takes a key first, ``get_param`` takes a
shape, and parameter values are arrays. The printed parameter names and
shapes are exactly the seed's.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import Module, get_param, module_method, transform


def parameter_shapes(params):
    return jax.tree_util.tree_map(lambda p: p.shape, params)


class Linear(Module):
    def __init__(self, width):
        super().__init__()
        self._width = width

    @module_method  # Again, this decorator is behind-the-scenes in real Haiku.
    def __call__(self, x):
        w = get_param("w", shape=(x.shape[-1], self._width))
        b = get_param("b", shape=(self._width,))
        return x @ w + b


class MLP(Module):
    def __init__(self, widths):
        super().__init__()
        self._widths = widths

    @module_method
    def __call__(self, x):
        for w in self._widths:
            out = Linear(w)(x)
            x = jax.nn.sigmoid(out)
        return out


class ParameterReuseTest(Module):
    @module_method
    def __call__(self, x):
        f = Linear(x.shape[-1])

        x = f(x)
        x = jax.nn.relu(x)
        return f(x)


data = jnp.ones((2, 3))


def test_cell_5_module_apply_reads_given_params():
    class MyModule:
        def apply(self, x):
            return get_param("w", ()) * x

    # The seed's final create_param_path names a parameter outside any module '~/w'.
    params = {"~/w": jnp.asarray(5.0)}
    assert transform(MyModule().apply).apply(params, 5) == 25


def test_cell_6_jit_of_apply():
    def linear(x):
        return x @ get_param("w", (3, 5)) + get_param("b", (5,))

    params = {"~/w": jnp.ones((3, 5)), "~/b": jnp.ones((5,))}
    apply = transform(linear).apply
    out = jax.jit(apply)(params, jnp.ones((10, 3)))
    np.testing.assert_array_equal(out, np.full((10, 5), 4.0, np.float32))


def test_cell_9_plain_class_params_are_named_by_identifier(capsys):
    class PlainLinear:
        def __init__(self, width):
            self._width = width

        def __call__(self, x):
            w = get_param("w", shape=(x.shape[-1], self._width))
            b = get_param("b", shape=(self._width,))
            return x @ w + b

    init, apply = transform(PlainLinear(4))
    params = init(jax.random.PRNGKey(0), data)
    print(parameter_shapes(params))
    assert capsys.readouterr().out == "{'~/b': (4,), '~/w': (3, 4)}\n"
    out = apply(params, data)
    assert out.shape == (2, 4)
    np.testing.assert_allclose(out, data @ params["~/w"] + params["~/b"], rtol=1e-6)


def test_cell_12_linear_in_a_lambda(capsys):
    init, apply = transform(lambda x: Linear(4)(x))
    params = init(jax.random.PRNGKey(0), data)
    print(parameter_shapes(params))
    assert capsys.readouterr().out == (
        "{'~/Linear_0/__call__/b': (4,), '~/Linear_0/__call__/w': (3, 4)}\n"
    )
    out = apply(params, data)
    # Both rows of data are equal, so both rows of the output are.
    np.testing.assert_array_equal(out[0], out[1])


def test_cell_15_modules_get_separate_params(capsys):
    init, apply = transform(lambda x: MLP([3, 5])(x))
    print(parameter_shapes(init(jax.random.PRNGKey(0), data)))
    assert capsys.readouterr().out == (
        "{'~/MLP_0/__call__/Linear_0/__call__/b': (3,), "
        "'~/MLP_0/__call__/Linear_0/__call__/w': (3, 3), "
        "'~/MLP_0/__call__/Linear_1/__call__/b': (5,), "
        "'~/MLP_0/__call__/Linear_1/__call__/w': (3, 5)}\n"
    )


def test_cell_16_same_module_called_twice_reuses_params(capsys):
    init, forward = transform(lambda x: ParameterReuseTest()(x))
    print(parameter_shapes(init(jax.random.PRNGKey(0), data)))
    assert capsys.readouterr().out == (
        "{'~/ParameterReuseTest_0/__call__/Linear_0/__call__/b': (3,), "
        "'~/ParameterReuseTest_0/__call__/Linear_0/__call__/w': (3, 3)}\n"
    )


@pytest.fixture(scope="module")
def quadratic():
    xs = np.linspace(-2.0, 2.0, num=128)[:, None]
    ys = xs**2

    def mlp(x):
        return MLP([128, 128, 1])(x)

    init, forward = transform(mlp)
    params = init(jax.random.PRNGKey(0), xs)
    return xs, ys, forward, params


def test_cell_18_training_model_param_shapes(quadratic, capsys):
    *_, params = quadratic
    print(parameter_shapes(params))
    assert capsys.readouterr().out == (
        "{'~/MLP_0/__call__/Linear_0/__call__/b': (128,), "
        "'~/MLP_0/__call__/Linear_0/__call__/w': (1, 128), "
        "'~/MLP_0/__call__/Linear_1/__call__/b': (128,), "
        "'~/MLP_0/__call__/Linear_1/__call__/w': (128, 128), "
        "'~/MLP_0/__call__/Linear_2/__call__/b': (1,), "
        "'~/MLP_0/__call__/Linear_2/__call__/w': (128, 1)}\n"
    )


def test_cells_19_21_training_loop_fits_the_quadratic(quadratic):
    xs, ys, forward, params = quadratic

    def loss_fn(params, x, y):
        return jnp.mean((forward(params, x) - y) ** 2)

    LEARNING_RATE = 0.003

    @jax.jit
    def update(params, x, y):
        grads = jax.grad(loss_fn)(params, x, y)
        return jax.tree_util.tree_map(lambda p, g: p - LEARNING_RATE * g, params, grads)

    start = float(loss_fn(params, xs, ys))
    for _ in range(5000):
        params = update(params, xs, ys)
    final = float(loss_fn(params, xs, ys))
    assert final < 0.01
    assert final < start / 100
