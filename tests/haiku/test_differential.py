"""dm-haiku programs run unchanged on minihaiku.haiku: names, layout, values, outputs, gradients."""

import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.haiku as mhk

haiku = pytest.importorskip("haiku")


def assert_same_tree(a, b):
    """Same nested keys in the same order, same shapes, dtypes and values bit for bit."""
    assert list(a) == list(b)
    for module in a:
        assert list(a[module]) == list(b[module]), module
        for name in a[module]:
            x, y = np.asarray(a[module][name]), np.asarray(b[module][name])
            assert x.shape == y.shape and x.dtype == y.dtype, (module, name)
            np.testing.assert_array_equal(x, y, err_msg=f"{module}/{name}")


def both(program, *args, key=None):
    """``program(hk)`` -> transformed; init with both libraries; returns both params."""
    key = jax.random.PRNGKey(42) if key is None else key
    return program(haiku).init(key, *args), program(mhk).init(key, *args)


X = jnp.linspace(-1.0, 1.0, 12).reshape(3, 4)
KEY = jax.random.PRNGKey(7)


def nested_program(hk):
    class Inner(hk.Module):
        def __call__(self, x):
            return hk.Linear(3)(x) + hk.Linear(3)(x)

    class Outer(hk.Module):
        def __init__(self, name=None):
            super().__init__(name=name)
            self.first = hk.Linear(3)  # built in __init__: outer/~/linear

        def __call__(self, x):
            x = self.first(x)
            x = hk.Linear(3)(x)  # built in __call__: outer/linear
            x = Inner()(x) + Inner()(x)
            return self.encode(x)

        def encode(self, x):  # built in another method: outer/~encode/...
            return hk.Linear(2, name="linear_5")(x) + hk.Linear(2)(x)

    def f(x):
        o = Outer()
        y = o(x) + o(x)  # calling again reuses the names made inside
        w = hk.get_parameter("w", [], init=hk.initializers.RandomNormal())
        with hk.name_scope("block"):
            z = hk.Linear(2)(x) * hk.get_parameter("v", [], init=jnp.ones)
        with hk.name_scope("block"):  # a second scope of that name: block_1
            z = z + hk.Linear(2, name="out")(x)
        a = hk.Linear(2)(x) + hk.Linear(2, name="linear_3")(x) + hk.Linear(2)(x)
        return (y + z + a) * w

    return hk.transform(f)


def test_nested_modules_get_dm_haiku_names_order_and_values():
    ref, got = both(nested_program, X, key=KEY)
    assert list(got) == [
        "outer/~/linear",
        "outer/linear",
        "outer/inner/linear",
        "outer/inner/linear_1",
        "outer/inner_1/linear",
        "outer/inner_1/linear_1",
        "outer/~encode/linear_5",
        "outer/~encode/linear_6",
        "~",
        "block/linear",
        "block",
        "block_1/out",
        "linear",
        "linear_3",
        "linear_4",
    ]
    assert_same_tree(ref, got)


def test_outputs_and_gradients_match():
    ref_f, got_f = nested_program(haiku), nested_program(mhk)
    params = ref_f.init(KEY, X)
    out_ref = ref_f.apply(params, None, X)
    out_got = got_f.apply(params, None, X)
    np.testing.assert_allclose(out_got, out_ref, rtol=1e-6, atol=1e-6)

    def loss(f):
        return lambda p: jnp.sum(f.apply(p, None, X) ** 2)

    g_ref = jax.grad(loss(ref_f))(params)
    g_got = jax.grad(loss(got_f))(params)
    assert jax.tree.structure(g_ref) == jax.tree.structure(g_got)
    for a, b in zip(jax.tree.leaves(g_ref), jax.tree.leaves(g_got), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-5)


def mlp_program(hk):
    def f(x, rate=None):
        rng = None if rate is None else hk.next_rng_key()
        return hk.nets.MLP([5, 4, 2])(x, rate, rng)

    return hk.transform(f)


def test_mlp_params_outputs_and_dropout_match():
    ref, got = both(mlp_program, X)
    assert list(got) == ["mlp/~/linear_0", "mlp/~/linear_1", "mlp/~/linear_2"]
    assert_same_tree(ref, got)
    key = jax.random.PRNGKey(3)
    for rate in (None, 0.5):  # dropout draws from apply's key as in dm-haiku
        a = mlp_program(haiku).apply(ref, key, X, rate)
        b = mlp_program(mhk).apply(ref, key, X, rate)
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)


