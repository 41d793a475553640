"""to_module and optimize_rng_use: against dm-haiku."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.core as mh
from minihaiku.core import InvalidNameError, Module, NotCallableError

hk = pytest.importorskip("haiku")


def bias_fn(x):
    """Adds a learned bias."""
    return x + mh.get_param("b", (), init="ones")


def hk_bias_fn(x):
    return x + hk.get_parameter("b", [], init=jnp.ones)


def test_to_module_shares_parameters_within_an_instance_like_dm_haiku():
    Bias = mh.to_module(bias_fn)
    HkBias = hk.to_module(hk_bias_fn)

    def ours(x, y):
        b = Bias(name="my_bias")
        return b(x) * b(y)

    def theirs(x, y):
        b = HkBias(name="my_bias")
        return b(x) * b(y)

    mp = mh.transform(ours).init(0, 1.0, 2.0)
    hp = hk.transform(theirs).init(jax.random.key(0), 1.0, 2.0)
    assert list(mp) == ["~/my_bias/__call__/b"]
    assert list(hp) == ["my_bias"] and list(hp["my_bias"]) == ["b"]
    assert float(mh.transform(ours).apply(mp, 1.0, 2.0)) == float(
        hk.transform(theirs).apply(hp, None, 1.0, 2.0)
    )


def test_to_module_classes_are_modules_named_after_the_function():
    Bias = mh.to_module(bias_fn)
    assert issubclass(Bias, Module)
    assert Bias.__name__ == "bias_fn"
    assert Bias.__call__.__doc__ == "Adds a learned bias."

    def two(x):
        return Bias()(Bias()(x))

    assert sorted(mh.transform(two).init(0, 1.0)) == [
        "~/bias_fn_0/__call__/b",
        "~/bias_fn_1/__call__/b",
    ]


def test_to_module_of_a_lambda_gets_a_valid_default_name():
    Scale = mh.to_module(lambda x: x * mh.get_param("s", (), init="ones"))
    assert list(mh.transform(lambda x: Scale()(x)).init(0, 1.0)) == [
        "~/CallableModule_0/__call__/s"
    ]


def test_to_module_bad_name_is_an_invalid_name_error():
    Bias = mh.to_module(bias_fn)
    with pytest.raises(InvalidNameError, match="module name 'a/b' contains '/'"):
        mh.transform(lambda x: Bias(name="a/b")(x)).init(0, 1.0)


@pytest.mark.parametrize("fn", [mh.to_module, mh.optimize_rng_use])
def test_a_non_callable_is_an_error(fn):
    with pytest.raises(NotCallableError) as e:
        fn(3)
    assert str(e.value).startswith(f"{fn.__name__} expects a function, got int 3.")


def test_optimize_rng_use_keeps_the_keys_and_the_function():
    def f(x):
        return x + jax.random.normal(mh.next_rng_key()) + jax.random.normal(mh.next_rng_key())

    g = mh.optimize_rng_use(f)
    assert g.__name__ == "f" and g.__wrapped__ is f
    plain = mh.transform(f, apply_rng=True)
    wrapped = mh.transform(g, apply_rng=True)
    key = jax.random.key(3)
    np.testing.assert_array_equal(plain.apply({}, key, 1.0), wrapped.apply({}, key, 1.0))
    # dm-haiku's wrapper keeps the output's shape and dtype too (its values differ:
    # it reserves keys, which minihaiku's counter-derived keys need not)
    hk_f = hk.transform(lambda x: x + jax.random.normal(hk.next_rng_key()))
    hk_g = hk.transform(
        hk.experimental.optimize_rng_use(lambda x: x + jax.random.normal(hk.next_rng_key()))
    )
    assert hk_g.apply({}, key, 1.0).shape == hk_f.apply({}, key, 1.0).shape == ()
