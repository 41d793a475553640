"""minihaiku's extras work on an hk program: interceptors, train() with nested params."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import Mesh

import minihaiku.haiku as hk
import minihaiku.initializers as mi
from minihaiku.core import (
    RngError,
    UnknownInitializerError,
    init_shapes,
    intercept_params,
    param_axes,
    policy_scope,
    set_policy,
    sharded_init,
)
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


# ---- axes= annotations, param_axes, init_shapes and sharded_init: nested trees out ----

X3 = jnp.ones((2, 3))


def _annotated(x):
    x = hk.Linear(4, axes=("embed", "mlp"), name="proj")(x)
    return hk.nets.MLP([4, 2], name="mlp")(x)


def _module_keys(tree):
    return {m: sorted(inner) for m, inner in tree.items()}


def test_param_axes_of_an_hk_program_is_nested_like_its_params():
    t = hk.transform(_annotated)
    axes = param_axes(t, X3)
    params = t.init(jax.random.PRNGKey(0), X3)
    assert list(axes) == list(params) == ["proj", "mlp/~/linear_0", "mlp/~/linear_1"]
    assert _module_keys(axes) == _module_keys(params)
    assert axes["proj"] == {"w": ("embed", "mlp"), "b": ("mlp",)}
    # MLP's layers carry minihaiku.layers' default annotation of Linear
    assert axes["mlp/~/linear_0"] == {"w": ("embed", "mlp"), "b": ("mlp",)}


def test_param_axes_of_an_unannotated_stateful_hk_program_gives_none_per_leaf():
    def f(x):
        s = hk.get_state("count", [], init=jnp.zeros)
        hk.set_state("count", s + 1)
        return hk.get_parameter("w", [3], init=jnp.ones) * x

    p_axes, s_axes = param_axes(hk.transform_with_state(f), X3)
    assert p_axes == {"~": {"w": None}}
    assert s_axes == {"~": {"count": None}}


def test_init_shapes_with_a_mesh_are_nested_and_carry_the_shardings():
    mesh = Mesh(np.array(jax.devices()[:1]).reshape(1, 1), ("data", "model"))
    t = hk.transform(_annotated)
    shapes = init_shapes(t, X3, mesh=mesh, rules={"mlp": "model"})
    assert _module_keys(shapes) == _module_keys(t.init(jax.random.PRNGKey(0), X3))
    assert shapes["proj"]["w"].shape == (3, 4)
    assert tuple(shapes["proj"]["w"].sharding.spec) == (None, "model")
    assert tuple(shapes["mlp/~/linear_1"]["b"].sharding.spec) == ("model",)


def test_sharded_init_of_an_hk_program_on_one_device_is_nested_and_equals_init():
    mesh = Mesh(np.array(jax.devices()[:1]).reshape(1, 1), ("data", "model"))
    t = hk.transform(_annotated)
    key = jax.random.PRNGKey(3)
    got = sharded_init(t, mesh, {"mlp": "model"})(key, X3)
    ref = t.init(key, X3)
    assert list(got) == list(ref)
    assert _module_keys(got) == _module_keys(ref)
    for m, inner in ref.items():
        for n, v in inner.items():
            np.testing.assert_array_equal(got[m][n], v)
    assert tuple(got["proj"]["w"].sharding.spec) == (None, "model")


EIGHT_DEVICES_HK = """
import json, sys
import jax, jax.numpy as jnp, numpy as np
from jax.sharding import Mesh
import minihaiku.haiku as hk
from minihaiku.core import param_shardings, sharded_init

def f(x):
    x = hk.Linear(16, axes=("embed", "mlp"), name="proj")(x)
    x = hk.LayerNorm(-1, True, True, name="ln")(x)
    return hk.Linear(8, axes=("mlp", "embed"), name="out")(x)

