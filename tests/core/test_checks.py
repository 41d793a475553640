"""Every check of ``minihaiku.core.checks``: what it returns, and its exact error type and text."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    NotCallableError,
    checks,
)

W = "Linear ~/Linear_0"


def test_prefix():
    assert checks.prefix(W) == "Linear ~/Linear_0: "
    assert checks.prefix("") == ""


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: checks.check_int(np.int64(5), "steps", "train", minimum=1), 5),
        (lambda: checks.check_int(-3, "steps", ""), -3),
        (lambda: checks.check_positive_int(2, "stride", W), 2),
        (lambda: checks.check_finite(1, "stddev", "'normal'"), 1.0),
        (lambda: checks.check_nonnegative(0, "stddev", "'normal'"), 0.0),
        (lambda: checks.check_positive(0.5, "scale", "s"), 0.5),
        (lambda: checks.check_one_of("a", "mode", "m", options=("a", "b")), "a"),
        (lambda: checks.check_bool(np.bool_(True), "with_bias", W), True),
        (lambda: checks.check_float_dtype(jnp.bfloat16, "dtype", "d"), np.dtype(jnp.bfloat16)),
        (lambda: checks.check_each([1, 2], "sizes", W, checks.check_positive_int), (1, 2)),
    ],
)
def test_a_good_value_is_returned(call, expected):
    got = call()
    assert got == expected
    assert type(got) is type(expected)


def test_check_callable_returns_the_callable():
    assert checks.check_callable(len, "fn", W) is len


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: checks.check_int(2.5, "steps", "train"),
            InvalidArgumentTypeError,
            "train: steps must be an int, got float 2.5.",
        ),
        (
            lambda: checks.check_int(True, "steps", "train"),
            InvalidArgumentTypeError,
            "train: steps must be an int, got the bool True.",
        ),
        (
            lambda: checks.check_int(0, "steps", "train", minimum=1),
            InvalidArgumentError,
            "train: steps must be >= 1, got 0.",
        ),
        (
            lambda: checks.check_int("3", "steps", ""),
            InvalidArgumentTypeError,
            "steps must be an int, got str '3'.",
        ),
        (
            lambda: checks.check_positive_int(0, "stride", "Conv2D ~/Conv2D_0"),
            InvalidArgumentError,
            "Conv2D ~/Conv2D_0: stride must be a positive int, got int 0.",
        ),
        (
            lambda: checks.check_positive_int(True, "stride", W),
            InvalidArgumentError,
            f"{W}: stride must be a positive int, got bool True.",
        ),
        (
            lambda: checks.check_positive_int(1.5, "stride", W),
            InvalidArgumentError,
            f"{W}: stride must be a positive int, got float 1.5.",
        ),
        (
            lambda: checks.check_finite(float("nan"), "stddev", "'normal'"),
            InvalidArgumentError,
            "'normal': stddev must be finite, got nan.",
        ),
        (
            lambda: checks.check_finite("1", "stddev", "'normal'"),
            InvalidArgumentTypeError,
            "'normal': stddev must be a number, got str '1'.",
        ),
        (
            lambda: checks.check_finite(None, "stddev", "'normal'"),
            InvalidArgumentTypeError,
            "'normal': stddev must be a number, got NoneType None.",
        ),
        (
            lambda: checks.check_nonnegative(-0.5, "stddev", "'normal'"),
            InvalidArgumentError,
            "'normal': stddev must be >= 0, got -0.5. A spread is never negative: "
            "pass stddev=0.5 if that was meant.",
        ),
        (
            lambda: checks.check_positive(0, "scale", "'variance_scaling'"),
            InvalidArgumentError,
            "'variance_scaling': scale must be > 0, got 0.",
        ),
        (
            lambda: checks.check_one_of(
                "fan", "mode", "'variance_scaling'", options=("fan_in", "fan_out")
            ),
            InvalidArgumentError,
            "'variance_scaling': mode must be one of 'fan_in', 'fan_out'; got 'fan'.",
        ),
        (
            lambda: checks.check_one_of([1], "mode", "", options={"a"}),
            InvalidArgumentError,
            "mode must be one of 'a'; got [1].",
        ),
        (
            lambda: checks.check_bool("yes", "with_bias", W),
            InvalidArgumentTypeError,
            f"{W}: with_bias must be True or False, got str 'yes'.",
        ),
        (
            lambda: checks.check_callable(3, "activation", "MLP ~/MLP_0"),
            NotCallableError,
            "MLP ~/MLP_0: activation must be a callable, got int 3.",
        ),
        (
            lambda: checks.check_callable(3, "init", "", expected="an initializer"),
            NotCallableError,
            "init must be an initializer, got int 3.",
        ),
        (
            lambda: checks.check_float_dtype("int32", "dtype", "'normal'"),
            InvalidArgumentError,
            "'normal': dtype must be a floating dtype, got int32.",
        ),
        (
            lambda: checks.check_float_dtype("nonsense", "dtype", "'normal'"),
            InvalidArgumentTypeError,
            "'normal': dtype must be a dtype such as jnp.float32, got str 'nonsense'.",
        ),
        (
            lambda: checks.check_each([1, 0], "output_sizes", W, checks.check_positive_int),
            InvalidArgumentError,
            f"{W}: output_sizes[1] must be a positive int, got int 0.",
        ),
    ],
)
def test_a_bad_value_raises_the_exact_error(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error
    assert str(info.value) == message
