"""dm-haiku's ``apply(params, rng, x)`` habit on an apply that takes no rng is a clear error."""

import re

import jax
import jax.numpy as jnp
import pytest

from minihaiku.core import (
    InvalidArgumentTypeError,
    get_param,
    get_state,
    set_state,
    transform,
    transform_with_state,
)

X = jnp.ones((2, 3))


def forward(x):
    return x @ get_param("w", (3, 2), init="ones")


def counting(x):
    n = get_state("n", (), init="zeros")
    set_state("n", n + 1)
    return x * n


def want(leading, name):
    return re.escape(
        f"apply({leading}, rng, ...) passed a PRNG key to {name} as its first input: this "
        "apply takes no rng (the function was transformed without apply_rng=True). Call "
        f"apply({leading}, *inputs) without the key (dm-haiku's apply(params, rng, x) does "
        f"not carry over), or transform {name} with apply_rng=True to give apply an rng."
    )


@pytest.mark.parametrize("key", [jax.random.key(1), jax.random.PRNGKey(1)], ids=["typed", "raw"])
def test_a_key_before_the_inputs_names_the_habit_and_the_fix(key):
    f = transform(forward)
    params = f.init(0, X)
    with pytest.raises(InvalidArgumentTypeError, match=want("params", "forward")) as info:
        f.apply(params, key, X)
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value.__cause__, TypeError)  # the original error is kept


def test_with_state_too():
    f = transform_with_state(counting)
    params, state = f.init(0, X)
    with pytest.raises(InvalidArgumentTypeError, match=want("params, state", "counting")):
        f.apply(params, state, jax.random.key(1), X)


def test_a_type_error_of_the_function_itself_is_left_alone():
    def broken(x):
        return forward(x) + "a"

    f = transform(broken)
    params = {"~/w": jnp.ones((3, 2))}
    with pytest.raises(TypeError) as info:
        f.apply(params, X)
    assert not isinstance(info.value, InvalidArgumentTypeError)


def test_a_key_that_the_function_accepts_is_passed_on():
    f = transform(lambda key, x: forward(x) + jax.random.normal(key, ()))
    params = {"~/w": jnp.ones((3, 2))}
    assert f.apply(params, jax.random.key(0), X).shape == (2, 2)


def test_too_many_inputs_without_a_key_keep_pythons_error():
    f = transform(forward)
    with pytest.raises(TypeError, match="positional argument") as info:
        f.apply({"~/w": jnp.ones((3, 2))}, X, X)
    assert not isinstance(info.value, InvalidArgumentTypeError)