def test_next_rng_key_in_init_and_apply_follows_dm_haikus_sequence():
    def program(hk):
        def f(x):
            k1 = hk.next_rng_key()
            w = hk.get_parameter("w", [4], init=hk.initializers.TruncatedNormal())
            ks = hk.next_rng_keys(2)
            hk.reserve_rng_keys(3)
            k2 = hk.maybe_next_rng_key()
            noise = jax.random.normal(k1, x.shape) + jax.random.uniform(k2, x.shape)
            return x * w + noise + jax.random.normal(ks[1], x.shape)

        return hk.transform(f)

    ref, got = both(program, X)
    assert_same_tree(ref, got)
    key = jax.random.PRNGKey(11)
    np.testing.assert_array_equal(
        program(mhk).apply(ref, key, X), program(haiku).apply(ref, key, X)
    )


def counter_program(hk):
    def f(x):
        n = hk.get_state("n", [], jnp.int32, init=jnp.zeros)
        hk.set_state("n", n + 1)
        total = hk.get_state("total", x.shape, init=jnp.zeros)
        hk.set_state("total", total + hk.Linear(4)(x))
        return x * n

    return hk.transform_with_state(f)


def test_transform_with_state_keeps_dm_haikus_state_at_every_step():
    (p_ref, s_ref), (p_got, s_got) = both(counter_program, X)
    assert_same_tree(p_ref, p_got)
    assert_same_tree(s_ref, s_got)
    assert list(s_got) == ["~"] and list(s_got["~"]) == ["n", "total"]
    for _ in range(3):
        out_ref, s_ref = counter_program(haiku).apply(p_ref, s_ref, None, X)
        out_got, s_got = counter_program(mhk).apply(p_ref, s_got, None, X)
        np.testing.assert_array_equal(out_got, out_ref)
        assert_same_tree(s_ref, s_got)
    assert int(s_got["~"]["n"]) == 3


def test_without_apply_rng_and_with_empty_state(hk):
    f = hk.without_apply_rng(hk.transform(lambda x: hk.Linear(2)(x)))
    params = f.init(KEY, X)
    assert f.apply(params, X).shape == (3, 2)
    g = hk.with_empty_state(hk.transform(lambda x: hk.Linear(2)(x)))
    p, s = g.init(KEY, X)
    assert s == {} and list(p) == ["linear"]


def test_multi_transform_matches():
    def program(hk):
        def f():
            enc, dec = hk.Linear(3, name="encoder"), hk.Linear(4, name="decoder")
            return (lambda x: dec(enc(x))), (lambda x: enc(x), lambda z: dec(z))

        return hk.multi_transform(f)

    ref, got = both(program, X)
    assert list(got) == ["encoder", "decoder"]
    assert_same_tree(ref, got)
    z = program(mhk).apply[0](got, None, X)
    np.testing.assert_allclose(z, program(haiku).apply[0](ref, None, X), rtol=1e-6)


def test_a_pickled_dm_haiku_checkpoint_loads_and_applies_unchanged(tmp_path):
    ref = nested_program(haiku).init(jax.random.PRNGKey(0), X)
    path = tmp_path / "params.pkl"
    path.write_bytes(pickle.dumps(jax.device_get(ref)))
    loaded = pickle.loads(path.read_bytes())
    out = nested_program(mhk).apply(loaded, None, X)
    np.testing.assert_allclose(out, nested_program(haiku).apply(ref, None, X), rtol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda i: i.Constant(0.25),
        lambda i: i.RandomNormal(0.5, 1.0),
        lambda i: i.RandomUniform(-2.0, 3.0),
        lambda i: i.TruncatedNormal(0.3, 0.1),
        lambda i: i.UniformScaling(2.0),
        lambda i: i.Orthogonal(1.5),
        lambda i: i.Identity(3.0),
        *[
            (lambda i, m=m, d=d: i.VarianceScaling(1.5, m, d))
            for m in ("fan_in", "fan_out", "fan_avg")
            for d in ("truncated_normal", "normal", "uniform")
        ],
        lambda i: i.VarianceScaling(2.0, fan_in_axes=(0, 1)),
    ],
)
def test_every_initializer_gives_dm_haikus_values(make):
    def program(hk):
        def f():
            a = hk.get_parameter("a", (4, 3, 5), init=make(hk.initializers))
            b = hk.get_parameter("b", (5, 5), init=make(hk.initializers))
            return a, b

        return hk.transform(f)

    ref, got = both(program)
    assert_same_tree(ref, got)


def test_linear_defaults_and_explicit_initializers_match():
    def program(hk):
        def f(x):
            a = hk.Linear(3)(x)
            b = hk.Linear(3, with_bias=False, w_init=hk.initializers.RandomUniform())(x)
            c = hk.Linear(3, b_init=hk.initializers.RandomNormal(), name="biased")(x)
            return a + b + c

        return hk.transform(f)

    ref, got = both(program, X)
    assert_same_tree(ref, got)
