"""The built-in initializers: statistics against their formulas, and argument errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku import initializers as I
from minihaiku.core import (
    InitializerError,
    InvalidArgumentError,
    get_initializer,
    get_param,
    list_initializers,
    transform,
)

KEY = jax.random.PRNGKey(42)
N = 200_000


def sample(init, shape=(N,), dtype=jnp.float32):
    out = init(KEY, shape, dtype)
    assert out.shape == shape and out.dtype == dtype
    return np.asarray(out, np.float64)


def test_every_builtin_is_registered_by_the_builtin_plugin():
    listing = list_initializers()
    names = {
        "constant",
        "zeros",
        "ones",
        "normal",
        "truncated_normal",
        "uniform",
        "variance_scaling",
        "glorot_normal",
        "glorot_uniform",
        "xavier_normal",
        "xavier_uniform",
        "he_normal",
        "he_uniform",
        "kaiming_normal",
        "kaiming_uniform",
        "lecun_normal",
        "lecun_uniform",
        "orthogonal",
    }
    assert names <= set(listing)
    assert {listing[n].distribution for n in names} == {"minihaiku-initializers"}


def test_constant_zeros_ones():
    np.testing.assert_array_equal(I.constant(2.5)(KEY, (2, 2), jnp.float32), np.full((2, 2), 2.5))
    np.testing.assert_array_equal(I.constant([1, 2])(KEY, (3, 2), jnp.int32), [[1, 2]] * 3)
    np.testing.assert_array_equal(I.zeros()(KEY, (3,), jnp.float32), [0, 0, 0])
    np.testing.assert_array_equal(I.ones()(KEY, (2,), jnp.bfloat16), [1, 1])
    with pytest.raises(InitializerError, match=r"^constant: value of shape \(2,\) cannot fill"):
        I.constant([1.0, 2.0])(KEY, (3,), jnp.float32)


def test_normal_mean_and_stddev():
    x = sample(I.normal(stddev=0.5, mean=2.0))
    assert abs(x.mean() - 2.0) < 0.01
    assert abs(x.std() - 0.5) < 0.01


def test_normal_default_is_the_seeds_stddev_one():
    x = sample(get_initializer("normal"))
    assert abs(x.std() - 1.0) < 0.01 and abs(x.mean()) < 0.01


def test_truncated_normal_bounds_and_stddev():
    x = sample(I.truncated_normal(stddev=2.0, mean=1.0))
    assert x.min() >= 1.0 - 4.0 and x.max() <= 1.0 + 4.0
    # Var of N(0,1) truncated to [-2, 2]: 1 - 4 phi(2) / (Phi(2) - Phi(-2)).
    phi2 = math.exp(-2.0) / math.sqrt(2 * math.pi)
    mass = math.erf(2 / math.sqrt(2))
    want = 2.0 * math.sqrt(1 - 4 * phi2 / mass)
    assert abs(x.std() - want) < 0.01
    assert abs(x.mean() - 1.0) < 0.01


def test_uniform_range_mean_and_variance():
    x = sample(I.uniform(-3.0, 1.0))
    assert x.min() >= -3.0 and x.max() < 1.0
    assert abs(x.mean() - (-1.0)) < 0.01
    assert abs(x.var() - 16.0 / 12.0) < 0.01


@pytest.mark.parametrize(
    ("factory", "shape", "variance"),
    [
        (I.he_normal, (500, 400), 2.0 / 500),
        (I.he_uniform, (500, 400), 2.0 / 500),
        (I.lecun_normal, (500, 400), 1.0 / 500),
        (I.lecun_uniform, (500, 400), 1.0 / 500),
        (I.glorot_normal, (500, 400), 2.0 / 900),
        (I.glorot_uniform, (500, 400), 2.0 / 900),
        (I.xavier_uniform, (500, 400), 2.0 / 900),
        (I.kaiming_normal, (3, 3, 64, 32), 2.0 / (9 * 64)),
    ],
)
def test_variance_scaling_forms_have_the_formula_variance(factory, shape, variance):
    x = sample(factory(), shape)
    assert abs(x.var() / variance - 1.0) < 0.03
    assert abs(x.mean()) < 0.05 * math.sqrt(variance)


def test_variance_scaling_modes_and_uniform_bounds():
    x = sample(I.variance_scaling(3.0, "fan_out", "uniform"), (100, 300))
    limit = math.sqrt(3 * 3.0 / 300)
    assert x.max() <= limit and x.min() >= -limit
    assert abs(x.var() / (3.0 / 300) - 1) < 0.03


def test_orthogonal_is_orthogonal_times_scale():
    w = sample(I.orthogonal(scale=2.0), (64, 32))
    np.testing.assert_allclose(w.T @ w, 4.0 * np.eye(32), atol=1e-4)
    w = sample(I.orthogonal(), (16, 48))
    np.testing.assert_allclose(w @ w.T, np.eye(16), atol=1e-4)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: I.normal(stddev=-1.0),
            "normal: stddev must be >= 0, got -1.0. A spread is never negative: pass "
            "stddev=1.0 if that was meant.",
        ),
        (
            lambda: I.truncated_normal(stddev=-0.5),
            "truncated_normal: stddev must be >= 0, got -0.5. A spread is never negative: "
            "pass stddev=0.5 if that was meant.",
        ),
        (lambda: I.normal(stddev="wide"), "normal: stddev must be a number, got str 'wide'."),
        (lambda: I.normal(mean=float("nan")), "normal: mean must be finite, got nan."),
        (
            lambda: I.uniform(1.0, 1.0),
            "uniform: minval must be < maxval, got minval=1.0, maxval=1.0.",
        ),
        (
            lambda: I.truncated_normal(lower=1.0, upper=-1.0),
            "truncated_normal: lower must be < upper, got lower=1.0, upper=-1.0.",
        ),
        (lambda: I.variance_scaling(0.0), "variance_scaling: scale must be > 0, got 0.0."),
        (
            lambda: I.variance_scaling(mode="fan_max"),
            "variance_scaling: mode must be one of 'fan_in', 'fan_out', 'fan_avg'; got 'fan_max'.",
        ),
        (
            lambda: I.variance_scaling(distribution="cauchy"),
            "variance_scaling: distribution must be one of 'truncated_normal', 'normal', "
            "'uniform'; got 'cauchy'.",
        ),
        (lambda: I.orthogonal(scale=-1), "orthogonal: scale must be > 0, got -1."),
    ],
)
def test_bad_arguments_are_rejected_when_configured(make, message):
    with pytest.raises(InvalidArgumentError) as e:
        make()
    assert str(e.value) == message
    assert isinstance(e.value, ValueError)


def test_orthogonal_of_a_vector_names_the_parameter():
    with pytest.raises(InitializerError) as e:
        transform(lambda: get_param("v", (5,), init="orthogonal")).init(0)
    assert str(e.value) == (
        "orthogonal cannot serve shape (5,): it needs at least two dimensions (rows and "
        "columns). Use 'normal' or 'variance_scaling' for vectors and scalars. (while "
        "creating parameter '~/v')"
    )


def test_variance_scaling_of_an_empty_fan():
    with pytest.raises(
        InitializerError,
        match=r"^variance_scaling \(fan_in\) cannot serve "
        r"shape \(0, 3\): its fan_in is 0",
    ):
        I.he_normal()(KEY, (0, 3), jnp.float32)


def test_random_initializers_refuse_integer_dtypes():
    with pytest.raises(InitializerError) as e:
        I.normal()(KEY, (2,), jnp.int32)
    assert str(e.value) == (
        "normal draws random floats and cannot fill dtype int32; use a float dtype, or "
        "the 'constant'/'zeros' initializer for integer parameters."
    )


def test_get_initializer_passes_keyword_arguments():
    x = sample(get_initializer("uniform", minval=5.0, maxval=6.0))
    assert x.min() >= 5.0 and x.max() < 6.0
