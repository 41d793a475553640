"""Lifted transforms and control flow of minihaiku.haiku against dm-haiku's: names, keys, values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.haiku as mhk
from minihaiku.core import InvalidArgumentError

from ._compare import run_both

haiku = pytest.importorskip("haiku")

X = jax.random.normal(jax.random.PRNGKey(1), (3, 4))


_RANDOM = {"on": False}  # whether the programs draw keys inside the lifted function


def _noise(hk, shape):
    if not _RANDOM["on"]:
        return jnp.zeros(shape)
    return jax.random.normal(hk.next_rng_key(), shape)


def _after(hk):
    """A key drawn after the lifted transform (random mode only)."""
    return hk.next_rng_key() if _RANDOM["on"] else None


def _vmap(hk, x):
    lin = hk.Linear(2)
    ys = hk.vmap(lambda y: lin(y) + _noise(hk, (2,)), split_rng=False)(x)
    return ys, _after(hk)


def _vmap_axes(hk, x):
    return hk.vmap(lambda a, b: hk.Linear(2)(a + b), in_axes=(0, None), split_rng=False)(x, x[0])


def _scan(hk, x):
    lin = hk.Linear(4)

    def body(c, y):
        c = lin(c + y) + _noise(hk, (4,))
        return c, c * 2

    return hk.scan(body, jnp.zeros(4), x), _after(hk)


def _map(hk, x):
    lin = hk.Linear(3)
    return hk.map(lambda y: lin(y) + _noise(hk, (3,)), x)


def _cond(hk, x):
    lin = hk.Linear(2)
    return hk.cond(x.sum() > 0, lambda y: lin(y), lambda y: lin(y) * 2 + _noise(hk, (2,)), x)


def _switch(hk, x):
    lin = hk.Linear(2)
    return hk.switch(1, [lambda y: lin(y), lambda y: lin(y) - _noise(hk, (2,))], x)


def _fori(hk, x):
    lin = hk.Linear(4)
    return hk.fori_loop(0, 3, lambda i, c: lin(c) + _noise(hk, (4,)), x)


def _while(hk, x):
    lin = hk.Linear(4)
    if hk.running_init():
        return lin(x)
    return hk.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, lin(c[1])), (0, x))[1]


def _remat(hk, x):
    return hk.remat(lambda y: hk.nets.MLP([4, 2])(y) + _noise(hk, (2,)))(x)


def _grad(hk, x):
    return hk.grad(lambda y: hk.Linear(1)(y).sum())(x)


def _value_and_grad(hk, x):
    return hk.value_and_grad(lambda y, z: (hk.Linear(1)(y) * z).sum(), argnums=(0, 1))(x, 2.0)


def _grad_aux(hk, x):
    return hk.grad(lambda y: (hk.Linear(1)(y).sum(), y), has_aux=True)(x)


PROGRAMS = {
    "vmap": _vmap,
    "vmap_axes": _vmap_axes,
    "scan": _scan,
    "map": _map,
    "cond": _cond,
    "switch": _switch,
    "fori_loop": _fori,
    "while_loop": _while,
    "remat": _remat,
    "grad": _grad,
    "value_and_grad": _value_and_grad,
    "grad_has_aux": _grad_aux,
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_matches_dm_haiku(name):
    run_both(haiku, mhk, PROGRAMS[name], X)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_keys_drawn_inside_match_dm_haiku(name, monkeypatch):
    monkeypatch.setitem(_RANDOM, "on", True)
    run_both(haiku, mhk, PROGRAMS[name], X)


def test_vmap_split_rng_in_init_is_a_value_error_in_both(hk):
    f = hk.transform(lambda x: hk.vmap(lambda y: hk.Linear(2)(y), split_rng=True)(x))
    with pytest.raises(ValueError):
        f.init(jax.random.PRNGKey(0), X)


def test_vmap_split_rng_in_init_says_what_to_do():
    f = mhk.transform(lambda x: mhk.vmap(lambda y: y, split_rng=True)(x))
    with pytest.raises(InvalidArgumentError) as e:
        f.init(jax.random.PRNGKey(0), X)
    assert str(e.value) == (
        "vmap(<lambda>, split_rng=True) during init: parameters are shared along the "
        "mapped axis, so init must not split keys (dm-haiku's rule). Pass "
        "split_rng=(not hk.running_init())."
    )


def test_vmap_split_rng_in_apply_gives_each_element_its_own_key():
    f = mhk.transform(lambda x: mhk.vmap(lambda y: mhk.next_rng_key(), split_rng=True)(x))
    keys = f.apply({}, jax.random.PRNGKey(0), X)
    assert keys.shape == (3, 2) and len({tuple(k.tolist()) for k in keys}) == 3


def _named_axis_batch_norm(hk, x):
    """Collectives over vmap's named axis: a centring pmean, BatchNorm across it, a psum."""

    def one(y):
        h = hk.Linear(3)(y)
        h = h - jax.lax.pmean(h, "i")
        h = hk.BatchNorm(True, True, 0.9, cross_replica_axis="i")(h[None], is_training=True)[0]
        return jax.lax.psum(h, "i") * hk.get_parameter("s", [], init=jnp.ones)

    return hk.vmap(one, axis_name="i", split_rng=False)(x)


