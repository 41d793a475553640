"""custom_creator, custom_getter, custom_setter and DO_NOT_STORE: against dm-haiku."""

from __future__ import annotations

import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.core as mh
from minihaiku.core import (
    DO_NOT_STORE,
    InvalidArgumentTypeError,
    MissingParameterError,
    NotCallableError,
    NotInTransformError,
)

hk = pytest.importorskip("haiku")


def _scenario(lib, seen):
    """One program for both libraries: skip, keep, state skip, setters, a module."""
    dns = lib.DO_NOT_STORE

    def creator(next_creator, shape, dtype, init, context):
        seen.append(("create", context.name, tuple(shape)))
        if context.name == "skip":
            return dns
        return next_creator(shape, dtype, init)

    def getter(next_getter, value, context):
        seen.append(("get", context.name, value is dns, context.original_shape))
        if value is dns:
            return jnp.full(context.original_shape, 7.0, context.original_dtype)
        return next_getter(value)

    def setter(next_setter, value, context):
        seen.append(("set", context.name, tuple(context.original_shape)))
        if context.name == "nostore":
            return dns
        return next_setter(value * 2)

    return creator, getter, setter


def _run(lib):
    seen = []
    creator, getter, setter = _scenario(lib, seen)
    if lib is hk:
        getp = lambda n, s: hk.get_parameter(n, s, init=jnp.ones)
        gets = lambda n, s: hk.get_state(n, s, init=jnp.ones)
        transform = hk.transform_with_state
    else:
        getp = lambda n, s: mh.get_param(n, s, init="ones")
        gets = lambda n, s: mh.get_state(n, s, init="ones")
        transform = mh.transform_with_state

    def f():
        with (
            lib.custom_creator(creator, params=True, state=True),
            lib.custom_getter(getter, params=True, state=True),
            lib.custom_setter(setter),
        ):
            a = getp("skip", (2,))
            b = getp("keep", (2,))
            s = gets("skip", (2,))
            lib.set_state("nostore", jnp.ones(3))
            lib.set_state("st", jnp.ones(3))
        return a, b, s

    t = transform(f)
    if lib is hk:
        params, state = t.init(jax.random.key(0))
        out, new = t.apply(params, state, None)
        params, state, new = (
            {f"{m}/{n}": v for m, d in tree.items() for n, v in d.items()}
            for tree in (params, state, new)
        )
    else:
        params, state = t.init(0)
        out, new = t.apply(params, state)
    return seen, params, state, out, new


def test_creator_getter_setter_and_do_not_store_follow_dm_haiku():
    ours = _run(mh)
    theirs = _run(hk)
    assert ours[0] == theirs[0]  # the calls, their names and what they saw
    for a, b in zip(ours[1:3], theirs[1:3], strict=True):
        assert sorted(a) == sorted(b)
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    jax.tree_util.tree_map(np.testing.assert_array_equal, ours[3], theirs[3])
    assert sorted(ours[4]) == sorted(theirs[4]) == ["~/st"]
    np.testing.assert_array_equal(ours[4]["~/st"], theirs[4]["~/st"])
    assert sorted(ours[1]) == ["~/keep"]
    np.testing.assert_array_equal(ours[3][0], [7.0, 7.0])


def test_nested_getters_run_outermost_first_like_dm_haiku():
    def run(lib, transform, extra):
        order = []

        def tag(label):
            def getter(next_getter, value, context):
                order.append(label)
                out = next_getter(value + 1)
                order.append("/" + label)
                return out * 10

            return getter

        def f():
            with lib.custom_getter(tag("outer")), lib.custom_getter(tag("inner")):
                if lib is hk:
                    return hk.get_parameter("w", (), init=jnp.zeros)
                return mh.get_param("w", (), init="zeros")

        t = transform(f)
        params = t.init(extra[0])
        order.clear()
        out = t.apply(params, *extra[1:])
        return order, float(out)

    ours = run(mh, mh.transform, (0,))
    theirs = run(hk, hk.transform, (jax.random.key(0), None))
    assert ours == theirs == (["outer", "inner", "/inner", "/outer"], 200.0)


def test_context_names_the_module_and_path():
    seen = []

    class Lin(mh.Module):
        def __call__(self):
            return mh.get_param("w", (1, 2), jnp.bfloat16, init="ones")

    def getter(next_getter, value, context):
        seen.append(
            (
                context.full_name,
                context.module_name,
                context.name,
                context.original_shape,
                context.original_dtype,
                context.original_init,
                type(context.module).__name__,
            )
        )
        return next_getter(value)

    def f():
        with mh.custom_getter(getter):
            return Lin()()

    mh.transform(f).init(0)
    assert seen == [
        (
            "~/Lin_0/__call__/w",
            "~/Lin_0/__call__",
            "w",
            (1, 2),
            jnp.bfloat16,
            "ones",
            "Lin",
        )
    ]


