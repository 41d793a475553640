"""transform: init/apply semantics, frozen apply, JAX transforms, errors."""

import types
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    InitializerError,
    InvalidParamsError,
    MissingParameterError,
    Module,
    NotCallableError,
    NotInTransformError,
    ParameterDtypeError,
    ParameterShapeError,
    RngError,
    get_param,
    next_rng_key,
    transform,
)


class Affine(Module):
    def __init__(self, width, name=None):
        super().__init__(name=name)
        self.width = width

    def __call__(self, x):
        w = get_param("w", (x.shape[-1], self.width))
        b = get_param("b", (self.width,), init=jax.nn.initializers.zeros)
        return jnp.tanh(x @ w + b)


def net(x):
    h = Affine(4)(x)
    return Affine(1)(h)


x = jnp.linspace(-1.0, 1.0, 6).reshape(3, 2)


def test_int_seed_and_keys_give_the_same_params():
    f = transform(net)
    a = f.init(7, x)
    b = f.init(jax.random.PRNGKey(7), x)
    c = f.init(np.int64(7), x)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        np.testing.assert_array_equal(a[k], c[k])
    typed = f.init(jax.random.key(7), x)
    assert sorted(typed) == sorted(a)


def test_default_init_is_normal_stddev_one_keyed_by_path():
    key = jax.random.PRNGKey(3)
    params = transform(net).init(key, x)
    path = "~/Affine_0/__call__/w"
    expected = jax.random.normal(jax.random.fold_in(key, zlib.crc32(path.encode())), (2, 4))
    np.testing.assert_array_equal(params[path], expected)


def test_apply_matches_a_hand_computation():
    f = transform(net)
    params = f.init(0, x)
    h = np.tanh(np.asarray(x) @ params["~/Affine_0/__call__/w"])
    want = np.tanh(h @ params["~/Affine_1/__call__/w"])
    np.testing.assert_allclose(f.apply(params, x), want, rtol=1e-5)


def test_apply_does_not_mutate_or_copy_the_given_mapping():
    f = transform(net)
    params = f.init(0, x)
    before = dict(params)
    frozen = types.MappingProxyType(params)
    out = f.apply(frozen, x)
    assert out.shape == (3, 1)
    assert params.keys() == before.keys()
    assert all(params[k] is before[k] for k in before)


def test_jit_grad_vmap_of_apply_and_jit_of_init():
    f = transform(net)
    params = jax.jit(f.init)(jax.random.PRNGKey(0), x)
    eager = f.init(jax.random.PRNGKey(0), x)
    for k in eager:
        np.testing.assert_allclose(params[k], eager[k], rtol=1e-6)
    np.testing.assert_allclose(jax.jit(f.apply)(params, x), f.apply(params, x), rtol=1e-6)
    grads = jax.grad(lambda p: f.apply(p, x).sum())(params)
    assert sorted(grads) == sorted(params)
    eps = 1e-3
    k = "~/Affine_1/__call__/b"
    bumped = dict(params, **{k: params[k] + eps})
    numeric = (f.apply(bumped, x).sum() - f.apply(params, x).sum()) / eps
    np.testing.assert_allclose(grads[k][0], numeric, rtol=1e-2)
    batched = jax.vmap(f.apply, in_axes=(None, 0))(params, x[:, None, :])
    np.testing.assert_allclose(batched[:, 0, :], f.apply(params, x), rtol=1e-6)


def test_init_returns_a_plain_dict_in_creation_order():
    params = transform(net).init(0, x)
    assert type(params) is dict
    assert list(params) == [
        "~/Affine_0/__call__/w",
        "~/Affine_0/__call__/b",
        "~/Affine_1/__call__/w",
        "~/Affine_1/__call__/b",
    ]


def test_missing_parameter_names_the_path_and_nearest_names():
    f = transform(net)
    params = f.init(0, x)
    del params["~/Affine_1/__call__/w"]
    with pytest.raises(MissingParameterError) as e:
        f.apply(params, x)
    assert str(e.value) == (
        "parameter '~/Affine_1/__call__/w' is not in the parameter given to apply "
        "(3 entries). Nearest existing names: ['~/Affine_1/__call__/b', "
        "'~/Affine_0/__call__/w', '~/Affine_0/__call__/b']. apply never creates "
        "parameters: run init with the same function to get a mapping that holds it, "
        "and check that module names and order match."
    )
    assert isinstance(e.value, KeyError)


