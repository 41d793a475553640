"""get_params, get_current_state, get_initial_state: against dm-haiku."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.core as mh
from minihaiku.core import NotInTransformError

hk = pytest.importorskip("haiku")


def _flat(nested):
    """dm-haiku's {module: {name: v}} as {'module/name': v}."""
    return {f"{m}/{n}": v for m, d in nested.items() for n, v in d.items()}


def _program(lib, get, set_, getp, seen):
    def f():
        seen.append(("p0", dict(_norm(lib.get_params()))))
        w = getp("w", (), init="ones")
        seen.append(("p1", dict(_norm(lib.get_params()))))
        s = get("s", (), init="zeros")
        set_("s", s + 1)
        seen.append(("cur", dict(_norm(lib.get_current_state()))))
        seen.append(("ini", dict(_norm(lib.get_initial_state()))))
        return w

    return f


def _norm(tree):
    tree = dict(tree)
    if tree and isinstance(next(iter(tree.values())), dict):
        tree = _flat(tree)
    return {k: float(v) for k, v in tree.items()}


def test_get_params_current_and_initial_state_follow_dm_haiku_in_init_and_apply():
    ours, theirs = [], []

    mf = mh.transform_with_state(_program(mh, mh.get_state, mh.set_state, mh.get_param, ours))

    def hk_getp(name, shape, init):
        return hk.get_parameter(name, shape, init=jnp.ones)

    def hk_get(name, shape, init):
        return hk.get_state(name, shape, init=jnp.zeros)

    hf = hk.transform_with_state(_program(hk, hk_get, hk.set_state, hk_getp, theirs))
    mp, ms = mf.init(0)
    hp, hs = hf.init(jax.random.key(0))
    mf.apply(mp, ms)
    hf.apply(hp, hs, None)
    assert ours == theirs
    assert ours == [
        ("p0", {}),
        ("p1", {"~/w": 1.0}),
        ("cur", {"~/s": 1.0}),
        ("ini", {"~/s": 0.0}),
        ("p0", {"~/w": 1.0}),
        ("p1", {"~/w": 1.0}),
        ("cur", {"~/s": 1.0}),
        ("ini", {"~/s": 0.0}),
    ]


def test_the_dicts_returned_are_copies():
    def f():
        mh.get_param("w", (), init="ones")
        mh.get_params()["~/w"] = 5
        mh.get_current_state()["x"] = 1
        return mh.get_param("w", ())

    f = mh.transform_with_state(f)
    params, state = f.init(0)
    assert float(f.apply(params, state)[0]) == 1.0
    assert state == {}


def test_under_plain_transform_state_is_empty():
    f = mh.transform(lambda: (mh.get_current_state(), mh.get_initial_state()))
    assert f.apply({}) == ({}, {})


def test_initial_state_inside_a_lifted_transform_is_the_calls_initial_state():
    def f(xs):
        mh.set_state("n", mh.get_state("n", (), init="zeros") + 1)
        return mh.vmap(lambda x: x + mh.get_initial_state()["~/n"])(xs)

    f = mh.transform_with_state(f)
    params, state = f.init(0, jnp.ones(2))
    out, _ = f.apply(params, {"~/n": jnp.asarray(5.0)}, jnp.ones(2))
    np.testing.assert_array_equal(out, [6.0, 6.0])


def test_initial_state_in_multi_transform_apply():
    def f():
        def get():
            mh.set_state("n", mh.get_state("n", (), init="zeros") + 1)
            return mh.get_initial_state()

        return get, (get,)

    init, (apply,) = mh.multi_transform_with_state(f)
    params, state = init(0)
    out, new = apply(params, {"~/n": jnp.asarray(2.0)})
    assert float(out["~/n"]) == 2.0 and float(new["~/n"]) == 3.0


@pytest.mark.parametrize("fn", ["get_params", "get_current_state", "get_initial_state"])
def test_outside_a_transform_each_is_a_not_in_transform_error(fn):
    with pytest.raises(NotInTransformError) as e:
        getattr(mh, fn)()
    assert str(e.value).startswith(f"{fn} must be called inside a function transformed with")
