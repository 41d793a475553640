"""lift, transparent_lift and the _with_state forms: against dm-haiku's."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.core as mh
from minihaiku.core import DuplicateNameError, InvalidParamsError, NotInTransformError
from minihaiku.layers import Linear

hk = pytest.importorskip("haiku")

X = jnp.ones((1, 3))


def _mh_inner():
    return mh.transform(lambda x: Linear(2)(x))


def _hk_inner():
    return hk.transform(lambda x: hk.Linear(2)(x))


def _leaves(params):
    """Sorted (shape) of a flat or nested params tree."""
    return sorted(tuple(v.shape) for v in jax.tree_util.tree_leaves(params))


@pytest.mark.parametrize("transparent", [False, True])
def test_lift_stores_and_returns_the_inner_params_like_dm_haiku(transparent):
    mi, hi = _mh_inner(), _hk_inner()
    mlift = mh.transparent_lift if transparent else mh.lift
    hlift = hk.transparent_lift if transparent else hk.lift

    def ours(x):
        mh.get_param("own", (), init="ones")
        p = mlift(mi.init)(mh.maybe_next_rng_key(), x)
        return mi.apply(p, x), p

    def theirs(x):
        hk.get_parameter("own", [], init=jnp.ones)
        p = hlift(hi.init)(hk.next_rng_key(), x)
        return hi.apply(p, None, x), p

    mp = mh.transform(ours).init(0, X)
    hp = hk.transform(theirs).init(jax.random.key(0), X)
    assert _leaves(mp) == _leaves(hp)
    lifted = [k for k in mp if k != "~/own"]
    if transparent:
        assert sorted(lifted) == ["~/Linear_0/__call__/b", "~/Linear_0/__call__/w"]
    else:
        assert sorted(lifted) == [
            "~/lifted_0/Linear_0/__call__/b",
            "~/lifted_0/Linear_0/__call__/w",
        ]
    out, seen = mh.transform(ours).apply(mp, X)
    hout, hseen = hk.transform(theirs).apply(hp, jax.random.key(1), X)
    assert _leaves(seen) == _leaves(hseen)  # transparent: the outer 'own' too, as dm-haiku
    expected = X @ mp[next(k for k in lifted if k.endswith("/w"))]
    np.testing.assert_allclose(out, expected + mp[next(k for k in lifted if k.endswith("/b"))])


def test_two_lifts_get_two_names_and_inside_a_module_the_modules_scope():
    mi = _mh_inner()

    class M(mh.Module):
        def __call__(self, x):
            mh.lift(mi.init)(mh.maybe_next_rng_key(), x)
            mh.lift(mi.init, name="enc")(mh.maybe_next_rng_key(), x)

    paths = sorted(mh.transform(lambda x: M()(x)).init(0, X))
    assert paths == [
        "~/M_0/__call__/enc_0/Linear_0/__call__/b",
        "~/M_0/__call__/enc_0/Linear_0/__call__/w",
        "~/M_0/__call__/lifted_0/Linear_0/__call__/b",
        "~/M_0/__call__/lifted_0/Linear_0/__call__/w",
    ]


def test_calling_one_lift_twice_is_an_error_unless_allow_reuse():
    mi = _mh_inner()

    def twice(allow_reuse):
        def f(x):
            lifted = mh.lift(mi.init, allow_reuse=allow_reuse)
            lifted(mh.maybe_next_rng_key(), x)
            lifted(mh.maybe_next_rng_key(), x)

        return f

    with pytest.raises(DuplicateNameError) as e:
        mh.transform(twice(False)).init(0, X)
    assert isinstance(e.value, ValueError)  # dm-haiku raises ValueError
    assert str(e.value) == (
        "lift: parameter '~/lifted_0/Linear_0/__call__/w' already exists in this transform. "
        "A lifted init stores each of its entries once: create a new lift for each call, "
        "or pass allow_reuse=True to call this one again."
    )
    assert len(mh.transform(twice(True)).init(0, X)) == 2


def test_lift_with_state_keeps_the_inner_state_and_its_updates():
    def count():
        n = mh.get_state("n", (), jnp.int32, init="zeros")
        mh.set_state("n", n + 1)
        return n

    inner = mh.transform_with_state(count)

    def outer():
        init, updater = mh.lift_with_state(inner.init)
        params, state = init(mh.maybe_next_rng_key())
        out, state = inner.apply(params, state)
        updater.update(state)
        return out

    f = mh.transform_with_state(outer)
    params, state = f.init(0)
    assert params == {} and {k: int(v) for k, v in state.items()} == {"~/lifted_0/n": 0}
    outs = []
    for _ in range(3):
        out, state = f.apply(params, state)
        outs.append(int(out))
    assert outs == [0, 1, 2] and int(state["~/lifted_0/n"]) == 3


def test_lift_with_state_ignore_update_keeps_the_state():
    inner = mh.transform_with_state(
        lambda: mh.set_state("n", mh.get_state("n", (), init="zeros") + 1)
    )

    def outer():
        init, updater = mh.transparent_lift_with_state(inner.init)
        params, state = init(mh.maybe_next_rng_key())
        inner.apply(params, state)
        updater.ignore_update()

    f = mh.transform_with_state(outer)
    params, state = f.init(0)
    assert f.apply(params, state)[1] == state


def test_lift_of_something_that_is_not_a_minihaiku_init_is_an_error():
    def outer():
        mh.lift(lambda: {"linear": {"w": jnp.ones(())}})()

    with pytest.raises(InvalidParamsError) as e:
        mh.transform(outer).init(0)
    assert str(e.value).startswith("lift: the lifted init returned the key 'linear'; lift expects")


def test_lift_outside_a_transform_is_not_in_transform_error():
    with pytest.raises(NotInTransformError, match=r"^lift must be called inside"):
        mh.lift(_mh_inner().init)