def _named_axis_index(hk, x):
    """axis_index of the named axis, with an unmapped argument and split keys in apply."""

    def one(y, z):
        noise = 0.0 if hk.running_init() else jax.random.uniform(hk.next_rng_key())
        return hk.Linear(2)(y) * jax.lax.axis_index("b") + z + noise

    split = not hk.running_init()
    return hk.vmap(one, in_axes=(0, None), axis_name="b", split_rng=split)(x, 1.0)


def _named_axis_keys(hk, x):
    """Keys drawn inside (shared, split_rng=False) and a module after: the key sequence lines up."""

    def one(y):
        h = hk.Linear(3)(y)
        return h + jax.random.normal(hk.next_rng_key(), h.shape) - jax.lax.pmean(h, "i")

    out = hk.vmap(one, axis_name="i", split_rng=False)(x)
    return hk.Linear(2, name="head")(out) + jax.random.uniform(hk.next_rng_key())


@pytest.mark.parametrize("program", [_named_axis_batch_norm, _named_axis_index, _named_axis_keys])
def test_vmap_with_a_named_axis_matches_dm_haiku(program):
    # dm-haiku's lifted vmap hands back its modules sorted; the values are compared by name.
    ref_f = haiku.transform_with_state(lambda x: program(haiku, x))
    got_f = mhk.transform_with_state(lambda x: program(mhk, x))
    key = jax.random.PRNGKey(42)
    (ref_p, ref_s), (got_p, got_s) = ref_f.init(key, X), got_f.init(key, X)
    assert sorted(got_p) == sorted(ref_p) and sorted(got_s) == sorted(ref_s)
    for ref, got in ((ref_p, got_p), (ref_s, got_s)):
        for module, leaves in ref.items():
            assert sorted(got[module]) == sorted(leaves), module
            for leaf, value in leaves.items():
                np.testing.assert_array_equal(got[module][leaf], value, err_msg=module + leaf)
    state = ref_s
    for step in range(3):
        rng = jax.random.PRNGKey(step)
        out_ref, state_ref = ref_f.apply(ref_p, state, rng, X)
        out_got, state_got = got_f.apply(ref_p, state, rng, X)
        np.testing.assert_allclose(out_got, out_ref, rtol=1e-5, atol=1e-6)
        for module, leaves in state_ref.items():
            for leaf, value in leaves.items():
                np.testing.assert_allclose(state_got[module][leaf], value, rtol=1e-5, atol=1e-6)
        state = state_ref


def test_a_collective_over_an_unnamed_axis_is_jaxs_error_in_both(hk):
    f = hk.transform(lambda x: hk.vmap(lambda y: jax.lax.psum(y, "i"), split_rng=False)(x))
    with pytest.raises(NameError, match="unbound axis name: i"):
        f.init(jax.random.PRNGKey(0), X)


def test_while_loop_in_init_is_a_value_error_in_both(hk):
    def f(x):
        return hk.while_loop(lambda v: v < 3, lambda v: v + 1, x)

    with pytest.raises(ValueError):
        hk.transform(f).init(None, 0)


def test_while_loop_in_init_says_what_to_do():
    with pytest.raises(InvalidArgumentError) as e:
        mhk.transform(lambda: mhk.while_loop(lambda v: v < 3, lambda v: v + 1, 0)).init(None)
    assert str(e.value) == (
        "while_loop during init: it cannot be known when tracing whether the loop body "
        "runs at all (dm-haiku's rule). Under hk.running_init(), call the body once "
        "unconditionally instead of the loop."
    )


def test_a_scan_that_draws_no_key_leaves_the_sequence_as_dm_haiku():
    def program(hk, x):
        out = hk.scan(lambda c, y: (c + y, c), jnp.zeros(4), x)
        return out, hk.next_rng_key()

    run_both(haiku, mhk, program, X)
