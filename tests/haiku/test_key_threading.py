"""Keys drawn inside and after lifted transforms, in init and apply, against dm-haiku's.

dm-haiku threads its key sequence through a lifted function: draws inside continue the
caller's sequence, loops carry it (one key kept reserved), ``scan`` and ``fori_loop``
unroll their first step during init, ``vmap(split_rng=True)`` takes ``next_rng_keys``,
``eval_shape`` discards what it drew. Each program here draws keys inside a lifted
transform, draws one after it and creates a module after it (whose initial value
depends on where the sequence stands); what init computes is kept as state, so
``run_both`` compares init's outputs too.
"""

import jax
import jax.numpy as jnp
import pytest

import minihaiku.haiku as mhk

from ._compare import run_both

haiku = pytest.importorskip("haiku")

X = jax.random.normal(jax.random.PRNGKey(1), (3, 4))


def _noise(hk, shape):
    return jax.random.normal(hk.next_rng_key(), shape)


def _tail(hk, x):
    """A key drawn after the transform and a module created after it."""
    return hk.next_rng_key(), hk.Linear(3, name="after")(x)


def _vmap(hk, x):
    lin = hk.Linear(2)
    return hk.vmap(lambda y: lin(y) + _noise(hk, (2,)), split_rng=False)(x)


def _vmap_split(hk, x):
    lin = hk.Linear(2)
    return hk.vmap(lambda y: lin(y) + _noise(hk, (2,)), split_rng=not hk.running_init())(x)


def _scan(hk, x):
    lin = hk.Linear(4)
    return hk.scan(lambda c, y: (lin(c + y) + _noise(hk, (4,)), _noise(hk, (2,))), jnp.zeros(4), x)


def _scan_reverse(hk, x):
    lin = hk.Linear(4)
    body = lambda c, y: (lin(c + y) + _noise(hk, (4,)), c)
    return hk.scan(body, jnp.zeros(4), x, reverse=True)


def _scan_one_step(hk, x):
    lin = hk.Linear(4)
    return hk.scan(lambda c, y: (lin(c + y) + _noise(hk, (4,)), c), jnp.zeros(4), x[:1])


def _scan_no_step(hk, x):
    lin = hk.Linear(4)
    return hk.scan(lambda c, y: (lin(c + y) + _noise(hk, (4,)), c), jnp.zeros(4), x[:0])


def _scan_no_draw(hk, x):
    return hk.scan(lambda c, y: (c + y, c), jnp.zeros(4), x)


def _scan_next_rng_keys(hk, x):
    lin = hk.Linear(4)
    body = lambda c, y: (lin(c + y) * hk.next_rng_keys(3)[1, 0], c)
    return hk.scan(body, jnp.zeros(4), x)[0]


def _map(hk, x):
    lin = hk.Linear(3)
    return hk.map(lambda y: lin(y) + _noise(hk, (3,)), x)


def _cond(hk, x):
    lin = hk.Linear(2)
    return hk.cond(x.sum() > 0, lambda y: lin(y) + _noise(hk, (2,)), lambda y: lin(y) * 2, x)


def _cond_after_reserve(hk, x):
    hk.reserve_rng_keys(4)
    lin = hk.Linear(4)
    return hk.cond(True, lambda y: lin(y) + _noise(hk, (4,)), lambda y: lin(y), x)


def _switch(hk, x):
    lin = hk.Linear(2)
    return hk.switch(1, [lambda y: lin(y), lambda y: lin(y) - _noise(hk, (2,))], x)


def _fori(hk, x):
    lin = hk.Linear(4)
    return hk.fori_loop(0, 3, lambda i, c: lin(c) + _noise(hk, (4,)), x)


def _fori_one_step(hk, x):
    lin = hk.Linear(4)
    return hk.fori_loop(2, 3, lambda i, c: lin(c) + _noise(hk, (4,)), x)


def _while(hk, x):
    lin = hk.Linear(4)
    if hk.running_init():
        return lin(x)
    body = lambda c: (c[0] + 1, lin(c[1]) + _noise(hk, (4,)))
    return hk.while_loop(lambda c: c[0] < 3, body, (0, x))[1]


def _remat(hk, x):
    return hk.remat(lambda y: hk.nets.MLP([4, 2])(y) + _noise(hk, (2,)))(x)


def _grad(hk, x):
    return hk.grad(lambda y: (hk.Linear(1)(y) + _noise(hk, (1,))).sum())(x)


def _eval_shape(hk, x):
    lin = hk.Linear(1)
    lin(x)
    return hk.eval_shape(lambda y: lin(y) + _noise(hk, (1,)), x).shape


def _with_rng(hk, x):
    lin = hk.Linear(4)
    with hk.with_rng(jax.random.PRNGKey(9)):
        out = hk.scan(lambda c, z: (lin(c + z) + _noise(hk, (4,)), c), jnp.zeros(4), x)[0]
        return out, hk.next_rng_key()


PROGRAMS = {
    "vmap": _vmap,
    "vmap_split_rng": _vmap_split,
    "scan": _scan,
    "scan_reverse": _scan_reverse,
    "scan_one_step": _scan_one_step,
    "scan_no_step": _scan_no_step,
    "scan_no_draw": _scan_no_draw,
    "scan_next_rng_keys": _scan_next_rng_keys,
    "map": _map,
    "cond": _cond,
    "cond_after_reserve": _cond_after_reserve,
    "switch": _switch,
    "fori_loop": _fori,
    "fori_loop_one_step": _fori_one_step,
    "while_loop": _while,
    "remat": _remat,
    "grad": _grad,
    "eval_shape": _eval_shape,
    "with_rng": _with_rng,
}


def _keeping_init_outputs(program):
    """``program`` plus a key and a module after it; init's outputs are kept as state."""

    def run(hk, x):
        out = (program(hk, x), _tail(hk, x))
        if hk.running_init():
            for i, leaf in enumerate(jax.tree_util.tree_leaves(out)):
                hk.set_state(f"out_{i}", jnp.asarray(leaf))
        return out

    return run


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_keys_in_init_and_apply_match_dm_haiku(name):
    run_both(haiku, mhk, _keeping_init_outputs(PROGRAMS[name]), X)