def test_shape_mismatch_names_path_expected_and_got():
    f = transform(net)
    params = f.init(0, x)
    with pytest.raises(ParameterShapeError) as e:
        f.apply(params, jnp.ones((3, 5)))
    assert str(e.value) == (
        "parameter '~/Affine_0/__call__/w' has shape (2, 4), but the code asks for "
        "shape (5, 4). The params were made for other inputs or another model: run "
        "init again with the inputs you apply to."
    )
    assert isinstance(e.value, ValueError)


def test_shape_mismatch_inside_one_init_says_why():
    def f():
        a = Affine(2, name="shared")
        a(jnp.ones((1, 3)))
        a(jnp.ones((1, 4)))

    with pytest.raises(ParameterShapeError) as e:
        transform(f).init(0)
    assert "It was created earlier in this init: a shared module is called" in str(e.value)
    assert "'~/shared/__call__/w' has shape (3, 2)" in str(e.value)


def test_dtype_mismatch_names_path_expected_and_got():
    f = transform(net)
    params = f.init(0, x)
    params["~/Affine_0/__call__/b"] = params["~/Affine_0/__call__/b"].astype(jnp.bfloat16)
    with pytest.raises(ParameterDtypeError) as e:
        f.apply(params, x)
    assert str(e.value) == (
        "parameter '~/Affine_0/__call__/b' has dtype bfloat16, but the code asks for "
        "dtype float32. The params were made for other inputs or another model: run "
        "init again with the inputs you apply to. Or cast the value back to float32."
    )


@pytest.mark.parametrize("bad", [[1, 2], None, (jnp.ones(2),), "params"])
def test_params_that_are_not_a_mapping(bad):
    with pytest.raises(InvalidParamsError) as e:
        transform(net).apply(bad, x)
    assert str(e.value) == (
        f"apply expects params as a mapping from path to array (what init returned), "
        f"got {type(bad).__name__}. Pass the dict that init returned, or one with the "
        "same keys."
    )
    assert isinstance(e.value, TypeError)


@pytest.mark.parametrize("leaf", [3.0, [1.0, 2.0], {"w": 1}, "w"])
def test_a_leaf_that_is_not_an_array(leaf):
    def f():
        return get_param("w", (2,))

    with pytest.raises(InvalidParamsError) as e:
        transform(f).apply({"~/w": leaf})
    assert str(e.value) == (
        f"parameter '~/w' is a {type(leaf).__name__}, not an array. Parameter values "
        "must be jax or numpy arrays (what init returns); convert with jnp.asarray, "
        "or pass the flat path-to-array dict that init returned."
    )


def test_numpy_arrays_are_accepted_as_params():
    f = transform(net)
    params = {k: np.asarray(v) for k, v in f.init(0, x).items()}
    assert f.apply(params, x).shape == (3, 1)


def test_get_param_outside_transform():
    with pytest.raises(NotInTransformError) as e:
        get_param("w", (1,))
    assert str(e.value) == (
        "get_param must be called inside a function transformed with "
        "minihaiku.core.transform (or transform_with_state), while its init or apply "
        "runs. Wrap the code that calls it in a function f and use "
        "transform(f).init / transform(f).apply."
    )


def test_transform_of_something_not_callable():
    with pytest.raises(NotCallableError) as e:
        transform(42)
    assert str(e.value) == (
        "transform expects a function, got int 42. Pass the function (or module "
        "method) itself, e.g. transform(lambda x: MLP([3, 5])(x))."
    )


@pytest.mark.parametrize("bad", ["seed", 1.5, None, jnp.ones(2)])
def test_init_with_something_that_is_not_a_key(bad):
    with pytest.raises(RngError) as e:
        transform(net).init(bad, x)
    assert str(e.value).startswith(
        "init expects a single PRNG key (jax.random.key(0) or jax.random.PRNGKey(0)) or "
        f"an int seed in [-2**31, 2**32), got {type(bad).__name__}"
    )