t = hk.transform(f)
x = jnp.ones((4, 8))
mesh = Mesh(np.array(jax.devices()).reshape(2, 4), ("data", "model"))
rules = {"mlp": "model", "embed": "data"}
key = jax.random.PRNGKey(7)
got = sharded_init(t, mesh, rules)(key, x)
ref = t.init(key, x)
sh = param_shardings(t, x, mesh=mesh, rules=rules)
out = {
    "order": [list(got), [sorted(v) for v in got.values()]],
    "ref_order": [list(ref), [sorted(v) for v in ref.values()]],
    "spec": {m: {n: [a for a in v.sharding.spec] for n, v in d.items()} for m, d in got.items()},
    "planned": {m: {n: [a for a in s.spec] for n, s in d.items()} for m, d in sh.items()},
    "shards": {m: {n: [list(s.data.shape) for s in v.addressable_shards][:1] for n, v in d.items()}
               for m, d in got.items()},
    "equal": all(bool((got[m][n] == ref[m][n]).all()) for m in ref for n in ref[m]),
}
json.dump({"devices": jax.device_count(), "out": out}, sys.stdout)
"""


@pytest.mark.multiprocess
def test_sharded_init_of_an_hk_program_on_eight_devices(eight_devices_run):
    run = eight_devices_run("-c", EIGHT_DEVICES_HK)
    assert run["devices"] == 8
    out = run["out"]
    assert (
        out["order"]
        == out["ref_order"]
        == [
            ["proj", "ln", "out"],
            [["b", "w"]] * 1
            + [
                ["offset", "scale"],
                ["b", "w"],
            ],
        ]
    )
    assert out["equal"] is True
    expected = {
        "proj": {"w": ["data", "model"], "b": ["model"]},
        "ln": {"scale": ["data"], "offset": ["data"]},  # LayerNorm's default ("embed",)
        "out": {"w": ["model", "data"], "b": ["data"]},
    }
    assert out["spec"] == out["planned"] == expected
    assert out["shards"]["proj"]["w"] == [[4, 4]]  # (8, 16) over data=2, model=4


# ---- initializers by registered name ----


def test_initializers_by_registered_name_on_hk_layers():
    def f(x):
        a = hk.Linear(2, w_init="lecun_normal", b_init="ones", name="a")(x)
        # the same initializer given the way dm-haiku would call it: one key from the sequence
        b = hk.Linear(
            2,
            w_init=lambda shape, dtype: mi.lecun_normal()(hk.next_rng_key(), shape, dtype),
            b_init=jnp.ones,
            name="b",
        )(x)
        c = hk.Conv1D(2, 3, w_init="glorot_uniform", b_init="zeros", name="c")(x[:, :, None])
        return a, b, c

    params = hk.transform(f).init(jax.random.PRNGKey(0), X3)
    np.testing.assert_array_equal(params["a"]["b"], np.ones(2, np.float32))
    assert params["c"]["w"].shape == (3, 1, 2)
    # one key each, in the same order of the sequence: a's w from key 1, b's w from key 2
    ref = hk.transform(
        lambda x: (
            hk.Linear(2, w_init=lambda s, d: mi.lecun_normal()(hk.next_rng_key(), s, d), name="a")(
                x
            ),
        )
    ).init(jax.random.PRNGKey(0), X3)
    np.testing.assert_array_equal(params["a"]["w"], ref["a"]["w"])
    assert not np.array_equal(params["a"]["w"], params["b"]["w"])


def test_an_unknown_initializer_name_on_an_hk_layer_names_the_module_and_the_known_ones():
    with pytest.raises(UnknownInitializerError) as e:
        hk.transform(lambda x: hk.Linear(2, w_init="no_such_init")(x)).init(None, X3)
    assert isinstance(e.value, KeyError)
    assert str(e.value).startswith(
        "Linear linear: w_init='no_such_init': no initializer named 'no_such_init' is "
        "registered (known: "
    )
    assert "lecun_normal" in str(e.value)


# ---- per-instance, per-class and per-path precision policies ----

BF16 = "params=float32,compute=bfloat16,output=bfloat16"


def test_a_policy_on_one_hk_module_instance_changes_only_that_instance():
    def f(x):
        a, b = hk.Linear(2, name="a"), hk.Linear(2, name="b")
        set_policy(a, BF16)
        return a(x), b(x)

    with policy_scope():
        t = hk.transform(f)
        params = t.init(jax.random.PRNGKey(0), X3)
        ya, yb = t.apply(params, None, X3)
    assert (ya.dtype, yb.dtype) == (jnp.bfloat16, jnp.float32)
    assert {v.dtype for d in params.values() for v in d.values()} == {jnp.dtype("float32")}
    ref = jnp.dot(X3.astype(jnp.bfloat16), params["a"]["w"].astype(jnp.bfloat16))
    np.testing.assert_array_equal(ya, ref + params["a"]["b"].astype(jnp.bfloat16))


def test_a_policy_on_a_haiku_module_path_and_on_a_class():
    XR = jax.random.normal(jax.random.PRNGKey(5), (4, 3))
    t = hk.transform(lambda x: hk.nets.MLP([8, 2], name="mlp")(x))
    params = t.init(jax.random.PRNGKey(0), XR)
    plain = t.apply(params, None, XR)
    with policy_scope():
        set_policy("mlp/~/linear_1", BF16)  # dm-haiku's module name as the pattern
        assert t.apply(params, None, XR).dtype == jnp.bfloat16
    with policy_scope():
        # compute in bfloat16 in the first layer only, handing float32 on
        set_policy("mlp/~/linear_0", "params=float32,compute=bfloat16,output=float32")
        first = t.apply(params, None, XR)
    assert first.dtype == jnp.float32
    assert not np.array_equal(first, plain)
    with policy_scope():
        set_policy(hk.Linear, BF16)
        assert t.apply(params, None, XR).dtype == jnp.bfloat16
    np.testing.assert_array_equal(t.apply(params, None, XR), plain)
