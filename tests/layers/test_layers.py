"""Linear and MLP: names, values, defaults, errors, and the traced computation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    NotCallableError,
    UnknownInitializerError,
    transform,
)
from minihaiku.layers import MLP, Linear

x = jnp.linspace(-1.0, 1.0, 12, dtype=jnp.float32).reshape(4, 3)


def test_linear_names_shapes_and_value():
    f = transform(lambda x: Linear(5)(x))
    params = f.init(0, x)
    assert {k: v.shape for k, v in params.items()} == {
        "~/Linear_0/__call__/w": (3, 5),
        "~/Linear_0/__call__/b": (5,),
    }
    w, b = params["~/Linear_0/__call__/w"], params["~/Linear_0/__call__/b"]
    np.testing.assert_allclose(f.apply(params, x), np.asarray(x) @ w + b, rtol=1e-6)


def test_linear_defaults_are_lecun_normal_and_zeros():
    f = transform(lambda x: Linear(256)(x))
    params = f.init(0, jnp.ones((1, 400)))
    w = np.asarray(params["~/Linear_0/__call__/w"])
    assert abs(w.var() * 400 - 1.0) < 0.05
    assert np.abs(w).max() <= 2.0 / np.sqrt(400) / 0.87962566 + 1e-6
    np.testing.assert_array_equal(params["~/Linear_0/__call__/b"], np.zeros(256))


def test_linear_without_bias_and_with_named_inits():
    f = transform(lambda x: Linear(2, with_bias=False, w_init="ones", name="proj")(x))
    params = f.init(0, x)
    assert list(params) == ["~/proj/__call__/w"]
    np.testing.assert_allclose(f.apply(params, x), np.asarray(x).sum(1, keepdims=True) * [1, 1])


def test_linear_params_take_the_input_dtype():
    params = transform(lambda x: Linear(2)(x)).init(0, x.astype(jnp.bfloat16))
    assert {v.dtype for v in params.values()} == {jnp.dtype(jnp.bfloat16)}
    # numpy float64 input with x64 off gives float32 params, without warnings
    params = transform(lambda x: Linear(2)(x)).init(0, np.ones((1, 3)))
    assert {v.dtype for v in params.values()} == {jnp.dtype(jnp.float32)}


def test_mlp_names_match_the_seed():
    f = transform(lambda x: MLP([128, 128, 1], activation=jax.nn.sigmoid)(x))
    params = f.init(0, jnp.ones((2, 1)))
    assert {k: v.shape for k, v in sorted(params.items())} == {
        "~/MLP_0/__call__/Linear_0/__call__/b": (128,),
        "~/MLP_0/__call__/Linear_0/__call__/w": (1, 128),
        "~/MLP_0/__call__/Linear_1/__call__/b": (128,),
        "~/MLP_0/__call__/Linear_1/__call__/w": (128, 128),
        "~/MLP_0/__call__/Linear_2/__call__/b": (1,),
        "~/MLP_0/__call__/Linear_2/__call__/w": (128, 1),
    }


def hand_mlp(params, x, n, act, final=False):
    for i in range(n):
        p = f"~/MLP_0/__call__/Linear_{i}/__call__/"
        x = x @ params[p + "w"] + params[p + "b"]
        if i < n - 1 or final:
            x = act(x)
    return x


@pytest.mark.parametrize("activate_final", [False, True])
def test_mlp_value_against_a_hand_computation(activate_final):
    f = transform(lambda x: MLP([4, 2], activation=jnp.tanh, activate_final=activate_final)(x))
    params = f.init(1, x)
    want = hand_mlp(params, x, 2, jnp.tanh, activate_final)
    np.testing.assert_allclose(f.apply(params, x), want, rtol=1e-6)


def test_mlp_default_activation_is_relu():
    f = transform(lambda x: MLP([8, 2])(x))
    params = f.init(2, x)
    np.testing.assert_allclose(f.apply(params, x), hand_mlp(params, x, 2, jax.nn.relu), rtol=1e-6)


def test_mlp_called_twice_shares_params():
    def g(x):
        m = MLP([3, 3])
        return m(m(x))

    assert len(transform(g).init(0, x)) == 4


def primitives(fn, *args):
    return [eqn.primitive.name for eqn in jax.make_jaxpr(fn)(*args).jaxpr.eqns]


def test_jitted_mlp_apply_traces_to_the_hand_written_primitives():
    f = transform(lambda x: MLP([128, 128, 1], activation=jax.nn.sigmoid)(x))
    params = f.init(0, x[:, :1])
    xs = x[:, :1]
    ours = jax.make_jaxpr(jax.jit(f.apply))(params, xs)
    hand = jax.make_jaxpr(jax.jit(lambda p, x: hand_mlp(p, x, 3, jax.nn.sigmoid)))(params, xs)
    inner = lambda j: [e.primitive.name for e in j.jaxpr.eqns[0].params["jaxpr"].jaxpr.eqns]
    assert inner(ours) == inner(hand)
    assert inner(ours).count("dot_general") == 3
    # And the compiled HLO is the same program.
    c1 = jax.jit(f.apply).lower(params, xs).as_text()
    c2 = jax.jit(lambda p, x: hand_mlp(p, x, 3, jax.nn.sigmoid)).lower(params, xs).as_text()
    body = lambda t: [
        line.split("=", 1)[-1].strip() for line in t.splitlines() if "stablehlo." in line
    ]
    assert body(c1) == body(c2)


@pytest.mark.parametrize(
    ("size", "error", "message"),
    [
        (
            0,
            InvalidArgumentError,
            "Linear ~/Linear_0: output_size must be a positive int, got 0. A layer needs at "
            "least one output unit.",
        ),
        (
            -3,
            InvalidArgumentError,
            "Linear ~/Linear_0: output_size must be a positive int, got -3. A layer needs at "
            "least one output unit.",
        ),
        (
            2.5,
            InvalidArgumentTypeError,
            "Linear ~/Linear_0: output_size must be a positive int, got float 2.5. Pass e.g. "
            "output_size=128.",
        ),
        (
            True,
            InvalidArgumentTypeError,
            "Linear ~/Linear_0: output_size must be a positive int, got the bool True.",
        ),
    ],
)
def test_linear_bad_sizes(size, error, message):
    with pytest.raises(error) as e:
        transform(lambda x: Linear(size)(x)).init(0, x)
    assert str(e.value) == message


def test_mlp_bad_sizes():
    with pytest.raises(InvalidArgumentError) as e:
        transform(lambda x: MLP([4, 0, 1])(x)).init(0, x)
    assert str(e.value) == (
        "MLP ~/MLP_0: output_sizes[1] must be a positive int, got 0. A layer needs at "
        "least one output unit."
    )
    with pytest.raises(InvalidArgumentTypeError, match=r"^MLP ~/MLP_0: output_sizes is empty"):
        transform(lambda x: MLP([])(x)).init(0, x)
    with pytest.raises(InvalidArgumentTypeError) as e:
        transform(lambda x: MLP(5)(x)).init(0, x)
    assert str(e.value) == (
        "MLP ~/MLP_0: output_sizes must be a sequence of positive ints, got int 5. Pass "
        "e.g. [128, 128, 1]."
    )


def test_mlp_activation_must_be_callable():
    with pytest.raises(NotCallableError, match=r"^MLP ~/MLP_0: activation must be a callable"):
        transform(lambda x: MLP([2], activation="relu")(x)).init(0, x)


@pytest.mark.parametrize("bad", [jnp.float32(1.0), 3.0])
def test_input_without_a_feature_axis(bad):
    with pytest.raises(InvalidArgumentError) as e:
        transform(lambda x: MLP([2])(x)).init(0, bad)
    shape = "shape ()" if hasattr(bad, "shape") else "float"
    assert str(e.value) == (
        f"Linear ~/MLP_0/__call__/Linear_0 needs an input with a feature axis (shape "
        f"(..., features)), got {shape}. Add an axis, e.g. x[..., None] or "
        "x.reshape(-1, 1)."
    )


def test_inits_that_do_not_resolve():
    with pytest.raises(UnknownInitializerError) as e:
        transform(lambda x: Linear(2, w_init="he_nromal")(x)).init(0, x)
    assert str(e.value).startswith(
        "Linear ~/Linear_0: w_init='he_nromal': no initializer named 'he_nromal' is "
        "registered (known: "
    )
    with pytest.raises(NotCallableError) as e:
        transform(lambda x: MLP([2], b_init=0.0)(x)).init(0, x)
    assert str(e.value) == (
        "MLP ~/MLP_0: b_init must be a (key, shape, dtype) -> Array callable or a "
        "registered initializer name, got float 0.0."
    )
