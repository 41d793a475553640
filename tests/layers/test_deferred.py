"""Deferred: the module is built on first use, where it is first used, as dm-haiku's."""

import jax.numpy as jnp
import pytest

from minihaiku import layers
from minihaiku.core import Module, NotCallableError, transform

hk = pytest.importorskip("haiku")


def test_built_on_first_call_and_forwards_attributes():
    built = []

    def factory():
        built.append(1)
        return layers.Linear(3)

    def f(x):
        d = layers.Deferred(factory)
        assert built == []
        y = d(x)
        assert built == [1] and d.output_size == 3 and isinstance(d.target, layers.Linear)
        d(x)
        assert built == [1]
        return y

    params = transform(f).init(0, jnp.ones((2, 4)))
    assert sorted(params) == ["~/Linear_0/__call__/b", "~/Linear_0/__call__/w"]


def test_call_methods_are_forwarded():
    class Two(Module):
        def __call__(self, x):
            return x

        def double(self, x):
            return 2 * x

    def f(x):
        return layers.Deferred(Two, call_methods=("__call__", "double")).double(x)

    assert float(transform(f).apply({}, jnp.ones(()))) == 2.0


def test_missing_attribute_and_bad_factory():
    def f(x):
        return layers.Deferred(lambda: layers.Linear(3)).no_such_thing

    with pytest.raises(AttributeError, match="no_such_thing"):
        transform(f).init(0, jnp.ones((1, 2)))
    with pytest.raises(NotCallableError, match="factory"):
        layers.Deferred(3)
