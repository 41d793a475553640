"""variance_scaling and its named forms on vectors, scalars and empty shapes (dm-haiku's fans)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku import initializers as I
from minihaiku.core import InitializerError, get_param, transform

KEY = jax.random.PRNGKey(7)
N = 200_000

# (factory, scale, mode): fan_in and fan_out of a vector (n,) are both n, of a
# scalar both 1 (dm-haiku's _compute_fans), so every mode divides by n (or 1).
FORMS = [
    (I.he_normal, 2.0),
    (I.he_uniform, 2.0),
    (I.lecun_normal, 1.0),
    (I.lecun_uniform, 1.0),
    (I.glorot_normal, 1.0),
    (I.glorot_uniform, 1.0),
    (lambda: I.variance_scaling(3.0, "fan_out", "normal"), 3.0),
    (lambda: I.variance_scaling(0.5, "fan_avg", "truncated_normal"), 0.5),
]


@pytest.mark.parametrize(("factory", "scale"), FORMS)
def test_a_vector_gets_variance_scale_over_its_length(factory, scale):
    x = np.asarray(factory()(KEY, (N,), jnp.float32), np.float64)
    assert x.shape == (N,)
    assert abs(x.var() / (scale / N) - 1.0) < 0.03
    assert abs(x.mean()) < 0.02 * math.sqrt(scale / N)


@pytest.mark.parametrize(("factory", "scale"), FORMS)
def test_a_scalar_gets_variance_scale(factory, scale):
    init = factory()
    keys = jax.random.split(KEY, 50_000)
    one = init(KEY, (), jnp.float32)
    assert one.shape == () and one.dtype == jnp.float32
    x = np.asarray(jax.vmap(lambda k: init(k, (), jnp.float32))(keys), np.float64)
    assert abs(x.var() / scale - 1.0) < 0.03


def test_uniform_forms_on_a_vector_stay_within_the_limit():
    x = np.asarray(I.he_uniform()(KEY, (1000,), jnp.float32))
    limit = math.sqrt(3 * 2.0 / 1000)
    assert x.min() >= -limit and x.max() <= limit


def test_truncated_forms_on_a_vector_are_truncated_at_two_stddevs():
    x = np.asarray(I.lecun_normal()(KEY, (N,), jnp.float32))
    # the untruncated stddev is sqrt(1/N) / 0.8796...; truncation at 2 of those
    bound = 2 * math.sqrt(1.0 / N) / 0.87962566103423978
    assert np.abs(x).max() <= bound * (1 + 1e-6)


def test_matrices_keep_jax_values():
    for mine, theirs in [
        (I.he_normal(), jax.nn.initializers.he_normal()),
        (I.glorot_uniform(), jax.nn.initializers.glorot_uniform()),
        (I.lecun_normal(), jax.nn.initializers.lecun_normal()),
    ]:
        np.testing.assert_array_equal(
            mine(KEY, (3, 5, 4), jnp.float32), theirs(KEY, (3, 5, 4), jnp.float32)
        )


def test_vectors_work_through_get_param():
    f = transform(lambda: get_param("b", (64,), init="he_normal"))
    (b,) = f.init(0).values()
    assert b.shape == (64,)


@pytest.mark.parametrize(
    ("factory", "shape", "message"),
    [
        (I.he_normal, (0,), "variance_scaling (fan_in) cannot serve shape (0,): its fan_in is 0."),
        (
            I.glorot_uniform,
            (0,),
            "variance_scaling (fan_avg) cannot serve shape (0,): its fan_in and fan_out are 0.",
        ),
        (
            lambda: I.variance_scaling(mode="fan_out"),
            (4, 0),
            "variance_scaling (fan_out) cannot serve shape (4, 0): its fan_out is 0.",
        ),
        (
            I.glorot_normal,
            (2, 0, 0),
            "variance_scaling (fan_avg) cannot serve shape (2, 0, 0): its fan_in and "
            "fan_out are 0.",
        ),
    ],
)
def test_a_zero_fan_is_an_initializer_error_not_a_division_by_zero(factory, shape, message):
    with pytest.raises(InitializerError) as e:
        factory()(KEY, shape, jnp.float32)
    assert str(e.value) == (
        message + " Give the parameter non-empty dimensions, or use 'zeros' for empty parameters."
    )


def test_an_empty_parameter_with_a_nonzero_fan_is_an_empty_array():
    # fan_avg of (0, 3) is 1.5: nothing to divide by zero, nothing to draw.
    w = I.glorot_uniform()(KEY, (0, 3), jnp.float32)
    assert w.shape == (0, 3) and w.dtype == jnp.float32
