"""transform_with_state: state round trips and state errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    MissingStateError,
    Module,
    ParameterShapeError,
    StateNotAllowedError,
    get_param,
    get_state,
    set_state,
    transform,
    transform_with_state,
)


class Counter(Module):
    def __call__(self, x):
        n = get_state("n", (), jnp.int32)
        total = get_state("total", x.shape, init=jax.nn.initializers.ones)
        set_state("n", n + 1)
        set_state("total", total + x)
        return x * get_param("scale", (), init=jax.nn.initializers.ones)


def f(x):
    return Counter()(x)


def test_init_returns_the_initial_state_not_the_state_after_one_run():
    # dm-haiku's rule: a counter starts at its initializer's value; init's own
    # run of the function does not advance it.
    params, state = transform_with_state(f).init(0, jnp.arange(3.0))
    assert sorted(params) == ["~/Counter_0/__call__/scale"]
    assert list(state) == ["~/Counter_0/__call__/n", "~/Counter_0/__call__/total"]
    assert int(state["~/Counter_0/__call__/n"]) == 0
    np.testing.assert_array_equal(state["~/Counter_0/__call__/total"], [1.0, 1.0, 1.0])


def test_init_state_matches_dm_haiku():
    hk = pytest.importorskip("haiku")

    def hk_f(x):
        n = hk.get_state("n", (), jnp.int32, init=jnp.zeros)
        hk.set_state("n", n + 1)
        hk.set_state("first", x)
        hk.set_state("first", x * 2)
        return x

    def mh_f(x):
        n = get_state("n", (), jnp.int32)
        set_state("n", n + 1)
        set_state("first", x)
        set_state("first", x * 2)
        return x

    x = jnp.arange(2.0)
    _, hk_state = hk.transform_with_state(hk_f).init(jax.random.PRNGKey(0), x)
    _, state = transform_with_state(mh_f).init(0, x)
    assert int(state["~/n"]) == int(hk_state["~"]["n"]) == 0
    np.testing.assert_array_equal(state["~/first"], hk_state["~"]["first"])
    np.testing.assert_array_equal(state["~/first"], x)


def test_apply_round_trip_updates_state_and_never_mutates_the_input():
    t = transform_with_state(f)
    x = jnp.arange(3.0)
    params, state = t.init(0, x)
    given = dict(state)
    out, s1 = t.apply(params, state, x)
    out, s2 = t.apply(params, s1, x)
    assert state == given
    assert int(s2["~/Counter_0/__call__/n"]) == 2
    np.testing.assert_array_equal(s2["~/Counter_0/__call__/total"], [1.0, 3.0, 5.0])
    np.testing.assert_array_equal(out, x)


def test_state_through_jit_and_scan():
    t = transform_with_state(f)
    x = jnp.arange(3.0)
    params, state = t.init(0, x)

    def body(s, _):
        _, s = t.apply(params, s, x)
        return s, None

    final, _ = jax.jit(lambda s: jax.lax.scan(body, s, None, length=5))(state)
    assert int(final["~/Counter_0/__call__/n"]) == 5


def test_set_state_before_get_state_sets_the_initial_value():
    def g():
        set_state("v", jnp.full((2,), 5.0))
        return get_state("v")

    params, state = transform_with_state(g).init(0)
    np.testing.assert_array_equal(state["~/v"], [5.0, 5.0])


@pytest.mark.parametrize("fn", [lambda: get_state("s", ()), lambda: set_state("s", 1.0)])
def test_state_under_plain_transform_is_an_error(fn):
    with pytest.raises(StateNotAllowedError) as e:
        transform(fn).init(0)
    name = "get_state" if "get" in str(e.value)[:9] else "set_state"
    assert str(e.value) == (
        f"{name} was called in a function transformed with transform, which has no "
        "state. Use transform_with_state: its init returns (params, state) and its "
        "apply takes and returns state."
    )


def test_missing_state_in_apply():
    t = transform_with_state(f)
    params, state = t.init(0, jnp.ones(3))
    del state["~/Counter_0/__call__/n"]
    with pytest.raises(MissingStateError, match=r"^state '~/Counter_0/__call__/n' is not in"):
        t.apply(params, state, jnp.ones(3))


def test_set_state_of_a_new_name_in_apply_is_an_error():
    def g():
        set_state("fresh", 1.0)

    t = transform_with_state(g)
    with pytest.raises(MissingStateError) as e:
        t.apply({}, {})
    assert str(e.value) == (
        "set_state('fresh') in apply: state '~/fresh' was not created during init, so it "
        "is not in the state given to apply. Call set_state or get_state for it during "
        "init too."
    )


def test_set_state_with_another_shape_is_an_error():
    def g():
        get_state("v", (2,))
        set_state("v", jnp.ones(3))

    with pytest.raises(ParameterShapeError) as e:
        transform_with_state(g).init(0)
    assert str(e.value) == (
        "set_state: state '~/v' has shape (2,), got a value of shape (3,). State entries "
        "keep their shape; reshape the value or use another name."
    )


def test_get_state_without_shape_for_a_new_entry():
    with pytest.raises(ParameterShapeError, match=r"^state '~/v' does not exist yet"):
        transform_with_state(lambda: get_state("v")).init(0)


def test_state_that_is_not_a_mapping():
    t = transform_with_state(f)
    params, _ = t.init(0, jnp.ones(3))
    with pytest.raises(TypeError, match=r"^apply expects state as a mapping"):
        t.apply(params, [1], jnp.ones(3))


@pytest.mark.parametrize(
    ("fn", "name"),
    [(lambda: get_state("s", ()), "get_state"), (lambda: set_state("s", 1.0), "set_state")],
)
def test_state_outside_transform(fn, name):
    from minihaiku.core import NotInTransformError

    with pytest.raises(NotInTransformError) as e:
        fn()
    assert str(e.value).startswith(
        f"{name} must be called inside a function transformed with minihaiku.core.transform"
    )
