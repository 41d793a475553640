"""``keyless(init)``: a marked initializer gets no key; values do not change."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.initializers as mi
from minihaiku.core import (
    InvalidArgumentTypeError,
    NotCallableError,
    get_param,
    get_state,
    keyless,
    layer_stack,
    transform,
    transform_with_state,
)


def _recording(seen):
    def init(key, shape, dtype):
        seen.append(key)
        return jnp.full(shape, 3, dtype)

    return init


def test_keyless_returns_the_initializer_itself():
    init = _recording([])
    assert keyless(init) is init


def test_a_keyless_initializer_gets_no_key_and_the_same_values():
    plain_seen, marked_seen = [], []
    plain = transform(lambda: get_param("w", (2,), init=_recording(plain_seen))).init(0)
    marked = transform(lambda: get_param("w", (2,), init=keyless(_recording(marked_seen)))).init(0)
    assert marked_seen == [None]
    assert plain_seen[0] is not None
    np.testing.assert_array_equal(plain["~/w"], marked["~/w"])


def test_the_hand_set_attribute_still_marks_an_initializer():
    seen = []
    init = _recording(seen)
    init.minihaiku_keyless = True
    transform(lambda: get_param("w", (2,), init=init)).init(0)
    assert seen == [None]


def test_a_partial_can_be_marked():
    seen = []

    def init(key, shape, dtype, value):
        seen.append(key)
        return jnp.full(shape, value, dtype)

    part = keyless(functools.partial(init, value=5))
    params = transform(lambda: get_param("w", (2,), init=part)).init(0)
    assert seen == [None]
    np.testing.assert_array_equal(params["~/w"], [5.0, 5.0])


@pytest.mark.parametrize("name", ["zeros", "ones", "constant"])
def test_builtin_constant_initializers_are_keyless(name):
    seen = []
    inner = getattr(mi, name)()

    def spy(key, shape, dtype):
        seen.append(key)
        return inner(key, shape, dtype)

    assert inner.minihaiku_keyless is True  # marked through core's keyless
    transform(lambda: get_param("w", (2,), init=keyless(spy))).init(0)
    assert seen == [None]
    values = transform(lambda: get_param("w", (2,), init=inner)).init(0)["~/w"]
    np.testing.assert_array_equal(values, inner(None, (2,), jnp.float32))


def test_state_default_is_keyless():
    f = transform_with_state(lambda: get_state("s", (2,)))
    _, state = f.init(0)
    np.testing.assert_array_equal(state["~/s"], [0.0, 0.0])


def test_layers_of_a_stack_still_get_their_own_keys():
    seen = []

    def init(key, shape, dtype):
        seen.append(key)
        return jnp.zeros(shape, dtype)

    def f(x):
        return layer_stack(2)(lambda y: y + get_param("w", (1,), init=keyless(init)))(x)

    transform(f).init(0, jnp.ones(1))
    assert seen and all(k is not None for k in seen)


def test_keyless_of_a_non_callable_is_an_error():
    with pytest.raises(NotCallableError, match="keyless: init must be a"):
        keyless(3)


def test_keyless_of_an_unmarkable_callable_says_to_wrap_it():
    with pytest.raises(InvalidArgumentTypeError, match="wrap it in a function"):
        keyless(jax.numpy.zeros(2).sum)