def test_creator_may_store_a_dtype_of_its_own_and_getter_casts_back():
    def store_bf16(next_creator, shape, dtype, init, context):
        return next_creator(shape, jnp.bfloat16, init)

    def to_f32(next_getter, value, context):
        return next_getter(value.astype(context.original_dtype))

    def f(x):
        with mh.custom_creator(store_bf16), mh.custom_getter(to_f32):
            return x * mh.get_param("w", (2,), init="ones")

    f = mh.transform(f)
    params = f.init(0, jnp.ones(2))
    assert params["~/w"].dtype == jnp.bfloat16
    out = f.apply(params, jnp.ones(2))
    assert out.dtype == jnp.float32


def test_creator_runs_in_apply_for_a_missing_parameter():
    def supply(next_creator, shape, dtype, init, context):
        if context.name == "extra":
            return jnp.full(shape, 3.0, dtype)
        return next_creator(shape, dtype, init)

    def f():
        with mh.custom_creator(supply):
            return mh.get_param("extra", (), init="ones")

    assert float(mh.transform(f).apply({})) == 3.0


def test_without_a_creator_answer_a_missing_parameter_is_still_an_error():
    def f():
        with mh.custom_creator(lambda nc, s, d, i, c: nc(s, d, i)):
            return mh.get_param("w", (), init="ones")

    with pytest.raises(MissingParameterError, match="parameter '~/w' is not in the parameter"):
        mh.transform(f).apply({})


def test_getters_and_intercept_params_share_one_order():
    order = []

    def getter(next_getter, value, context):
        order.append("getter")
        return next_getter(value)

    def interceptor(path, value):
        order.append("interceptor")
        return value

    def f():
        with mh.intercept_params(interceptor), mh.custom_getter(getter):
            return mh.get_param("w", (), init="ones")

    mh.transform(f).init(0)
    assert order == ["interceptor", "getter"]


def test_custom_functions_reach_into_lifted_transforms():
    calls = []

    def getter(next_getter, value, context):
        calls.append(context.full_name)
        return next_getter(value * 2)

    def f(xs):
        with mh.custom_getter(getter):
            return mh.vmap(lambda x: x * mh.get_param("w", (), init="ones"))(xs)

    f = mh.transform(f)
    params = f.init(0, jnp.ones(3))
    np.testing.assert_array_equal(f.apply(params, jnp.arange(3.0)), [0.0, 2.0, 4.0])
    assert set(calls) == {"~/w"}


def test_state_getters_only_when_asked():
    seen = []

    def getter(next_getter, value, context):
        seen.append(context.name)
        return next_getter(value)

    def f():
        with mh.custom_getter(getter):  # params only (the default)
            mh.get_state("s", (), init="zeros")
            mh.get_param("w", (), init="ones")

    mh.transform_with_state(f).init(0)
    assert seen == ["w"]


def test_setter_sees_each_set_state_and_outside_the_block_nothing_changes():
    def double(next_setter, value, context):
        return next_setter(value * 2)

    def f():
        with mh.custom_setter(double):
            mh.set_state("a", jnp.ones(()))
        mh.set_state("b", jnp.ones(()))

    _, state = mh.transform_with_state(f).init(0)
    assert {k: float(v) for k, v in state.items()} == {"~/a": 2.0, "~/b": 1.0}


def test_do_not_store_is_one_value_that_survives_pickling():
    assert repr(DO_NOT_STORE) == "DO_NOT_STORE"
    assert pickle.loads(pickle.dumps(DO_NOT_STORE)) is DO_NOT_STORE
    assert type(DO_NOT_STORE)() is DO_NOT_STORE


@pytest.mark.parametrize(
    ("fn", "name", "sig"),
    [
        (mh.custom_creator, "creator", "(next_creator, shape, dtype, init, context)"),
        (mh.custom_getter, "getter", "(next_getter, value, context)"),
        (mh.custom_setter, "setter", "(next_setter, value, context)"),
    ],
)
def test_a_non_callable_is_an_error_naming_the_argument(fn, name, sig):
    def f():
        with fn(3):
            pass

    with pytest.raises(NotCallableError) as e:
        mh.transform(f).init(0)
    assert isinstance(e.value, TypeError)
    assert str(e.value) == f"{fn.__name__}: {name} must be a function {sig}, got int 3."


def test_params_flag_must_be_a_bool():
    def f():
        with mh.custom_getter(lambda n, v, c: n(v), params="yes"):
            pass

    with pytest.raises(InvalidArgumentTypeError) as e:
        mh.transform(f).init(0)
    assert str(e.value) == "custom_getter: params must be True or False, got str 'yes'."


@pytest.mark.parametrize("fn", ["custom_creator", "custom_getter", "custom_setter"])
def test_outside_a_transform_is_a_not_in_transform_error(fn):
    with pytest.raises(NotInTransformError) as e, getattr(mh, fn)(lambda *a: None):
        pass
    assert str(e.value).startswith(f"{fn} must be called inside a function transformed with")
