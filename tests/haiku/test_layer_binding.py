"""hk layers with dm-haiku initializers bind their arguments by hand on the common call.

The fast path must give what ``inspect.Signature.bind`` gave: the same modules
and values for every spelling of a call, and the same errors otherwise.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.haiku as hk


def _init(make):
    f = hk.transform(lambda x: make()(x))
    return f.init(jax.random.PRNGKey(0), jnp.ones((2, 3)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: hk.Linear(4, True, hk.initializers.Constant(0.5)),
        lambda: hk.Linear(4, w_init=hk.initializers.Constant(0.5)),
        lambda: hk.Linear(output_size=4, with_bias=True, w_init=hk.initializers.Constant(0.5)),
    ],
)
def test_positional_and_keyword_spellings_build_the_same_layer(make):
    params = _init(make)
    assert list(params) == ["linear"]
    np.testing.assert_array_equal(params["linear"]["w"], np.full((3, 4), 0.5, np.float32))
    np.testing.assert_array_equal(params["linear"]["b"], np.zeros(4, np.float32))


def test_default_w_init_is_dm_haikus_truncated_normal_per_input_size():
    a = _init(lambda: hk.Linear(4))["linear"]["w"]
    b = _init(lambda: hk.Linear(4, None, None))["linear"]["w"]
    np.testing.assert_array_equal(a, b)
    assert float(jnp.max(jnp.abs(a))) <= 2.0 / np.sqrt(3) + 1e-6


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: hk.Linear(4, output_size=4), "multiple values"),
        (lambda: hk.Linear(4, bogus=1), "bogus"),
        (lambda: hk.Linear(), "output_size"),
        (lambda: hk.Linear(4, True, None, None, None, 5), "too many"),
    ],
)
def test_bad_calls_raise_what_bind_raises(make, words):
    with pytest.raises(TypeError, match=words):
        _init(make)


def test_method_interceptors_see_the_bound_split_of_init_arguments():
    seen = []

    def interceptor(next_f, args, kwargs, context):
        if context.method_name == "__init__" and type(context.module).__name__ == "Linear":
            seen.append((args, sorted(kwargs)))
        return next_f(*args, **kwargs)

    def f(x):
        with hk.intercept_methods(interceptor):
            return hk.Linear(4, name="lin")(x)

    hk.transform(f).init(jax.random.PRNGKey(0), jnp.ones((2, 3)))
    args, kwargs = seen[0]
    assert args == (4,)
    assert "name" in kwargs and "w_init" in kwargs
