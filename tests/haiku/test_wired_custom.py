"""Creators, getters, setters, DO_NOT_STORE and get_params & co. on minihaiku.haiku vs dm-haiku."""

import jax
import jax.numpy as jnp
import pytest

import minihaiku.haiku as mhk

from ._compare import assert_same_tree, run_both

haiku = pytest.importorskip("haiku")

X = jax.random.normal(jax.random.PRNGKey(1), (2, 4))


def _program(hk, seen):
    def creator(next_creator, shape, dtype, init, context):
        seen.append(("create", context.full_name, context.module_name, context.name, tuple(shape)))
        return next_creator(shape, dtype, init)

    def getter(next_getter, value, context):
        seen.append(("get", context.full_name, context.module_name, context.name))
        return next_getter(value * 2 if context.name == "w" else value)

    def setter(next_setter, value, context):
        seen.append(("set", context.full_name, context.module_name, context.name))
        return next_setter(value + 10)

    def f(x):
        with (
            hk.custom_creator(creator, state=True),
            hk.custom_getter(getter, state=True),
            hk.custom_setter(setter),
        ):
            y = hk.nets.MLP([3, 2])(x)
            c = hk.get_state("count", [], jnp.int32, init=jnp.zeros)
            hk.set_state("count", c + 1)
            seen.append(("params", jax.tree.map(jnp.shape, hk.get_params())))
            seen.append(("state", hk.get_current_state(), hk.get_initial_state()))
        return y

    return hk.transform_with_state(f)


def test_creators_getters_setters_and_introspection_see_what_dm_haiku_shows():
    key = jax.random.PRNGKey(0)
    runs = []
    for hk in (haiku, mhk):
        seen = []
        f = _program(hk, seen)
        params, state = f.init(key, X)
        out, new_state = f.apply(params, state, None, X)
        runs.append((seen, params, state, out, new_state))
    (seen_ref, *ref), (seen_got, *got) = runs
    assert [s[:4] for s in seen_got if s[0] != "params" and s[0] != "state"] == [
        s[:4] for s in seen_ref if s[0] != "params" and s[0] != "state"
    ]
    assert seen_got[0] == ("create", "mlp/~/linear_0/w", "mlp/~/linear_0", "w", (4, 3))
    for a, b in zip(seen_ref, seen_got, strict=True):
        if a[0] in ("params", "state"):
            assert_same_tree(b[1:], a[1:])
    assert_same_tree(got, ref, exact=False)


def _do_not_store(hk, x):
    def creator(next_creator, shape, dtype, init, context):
        if context.name == "w":
            return hk.experimental.DO_NOT_STORE
        return next_creator(shape, dtype, init)

    def getter(next_getter, value, context):
        if context.name == "w":
            value = jnp.ones(context.original_shape, context.original_dtype)
        return next_getter(value)

    with hk.custom_creator(creator), hk.custom_getter(getter):
        return hk.Linear(3)(x)


def test_do_not_store_keeps_the_parameter_out_of_params():
    params, _ = run_both(haiku, mhk, _do_not_store, X)
    assert {m: list(v) for m, v in params.items()} == {"linear": ["b"]}


def test_get_initial_state_in_apply_is_the_state_given():
    def f(hk):
        def fn():
            hk.set_state("n", hk.get_state("n", [], init=jnp.zeros) + 1)
            return hk.get_initial_state(), hk.get_current_state()

        return hk.transform_with_state(fn)

    params, state = f(haiku).init(None)
    ref = f(haiku).apply(params, state, None)
    got = f(mhk).apply(params, state, None)
    assert_same_tree(got, ref)
    assert float(got[0][0]["~"]["n"]) == 0.0 and float(got[0][1]["~"]["n"]) == 1.0


def test_type_names_are_dm_haikus_nested_mappings():
    for name in ("Params", "State", "MutableParams", "MutableState"):
        assert str(getattr(mhk, name)) == str(getattr(haiku, name))


def test_multi_transform_returns_the_exported_classes():
    def f():
        lin = mhk.Linear(2)
        return lin, (lin,)

    assert isinstance(mhk.multi_transform(f), mhk.MultiTransformed)
    assert isinstance(mhk.multi_transform_with_state(f), mhk.MultiTransformedWithState)


def test_intercept_methods_sees_dm_haikus_calls_and_names():
    runs = []
    for hk in (haiku, mhk):
        seen = []

        def interceptor(next_f, args, kwargs, context, seen=seen):
            out = next_f(*args, **kwargs)
            module = context.module
            seen.append((type(module).__name__, module.module_name, context.method_name))
            return out

        def f(x, hk=hk, interceptor=interceptor):
            with hk.intercept_methods(interceptor):
                return hk.nets.MLP([2, 2])(x)

        hk.transform(f).init(jax.random.PRNGKey(0), X)
        runs.append(seen)
    assert runs[1] == runs[0]
    assert runs[1][0] == ("Linear", "mlp/~/linear_0", "__init__")
    assert runs[1][-1] == ("MLP", "mlp", "__call__")


def test_to_module_names_modules_after_the_function():
    def program(hk):
        def my_block(x):
            return hk.Linear(2)(x)

        block = hk.to_module(my_block)
        return hk.transform(lambda x: block()(x) + block(name="b")(x) + block()(x))

    run_ref = program(haiku).init(jax.random.PRNGKey(0), X)
    run_got = program(mhk).init(jax.random.PRNGKey(0), X)
    assert list(run_got) == list(run_ref) == ["my_block/linear", "b/linear", "my_block_1/linear"]
    assert_same_tree(run_got, run_ref)