def test_next_rng_key_in_apply_with_apply_rng():
    def f():
        return jax.random.uniform(next_rng_key(), (3,)), jax.random.uniform(next_rng_key(), (3,))

    t = transform(f, apply_rng=True)
    a1, a2 = t.apply({}, jax.random.PRNGKey(1))
    b1, _ = t.apply({}, 1)
    assert not np.allclose(a1, a2)
    np.testing.assert_array_equal(a1, b1)
    c1, _ = t.apply({}, jax.random.PRNGKey(2))
    assert not np.allclose(a1, c1)
    assert t.init(1) == {}  # init has a key too, so next_rng_key works there


def test_next_rng_key_without_a_key_in_apply():
    t = transform(lambda: next_rng_key())
    with pytest.raises(RngError) as e:
        t.apply({})
    assert str(e.value) == (
        "next_rng_key was called but apply was given no key. Transform with "
        "transform(f, apply_rng=True) and call apply(params, rng, ...) with rng = "
        "jax.random.key(seed), or draw inside `with with_rng(key):`; use "
        "maybe_next_rng_key() where a key is optional."
    )
    with pytest.raises(RngError):
        transform(lambda: next_rng_key(), apply_rng=True).apply({}, None)


def test_apply_rng_without_the_key_argument():
    with pytest.raises(RngError, match=r"needs a key after params"):
        transform(lambda: 1, apply_rng=True).apply({})


def test_next_rng_key_outside_transform():
    with pytest.raises(NotInTransformError, match=r"^next_rng_key must be called inside"):
        next_rng_key()


def test_initializer_returning_the_wrong_shape_or_dtype():
    def f():
        return get_param("w", (2, 3), init=lambda k, s, d: jnp.zeros((3, 2), d))

    with pytest.raises(InitializerError) as e:
        transform(f).init(0)
    msg = str(e.value)
    assert msg.startswith("initializer ")
    assert msg.endswith(
        "returned shape (3, 2) and dtype float32 for parameter '~/w'; expected shape "
        "(2, 3) and dtype float32. An initializer must return an array of exactly the "
        "shape and dtype it is given."
    )

    def g():
        return get_param("w", (2,), init=lambda k, s, d: jnp.zeros(s, jnp.int32))

    with pytest.raises(InitializerError, match="dtype int32 for parameter '~/w'; expected"):
        transform(g).init(0)

    def h():
        return get_param("w", (2,), init=lambda k, s, d: [0.0, 0.0])

    with pytest.raises(InitializerError, match=r"returned a list, not an array, for parameter"):
        transform(h).init(0)


def test_init_that_is_neither_callable_nor_a_name():
    with pytest.raises(NotCallableError) as e:
        transform(lambda: get_param("w", (1,), init=3.0)).init(0)
    assert str(e.value) == (
        "init for '~/w' must be a callable (key, shape, dtype) -> Array or a registered "
        "initializer name, got float 3.0."
    )


@pytest.mark.parametrize("shape", [(-1, 2), "ab", (1.5,), None])
def test_bad_shapes(shape):
    with pytest.raises(ParameterShapeError, match=r"^shape for '~/w' (must be|has a negative)"):
        transform(lambda: get_param("w", shape)).init(0)


def test_shape_may_be_a_list_or_numpy_ints():
    f = transform(lambda: get_param("w", [np.int64(2), 3]))
    params = f.init(0)
    assert params["~/w"].shape == (2, 3)
    assert f.apply(params).shape == (2, 3)


def test_transformed_unpacks_like_the_seed():
    init, apply = transform(net)
    assert callable(init) and callable(apply)


def test_a_dtype_that_is_not_a_dtype():
    from minihaiku.core import InvalidArgumentTypeError

    with pytest.raises(InvalidArgumentTypeError) as e:
        transform(lambda: get_param("w", (2,), dtype="floaty")).init(0)
    assert str(e.value) == (
        "dtype for '~/w' is str 'floaty', which is not a dtype; pass a dtype such as "
        "jnp.float32 or 'float32'."
    )
