"""check_jax_usage: raw JAX transforms around reads, as dm-haiku's check flags them."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.core as mh
from minihaiku.core import InvalidArgumentTypeError, UnliftedTransformError

hk = pytest.importorskip("haiku")


@pytest.fixture
def checking():
    previous = mh.check_jax_usage(True)
    hk_previous = hk.experimental.check_jax_usage(True)
    yield
    mh.check_jax_usage(previous)
    hk.experimental.check_jax_usage(hk_previous)


def _raw_param_read(lib):
    if lib is hk:
        return lambda x: jax.vmap(lambda y: y * hk.get_parameter("w", [], init=jnp.ones))(x)
    return lambda x: jax.vmap(lambda y: y * mh.get_param("w", (), init="ones"))(x)


def test_reads_under_raw_vmap_are_allowed_by_default():
    f = mh.transform(_raw_param_read(mh))
    np.testing.assert_array_equal(f.apply({"~/w": jnp.ones(())}, jnp.ones(2)), [1.0, 1.0])


def test_with_the_check_a_raw_read_fails_where_dm_haikus_does(checking):
    ours = mh.transform(_raw_param_read(mh))
    theirs = hk.transform(_raw_param_read(hk))
    with pytest.raises(ValueError, match="Haiku overloaded transform"):
        theirs.apply({"~": {"w": jnp.ones(())}}, None, jnp.ones(2))
    with pytest.raises(UnliftedTransformError) as e:
        ours.apply({"~/w": jnp.ones(())}, jnp.ones(2))
    assert str(e.value).startswith(
        "reading parameter '~/w' inside a raw JAX transform that was applied inside the "
        "transformed function (jax.vmap; use minihaiku.core.vmap)."
    )


def test_with_the_check_state_reads_are_checked_too(checking):
    def f(xs):
        return jax.vmap(lambda x: x * mh.get_state("s"))(xs)

    f = mh.transform_with_state(f)
    with pytest.raises(UnliftedTransformError, match="reading state '~/s' inside a raw JAX"):
        f.apply({}, {"~/s": jnp.ones(())}, jnp.ones(2))


def test_with_the_check_lifted_transforms_and_plain_reads_pass(checking):
    def f(xs):
        w = mh.get_param("w", (), init="ones")
        n = mh.get_state("n", (), init="ones")
        ys = mh.vmap(lambda x: x * mh.get_param("w", (), init="ones") * mh.get_state("n"))(xs)
        return ys * w * n

    f = mh.transform_with_state(f)
    params, state = f.init(0, jnp.ones(2))
    out, _ = f.apply(params, state, jnp.arange(2.0))
    np.testing.assert_array_equal(out, [0.0, 1.0])


def test_the_check_keeps_custom_getters_working(checking):
    def f():
        with mh.custom_getter(lambda nxt, v, c: nxt(v * 3), state=True):
            return mh.get_state("s", (), init="ones") + mh.get_param("w", (), init="ones")

    f = mh.transform_with_state(f)
    params, state = f.init(0)
    assert float(f.apply(params, state)[0]) == 6.0


def test_returns_the_previous_setting():
    first = mh.check_jax_usage(True)
    try:
        assert mh.check_jax_usage(False) is True
        assert mh.check_jax_usage(False) is False
    finally:
        mh.check_jax_usage(first)


def test_enabled_must_be_a_bool():
    with pytest.raises(InvalidArgumentTypeError) as e:
        mh.check_jax_usage("yes")
    assert str(e.value) == "check_jax_usage: enabled must be True or False, got str 'yes'."
