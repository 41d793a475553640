"""Small behaviours that match dm-haiku: get_state's init in apply, to_haiku_dict, repr, eval_shape.

Each program runs with ``haiku`` and with ``minihaiku.haiku``; the results are
compared (or, for the errors, their built-in type and minihaiku's message).
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.haiku as mhk
from minihaiku.core import MissingStateError, get_state, transform_with_state

haiku = pytest.importorskip("haiku")

LIBS = [haiku, mhk]


def both(run):
    """``run(hk)`` on dm-haiku and on minihaiku.haiku."""
    return run(haiku), run(mhk)


def test_get_state_with_init_in_apply_creates_the_entry():
    def run(hk):
        def f(x):
            s = hk.get_state("s", [2], jnp.float32, init=jnp.ones)
            hk.set_state("s", s + x)
            return s * 2

        return hk.transform_with_state(f).apply({}, {}, None, jnp.full(2, 3.0))

    (out_ref, state_ref), (out, state) = both(run)
    np.testing.assert_array_equal(out, [2.0, 2.0])
    np.testing.assert_array_equal(out, out_ref)
    assert jax.tree_util.tree_structure(state) == jax.tree_util.tree_structure(state_ref)
    np.testing.assert_array_equal(state["~"]["s"], [4.0, 4.0])
    np.testing.assert_array_equal(state["~"]["s"], state_ref["~"]["s"])


def test_get_state_with_random_init_in_apply_draws_dm_haikus_key():
    def run(hk):
        def f():
            s = hk.get_state("s", [3], jnp.float32, init=hk.initializers.RandomNormal())
            return s, hk.next_rng_key()

        return hk.transform_with_state(f).apply({}, {}, jax.random.PRNGKey(3))

    ref, got = both(run)
    for a, b in zip(jax.tree_util.tree_leaves(ref), jax.tree_util.tree_leaves(got), strict=True):
        np.testing.assert_array_equal(a, b)


def test_get_state_without_init_in_apply_still_raises():
    def f(hk):
        return hk.transform_with_state(lambda: hk.get_state("s", [2])).apply({}, {}, None)

    with pytest.raises(ValueError, match="No value for 's'"):
        f(haiku)
    with pytest.raises(MissingStateError) as info:
        f(mhk)
    assert str(info.value).strip("'\"") == (
        "state '~/s' is not in the state given to apply (0 entries) and get_state was "
        "called without init. Pass init= (it then creates the entry in apply, as in "
        "init), or run init with the same function to get a state that holds it."
    )


def test_get_state_with_init_in_apply_is_still_an_error_under_minihaikus_own_scheme():
    f = transform_with_state(lambda: get_state("s", (2,), init=jnp.ones))
    with pytest.raises(MissingStateError, match="apply never creates states"):
        f.apply({}, {})


@pytest.mark.parametrize("value", [3, None, "text", 1.5])
def test_to_haiku_dict_returns_a_leaf_as_it_is(value):
    ref, got = both(lambda hk: hk.data_structures.to_haiku_dict(value))
    assert got is value
    assert ref is value


@pytest.mark.parametrize("value", [[1, {"a": 2}], (1, [2]), [np.ones(1)]])
def test_to_haiku_dict_copies_a_container_keeping_its_leaves(value):
    ref, got = both(lambda hk: hk.data_structures.to_haiku_dict(value))
    assert type(got) is type(ref) is type(value)
    assert repr(got) == repr(ref) == repr(value)
    assert got is not value and ref is not value
    assert [a is b for a, b in zip(got, value, strict=True)] == [
        a is b for a, b in zip(ref, value, strict=True)
    ]


def test_to_haiku_dict_of_a_mapping_copies_every_container():
    leaf = np.ones(2)
    given = {"a": {"w": [1]}, "b": [{"c": 2}], "n": leaf}
    ref, got = both(lambda hk: hk.data_structures.to_haiku_dict(given))
    assert repr(got) == repr(ref) == repr(given)
    assert type(got) is dict and type(got["a"]) is dict
    assert got is not given and got["a"] is not given["a"]
    assert got["b"] is not given["b"] and ref["b"] is not given["b"]
    assert got["a"]["w"] is not given["a"]["w"] and ref["a"]["w"] is not given["a"]["w"]
    assert got["n"] is leaf and ref["n"] is leaf


def _reprs(hk):
    def f():
        modules = [
            hk.Linear(3),
            hk.Linear(3, with_bias=False, name="foo"),
            hk.Linear(3, True, name="x"),
            hk.Conv2D(2, 3, w_init=None),
        ]
        with hk.config.context(module_auto_repr=False):
            plain = hk.Linear(3)
        seen.extend([[repr(m) for m in modules], repr(plain)])

    seen = []
    hk.transform(f).init(None)
    return seen


def test_module_repr_with_module_auto_repr_on_and_off():
    (ref, ref_plain), (got, got_plain) = both(_reprs)
    assert (
        got
        == ref
        == [
            "Linear(output_size=3)",
            "Linear(output_size=3, with_bias=False, name='foo')",
            "Linear(output_size=3, name='x')",
            "Conv2D(output_channels=2, kernel_shape=3)",
        ]
    )
    assert re.fullmatch(r"<haiku\._src\.basic\.Linear object at 0x[0-9a-f]+>", ref_plain)
    assert re.fullmatch(r"<minihaiku\.haiku\._layers\.Linear object at 0x[0-9a-f]+>", got_plain)


def test_eval_shape_during_init_creates_no_params():
    x = jnp.ones((1, 3))

    def run(hk):
        def f(x):
            before = hk.Linear(2)(x)
            return before, hk.eval_shape(lambda y: hk.Linear(4)(y), x)

        t = hk.transform(f)
        params = t.init(jax.random.PRNGKey(0), x)
        return jax.tree_util.tree_map(jnp.shape, params), t

    (ref, ref_t), (got, got_t) = both(run)
    assert got == ref == {"linear": {"w": (3, 2), "b": (2,)}}
    # apply cannot find the params made inside eval_shape: both raise.
    params = got_t.init(jax.random.PRNGKey(0), x)
    with pytest.raises(ValueError, match="linear_1"):
        ref_t.apply(params, None, x)
    with pytest.raises(KeyError, match="linear_1/w"):
        got_t.apply(params, None, x)


def test_eval_shape_in_apply_gives_the_shape():
    x = jnp.ones((1, 3))

    def run(hk):
        def f(x):
            lin = hk.Linear(2)
            lin(x)
            return hk.eval_shape(lin, x)

        t = hk.transform(f)
        return t.apply(t.init(jax.random.PRNGKey(0), x), None, x)

    ref, got = both(run)
    assert (got.shape, got.dtype) == (ref.shape, ref.dtype) == ((1, 2), jnp.float32)
