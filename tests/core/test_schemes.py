"""Core's naming and key schemes: the seed's stays the default; scheme= selects dm-haiku's."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    HAIKU,
    SEED,
    InvalidArgumentError,
    InvalidNameError,
    Module,
    current_name,
    force_name,
    get_param,
    get_state,
    multi_transform,
    name_like,
    name_scope,
    next_rng_key,
    reserve_rng_keys,
    set_state,
    transform,
    transform_with_state,
)


class Block(Module):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.inner = Leaf()

    def __call__(self):
        return self.inner() + Leaf()() + self.helper()

    def helper(self):
        return Leaf()()


class Leaf(Module):
    def __call__(self):
        return get_param("w", (), init="ones")


def model():
    return Block()() + Block(name="named")() + get_param("top", (), init="zeros")


def test_the_default_is_the_seed_scheme_and_passing_it_changes_nothing():
    for scheme in (None, "seed", SEED):
        assert list(transform(model, scheme=scheme).init(0)) == [
            "~/Block_0/Leaf_0/__call__/w",
            "~/Block_0/__call__/Leaf_0/__call__/w",
            "~/Block_0/helper/Leaf_0/__call__/w",
            "~/named/Leaf_0/__call__/w",
            "~/named/__call__/Leaf_0/__call__/w",
            "~/named/helper/Leaf_0/__call__/w",
            "~/top",
        ]


def test_the_haiku_scheme_names_as_dm_haiku_and_nests():
    params = transform(model, scheme="haiku").init(0)
    assert list(params) == [
        "block/~/leaf",
        "block/leaf",
        "block/~helper/leaf",
        "named/~/leaf",
        "named/leaf",
        "named/~helper/leaf",
        "~",
    ]
    assert list(params["~"]) == ["top"]
    out = transform(model, scheme=HAIKU).apply(params)
    assert float(out) == 6.0


def test_state_is_nested_too_and_apply_returns_it_nested():
    def f():
        n = get_state("n", (), jnp.int32)
        set_state("n", n + 1)
        return n

    t = transform_with_state(f, scheme="haiku")
    params, state = t.init(0)
    assert (params, list(state)) == ({}, ["~"])
    _, state = t.apply(params, state)
    assert int(state["~"]["n"]) == 1


def test_multi_transform_takes_the_scheme():
    def f():
        leaf = Leaf()
        return leaf, (leaf,)

    init, (apply,) = multi_transform(f, scheme="haiku")
    params = init(0)
    assert list(params) == ["leaf"]
    assert float(apply(params)) == 1.0


def test_an_unknown_scheme_says_which_exist():
    with pytest.raises(InvalidArgumentError) as e:
        transform(model, scheme="flax")
    assert str(e.value) == (
        "transform: scheme must be 'seed', 'haiku' or a minihaiku.core.Scheme, got str "
        "'flax'. Use scheme='haiku' for dm-haiku's names and keys, or leave it out for "
        "minihaiku's own."
    )


def test_haiku_keys_are_one_sequence_of_the_init_key():
    def f():
        a = get_param("a", (3,), init="normal")
        b = next_rng_key()
        c = get_param("c", (3,), init="normal")
        return a, b, c

    key = jax.random.PRNGKey(5)
    params = transform(f, scheme="haiku").init(key)
    k = key
    expected = []
    for _ in range(3):  # dm-haiku's PRNGSequence: split in two, hand out the second
        k, sub = jax.random.split(k)
        expected.append(sub)
    np.testing.assert_array_equal(params["~"]["a"], jax.random.normal(expected[0], (3,)))
    np.testing.assert_array_equal(params["~"]["c"], jax.random.normal(expected[2], (3,)))


def test_seed_keys_do_not_depend_on_other_parameters():
    def f(extra):
        def g():
            if extra:
                get_param("first", (3,), init="normal")
            return get_param("w", (3,), init="normal")

        return transform(g).init(0)["~/w"]

    np.testing.assert_array_equal(f(True), f(False))


def test_name_scope_and_current_name_under_the_seed_scheme():
    def f():
        with name_scope("block"):
            get_param("w", (), init="ones")
            with name_scope("a/b"):
                return current_name()

    assert transform(f).apply({"~/block/w": jnp.ones(())}) == "~/block/a/b"
    assert list(transform(f).init(0)) == ["~/block/w"]


def test_seed_name_scope_rejects_an_empty_part():
    def f():
        with name_scope("a//b"):
            pass

    with pytest.raises(InvalidNameError, match="empty"):
        transform(f).init(0)


def test_reserve_rng_keys_checks_num_and_changes_nothing_under_the_seed_scheme():
    def f(n):
        if n:
            reserve_rng_keys(n)
        return jax.random.normal(next_rng_key(), (2,))

    a = transform(lambda: f(0), apply_rng=True).apply({}, 3)
    b = transform(lambda: f(4), apply_rng=True).apply({}, 3)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(InvalidArgumentError, match="num must be an int >= 0"):
        transform(lambda: f(-1)).init(0)


def test_reserve_rng_keys_changes_haiku_keys_as_dm_haiku():
    def f():
        reserve_rng_keys(2)
        return get_param("w", (2,), init="normal")

    key = jax.random.PRNGKey(1)
    w = transform(f, scheme="haiku").init(key)["~"]["w"]
    np.testing.assert_array_equal(w, jax.random.normal(jax.random.split(key, 3)[1], (2,)))


def test_force_name_under_the_seed_scheme_is_a_full_path():
    def f():
        Leaf()
        return Leaf(name=force_name("~/Leaf_0"))() + Leaf(name=force_name("~/x/y"))()

    assert list(transform(f).init(0)) == ["~/Leaf_0/__call__/w", "~/x/y/__call__/w"]


def test_force_name_and_name_like_check_their_argument():
    with pytest.raises(InvalidArgumentError) as e:
        force_name("")
    assert str(e.value) == (
        "force_name expects a module's full name (a non-empty str), got str ''; e.g. "
        "force_name(module.module_name)."
    )
    with pytest.raises(InvalidArgumentError) as e:
        name_like(3)
    assert str(e.value) == (
        "name_like expects a method's name, got int 3; e.g. @name_like('__call__')."
    )


def test_name_like_under_the_seed_scheme_shares_the_other_methods_scope():
    class Net(Module):
        def __call__(self):
            return Leaf()()

        @name_like("__call__")
        def fast(self):
            return Leaf()()

    def f():
        net = Net()
        return net() + net.fast()

    assert list(transform(f).init(0)) == ["~/Net_0/__call__/Leaf_0/__call__/w"]


def test_the_key_sequence_split_ahead_is_one_split_per_draw():
    """Draws split ahead in one call equal dm-haiku's one split per draw, around reserves."""
    from minihaiku.core._key_sequence import AHEAD, KeySequence

    key = jax.random.PRNGKey(3)
    seq, want = KeySequence(key), []
    got = [next(seq) for _ in range(3)]
    seq.reserve(2)
    got += [next(seq) for _ in range(AHEAD + 3)]
    seq.key = jax.random.PRNGKey(5)  # replaced: what was split ahead is dropped
    got.append(next(seq))
    k = key
    for _ in range(3):
        k, sub = jax.random.split(k)
        want.append(sub)
    k, *subs = jax.random.split(k, 3)
    want += subs
    for _ in range(AHEAD + 1):
        k, sub = jax.random.split(k)
        want.append(sub)
    want.append(jax.random.split(jax.random.PRNGKey(5))[1])
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        np.testing.assert_array_equal(g, w, err_msg=str(i))
    assert seq.ahead, "the draws after a replaced key are split ahead again"
