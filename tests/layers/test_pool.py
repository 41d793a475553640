"""Pooling: parity with dm-haiku (values and gradients), errors, lowering."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from minihaiku import layers
from minihaiku.core import InvalidArgumentError, transform

hk = pytest.importorskip("haiku")

x = jax.random.normal(jax.random.PRNGKey(0), (2, 7, 6, 3))

CASES = [
    (2, 2, "VALID", -1),
    (3, 2, "SAME", -1),
    (3, 1, "SAME", None),
    ((1, 3, 2, 1), (1, 2, 2, 1), "SAME", -1),
    ((3, 2, 1), (2, 1, 1), "VALID", -1),
    ((2, 3), 1, "SAME", -1),
    (2, 2, "SAME", 1),
    (2, 1, "VALID", 0),  # dm-haiku treats channel_axis=0 as None
]


def hk_pool(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return fn(*args)


@pytest.mark.parametrize("name", ["max_pool", "avg_pool"])
@pytest.mark.parametrize(("window", "strides", "padding", "axis"), CASES)
def test_pool_functions_match_dm_haiku(name, window, strides, padding, axis):
    ours = lambda x: getattr(layers, name)(x, window, strides, padding, axis)
    theirs = lambda x: hk_pool(getattr(hk, name), x, window, strides, padding, axis)
    np.testing.assert_allclose(ours(x), theirs(x), rtol=1e-6, atol=1e-7)
    loss = lambda f: jax.grad(lambda x: jnp.sum(jnp.sin(f(x))))
    np.testing.assert_allclose(loss(ours)(x), loss(theirs)(x), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cls", ["MaxPool", "AvgPool"])
def test_pool_modules_match_dm_haiku_and_have_no_params(cls):
    args = ((1, 3, 3, 1), (1, 2, 2, 1), "SAME")
    f = transform(lambda x: getattr(layers, cls)(*args)(x))
    g = hk.without_apply_rng(hk.transform(lambda x: getattr(hk, cls)(*args)(x)))
    assert f.init(0, x) == {}
    np.testing.assert_allclose(f.apply({}, x), g.apply({}, x), rtol=1e-6)


def test_avg_pool_same_averages_only_real_entries():
    v = jnp.arange(1.0, 5.0).reshape(1, 4, 1)
    # windows of 3 with SAME padding: [1,2], [1,2,3], [2,3,4], [3,4]
    np.testing.assert_allclose(layers.avg_pool(v, 3, 1, "SAME")[0, :, 0], [1.5, 2, 3, 3.5])


def test_jitted_pooling_lowers_to_the_hand_written_reduce_window():
    def ours(x):
        return layers.avg_pool(layers.max_pool(x, 2, 2, "VALID"), 2, 1, "VALID")

    def hand(x):
        y = lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        return lax.reduce_window(y, 0.0, lax.add, (1, 2, 2, 1), (1, 1, 1, 1), "VALID") / 4

    f = transform(ours)
    body = lambda t: [ln.split("=", 1)[-1].strip() for ln in t.splitlines() if "stablehlo." in ln]
    lowered = body(jax.jit(f.apply).lower({}, x).as_text())
    assert lowered == body(jax.jit(hand).lower(x).as_text())
    assert sum("stablehlo.reduce_window" in ln for ln in lowered) == 2


def test_bad_padding_names_the_function_or_module():
    with pytest.raises(InvalidArgumentError) as e:
        layers.max_pool(x, 2, 2, "same")
    assert str(e.value) == "max_pool: padding must be 'SAME' or 'VALID', got 'same'."
    with pytest.raises(InvalidArgumentError) as e:
        transform(lambda x: layers.AvgPool(2, 2, "FULL")(x)).init(0, x)
    assert str(e.value) == "AvgPool ~/AvgPool_0: padding must be 'SAME' or 'VALID', got 'FULL'."


def test_bad_channel_axis_and_window():
    with pytest.raises(InvalidArgumentError) as e:
        layers.avg_pool(x, 2, 2, "VALID", channel_axis=4)
    assert str(e.value) == (
        "avg_pool: channel_axis=4 is not an axis of the input of shape (2, 7, 6, 3). Pass "
        "an axis in [-3, 3], or None to pool over every axis but the first."
    )
    with pytest.raises(InvalidArgumentError) as e:
        transform(lambda x: layers.MaxPool((1, 1, 2, 2, 1), 1, "VALID")(x)).init(0, x)
    assert str(e.value) == (
        "MaxPool ~/MaxPool_0: window_shape (1, 1, 2, 2, 1) has 5 entries but the input of "
        "shape (2, 7, 6, 3) has only 4 axes. Give at most one entry per axis (leading axes "
        "missing from it are not pooled)."
    )
    with pytest.raises(InvalidArgumentError) as e:
        layers.max_pool(x, 2, (1, 0), "VALID")
    assert str(e.value) == "max_pool: strides must be a positive int, got int 0."
    with pytest.raises(InvalidArgumentError) as e:
        layers.max_pool(x, "2", 1, "VALID")
    assert str(e.value) == (
        "max_pool: window_shape must be an int or a sequence of positive ints, got str '2'."
    )
