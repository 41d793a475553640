"""The dm-haiku-shaped API of minihaiku.core, checked against dm-haiku itself."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.core as mh
from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    Module,
    PRNGSequence,
    RngError,
    StateNotAllowedError,
    get_param,
    get_state,
    maybe_next_rng_key,
    multi_transform,
    multi_transform_with_state,
    next_rng_key,
    next_rng_keys,
    running_init,
    set_state,
    transform,
    transform_with_state,
    with_empty_state,
    with_rng,
    without_state,
)

hk = pytest.importorskip("haiku")

ones = jax.nn.initializers.ones


def kd(key):
    """Raw key data of a typed or raw key, as numpy."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.asarray(key)


# --- PRNGSequence -------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 42, 2**32 - 1])
def test_prng_sequence_next_matches_dm_haiku(seed):
    ours, theirs = PRNGSequence(seed), hk.PRNGSequence(seed)
    for _ in range(4):
        np.testing.assert_array_equal(kd(next(ours)), kd(next(theirs)))


def test_prng_sequence_reserve_and_take_match_dm_haiku():
    ours, theirs = PRNGSequence(7), hk.PRNGSequence(7)
    ours.reserve(3)
    theirs.reserve(3)
    a = [kd(next(ours)) for _ in range(2)] + [kd(k) for k in ours.take(4)]
    b = [kd(next(theirs)) for _ in range(2)] + [kd(k) for k in theirs.take(4)]
    assert len(a) == 6
    np.testing.assert_array_equal(np.stack(a), np.stack(b))
    np.testing.assert_array_equal(kd(ours.next()), kd(next(theirs)))


def test_prng_sequence_accepts_a_raw_key_and_a_typed_key():
    raw = jax.random.PRNGKey(5)
    np.testing.assert_array_equal(kd(next(PRNGSequence(raw))), kd(next(hk.PRNGSequence(raw))))
    np.testing.assert_array_equal(kd(next(PRNGSequence(5))), kd(next(PRNGSequence(raw))))
    typed = jax.random.key(5)
    k = next(PRNGSequence(typed))
    assert jnp.issubdtype(k.dtype, jax.dtypes.prng_key)
    np.testing.assert_array_equal(kd(k), kd(next(PRNGSequence(raw))))


def test_prng_sequence_keys_are_distinct():
    keys = np.stack([kd(k) for k in PRNGSequence(0).take(8)])
    assert len({tuple(k) for k in keys}) == 8


@pytest.mark.parametrize(
    ("bad", "detail"),
    [
        ("x", r"got str 'x'\.$"),
        (1.5, r"got float 1\.5\.$"),
        (None, r"got NoneType None\.$"),
        (jnp.zeros((3,), jnp.uint32), r"a raw key of the default PRNG has shape \(2,\)"),
        (2**40, r"out of range: JAX keeps only 32 bits of a seed"),
        (jax.random.split(jax.random.key(0), 3), r"got a batch of 3 keys"),
    ],
)
def test_prng_sequence_refuses_bad_input_with_rng_error(bad, detail):
    with pytest.raises(RngError, match=r"^PRNGSequence expects a single PRNG key .*" + detail):
        PRNGSequence(bad)


# --- keys inside transforms -------------------------------------------------------


def test_next_rng_keys_shape_and_distinctness():
    keys = transform(lambda: next_rng_keys(4), apply_rng=True).apply({}, 0)
    assert keys.shape == (4, 2)
    assert len({tuple(k) for k in np.asarray(keys)}) == 4
    assert transform(lambda: next_rng_keys(0), apply_rng=True).apply({}, 0).shape == (0, 2)


def test_next_rng_keys_typed_key_gives_typed_keys():
    keys = transform(lambda: next_rng_keys(3), apply_rng=True).apply({}, jax.random.key(0))
    assert keys.shape == (3,)
    assert jnp.issubdtype(keys.dtype, jax.dtypes.prng_key)


@pytest.mark.parametrize("num", [-1, 2.0, True])
def test_next_rng_keys_refuses_a_bad_count(num):
    f = transform(lambda: next_rng_keys(num), apply_rng=True)
    with pytest.raises(InvalidArgumentError, match=r"num must be an int >= 0, got "):
        f.apply({}, 0)


def test_maybe_next_rng_key_is_none_without_a_key_and_a_key_with_one():
    assert transform(lambda: maybe_next_rng_key()).apply({}) is None
    assert transform(lambda: maybe_next_rng_key(), apply_rng=True).apply({}, None) is None
    key = transform(lambda: maybe_next_rng_key(), apply_rng=True).apply({}, 0)
    assert key.shape == (2,)
    # the same key next_rng_key would have given
    np.testing.assert_array_equal(key, transform(next_rng_key, apply_rng=True).apply({}, 0))


def test_with_rng_draws_depend_only_on_its_key():
    def f():
        next_rng_key()  # an outer draw before the block changes nothing inside it
        with with_rng(jax.random.PRNGKey(3)):
            return next_rng_key(), next_rng_key()

    t = transform(f, apply_rng=True)
    a1, b1 = t.apply({}, 0)
    a2, b2 = t.apply({}, 123)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)
    assert not np.array_equal(a1, b1)


def test_with_rng_gives_the_same_keys_in_init_and_apply():
    seen = []

    def f():
        with with_rng(jax.random.PRNGKey(3)):
            seen.append(kd(next_rng_key()))

    transform(f).init(11)
    transform(f).apply({})
    np.testing.assert_array_equal(seen[0], seen[1])


def test_outer_sequence_resumes_after_with_rng_block():
    def with_block():
        a = next_rng_key()
        with with_rng(jax.random.PRNGKey(3)):
            next_rng_key()
            next_rng_key()
        return a, next_rng_key()

    def without_block():
        return next_rng_key(), next_rng_key()

    got = transform(with_block, apply_rng=True).apply({}, 0)
    want = transform(without_block, apply_rng=True).apply({}, 0)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_with_rng_inside_apply_without_apply_rng_works():
    def f():
        with with_rng(jax.random.PRNGKey(1)):
            return jax.random.normal(next_rng_key(), (3,))

    out = transform(f).apply({})
    assert out.shape == (3,)
    with pytest.raises(RngError, match=r"next_rng_key was called but apply was given no key"):
        transform(lambda: next_rng_key()).apply({})


def test_with_rng_refuses_a_bad_key():
    def f():
        with with_rng("nope"):
            pass

    with pytest.raises(RngError, match=r"^with_rng expects a single PRNG key .*got str 'nope'"):
        transform(f).apply({})


# --- running_init -----------------------------------------------------------------


def test_running_init_is_true_in_init_false_in_apply_like_dm_haiku():
    seen = []
    t = transform(lambda: seen.append(running_init()))
    t.init(0)
    t.apply({})
    hk_seen = []
    ht = hk.transform(lambda: hk_seen.append(hk.running_init()))
    ht.init(jax.random.PRNGKey(0))
    ht.apply({}, None)
    assert seen == hk_seen == [True, False]


def test_running_init_is_true_inside_a_lifted_scan_during_init():
    seen = []

    def f(xs):
        def step(c, x):
            seen.append(running_init())
            return c, x

        return mh.scan(step, 0.0, xs)

    t = transform(f)
    t.init(0, jnp.ones(3))
    assert seen and all(seen)
    seen.clear()
    t.apply({}, jnp.ones(3))
    assert seen and not any(seen)


def test_running_init_outside_transform_raises():
    with pytest.raises(mh.NotInTransformError, match=r"^running_init must be called inside"):
        running_init()


# --- multi_transform ----------------------------------------------------------------


class AutoEncoder(Module):
    def encode(self, x):
        return x @ get_param("enc", (x.shape[-1], 2), init=jax.nn.initializers.normal(1.0))

    def decode(self, z):
        return z @ get_param("dec", (2, 3), init=jax.nn.initializers.normal(1.0))

    def __call__(self, x):
        return self.decode(self.encode(x))


def _ae():
    ae = AutoEncoder()
    return ae.__call__, {"encode": ae.encode, "decode": ae.decode}


def test_multi_transform_entry_points_share_the_templates_params():
    init, apply = multi_transform(_ae)
    x = jnp.arange(6.0).reshape(2, 3)
    params = init(0, x)
    assert list(params) == ["~/AutoEncoder_0/encode/enc", "~/AutoEncoder_0/decode/dec"]
    z = apply["encode"](params, x)
    np.testing.assert_allclose(z, x @ params["~/AutoEncoder_0/encode/enc"], rtol=1e-6)
    np.testing.assert_allclose(
        apply["decode"](params, z), z @ params["~/AutoEncoder_0/decode/dec"], rtol=1e-6
    )
    # the template's params are exactly what transform(template) creates
    plain = transform(lambda x: AutoEncoder()(x)).init(0, x)
    assert list(plain) == list(params)
    for k in plain:
        np.testing.assert_array_equal(plain[k], params[k])


def test_multi_transform_apply_has_the_structure_of_dm_haikus():
    def hk_f():
        enc = hk.Linear(2)
        return lambda x: enc(x), {"encode": enc, "decode": lambda z: z}

    theirs = hk.multi_transform(hk_f)
    ours = multi_transform(_ae)
    assert type(ours).__name__ == type(theirs).__name__ == "MultiTransformed"
    assert ours._fields == theirs._fields == ("init", "apply")
    assert jax.tree_util.tree_structure(ours.apply) == jax.tree_util.tree_structure(theirs.apply)


def test_multi_transform_with_apply_rng_takes_a_key():
    def f():
        def noise():
            return jax.random.normal(next_rng_key(), (2,))

        return noise, (noise,)

    init, (noise,) = multi_transform(f, apply_rng=True)
    params = init(0)
    assert params == {}
    np.testing.assert_array_equal(noise(params, 1), noise(params, 1))
    assert not np.array_equal(noise(params, 1), noise(params, 2))


def test_multi_transform_with_state_threads_state_through_each_entry_point():
    def f():
        def count():
            n = get_state("n", (), jnp.int32)
            set_state("n", n + 1)
            return n

        def peek():
            return get_state("n", (), jnp.int32)

        return count, (count, peek)

    init, (count, peek) = multi_transform_with_state(f)
    params, state = init(0)
    assert params == {}
    assert {k: int(v) for k, v in state.items()} == {"~/n": 0}
    out, state = count(params, state)
    assert int(out) == 0
    out, state = count(params, state)
    assert int(out) == 1
    out, state2 = peek(params, state)
    assert int(out) == 2
    assert int(state2["~/n"]) == 2


def test_multi_transform_with_state_matches_dm_haiku_initial_state():
    def ours_f():
        def count():
            set_state("n", get_state("n", (), jnp.int32) + 1)

        return count, (count,)

    def hk_f():
        def count():
            hk.set_state("n", hk.get_state("n", (), jnp.int32, init=jnp.zeros) + 1)

        return count, (count,)

    _, state = multi_transform_with_state(ours_f).init(0)
    _, hk_state = hk.multi_transform_with_state(hk_f).init(jax.random.PRNGKey(0))
    assert int(state["~/n"]) == int(hk_state["~"]["n"]) == 0


@pytest.mark.parametrize("bad", [lambda: 3, lambda: (1, 2), lambda: (lambda: 0,)])
def test_multi_transform_refuses_a_bad_return_of_f(bad):
    with pytest.raises(
        InvalidArgumentTypeError,
        match=r"^multi_transform: f must return \(template_fn, apply_fns\).*got (int|tuple)\.",
    ):
        multi_transform(bad)


# --- without_state / with_empty_state ----------------------------------------------------


def test_without_state_drops_empty_state_from_init_and_apply():
    def f(x):
        return x * get_param("w", (), init=ones)

    t = without_state(transform_with_state(f))
    assert isinstance(t, mh.Transformed)
    params = t.init(0, 2.0)
    assert list(params) == ["~/w"]
    assert float(t.apply(params, 2.0)) == 2.0


def test_without_state_refuses_a_function_that_creates_state():
    t = without_state(transform_with_state(lambda: set_state("s", 1.0)))
    with pytest.raises(
        StateNotAllowedError,
        match=r"^without_state: the function creates state entries \['~/s'\]; without_state "
        r"is only for functions without state\. Use the transform_with_state pair itself\.",
    ):
        t.init(0)


def test_without_state_apply_refuses_a_function_that_reads_state():
    t = without_state(transform_with_state(lambda: get_state("s", (), init=ones)))
    with pytest.raises(mh.MissingStateError, match=r"state '~/s' is not in the state"):
        t.apply({})


def test_without_state_refuses_a_stateless_pair():
    with pytest.raises(
        InvalidArgumentTypeError,
        match=r"^without_state expects what transform_with_state returns, got Transformed\. "
        r"Pass transform_with_state\(f\)\.",
    ):
        without_state(transform(lambda: None))


def test_with_empty_state_returns_empty_state_and_round_trips():
    t = with_empty_state(transform(lambda x: x * get_param("w", (), init=ones)))
    assert isinstance(t, mh.TransformedWithState)
    params, state = t.init(0, 3.0)
    assert list(params) == ["~/w"]
    assert state == {}
    out, state = t.apply(params, {}, 3.0)
    assert float(out) == 3.0
    assert state == {}
    back = without_state(t)
    assert float(back.apply(back.init(0, 3.0), 3.0)) == 3.0


def test_with_empty_state_refuses_a_stateful_pair():
    with pytest.raises(
        InvalidArgumentTypeError,
        match=r"^with_empty_state expects what transform returns, got TransformedWithState\. "
        r"Pass transform\(f\)\.",
    ):
        with_empty_state(transform_with_state(lambda: None))


def test_with_empty_state_matches_dm_haiku():
    ht = hk.with_empty_state(hk.transform(lambda x: x))
    ot = with_empty_state(transform(lambda x: x))
    assert ht.init(jax.random.PRNGKey(0), 1.0) == ot.init(0, 1.0) == ({}, {})
    assert ht.apply({}, {}, None, 1.0) == ot.apply({}, {}, 1.0) == (1.0, {})


# --- decorator forms ---------------------------------------------------------------------


def test_transform_as_a_bare_decorator():
    @transform
    def f(x):
        return x * get_param("w", (), init=ones)

    assert isinstance(f, mh.Transformed)
    assert float(f.apply(f.init(0, 2.0), 2.0)) == 2.0


def test_transform_as_a_decorator_with_apply_rng():
    @transform(apply_rng=True)
    def f():
        return next_rng_key()

    np.testing.assert_array_equal(
        f.apply({}, 0), transform(next_rng_key, apply_rng=True).apply({}, 0)
    )


def test_transform_with_state_as_decorators():
    @transform_with_state
    def f():
        set_state("s", 1.0)

    @transform_with_state(apply_rng=True)
    def g():
        set_state("k", jax.random.uniform(next_rng_key()))

    assert isinstance(f, mh.TransformedWithState)
    assert f.init(0)[1] == {"~/s": 1.0}
    params, state = g.init(0)
    _, s1 = g.apply(params, state, 1)
    _, s2 = g.apply(params, state, 2)
    assert float(s1["~/k"]) != float(s2["~/k"])


@pytest.mark.parametrize("make", [transform, transform_with_state])
@pytest.mark.parametrize("bad", [1, "yes", None])
def test_apply_rng_must_be_a_bool(make, bad):
    with pytest.raises(
        InvalidArgumentTypeError,
        match=r"^apply_rng must be True or False, got \w+ .*\. Use transform\(f, apply_rng=True\)",
    ):
        make(lambda: None, apply_rng=bad)
    with pytest.raises(InvalidArgumentTypeError, match=r"^apply_rng must be True or False"):
        make(apply_rng=bad)


# --- initial state of transform_with_state -----------------------------------------------


def _counter_ours():
    n = get_state("n", (), jnp.int32)
    set_state("n", n + 1)
    return n


def _counter_hk():
    n = hk.get_state("n", (), jnp.int32, init=jnp.zeros)
    hk.set_state("n", n + 1)
    return n


def _mean_ours(x):
    m = get_state("mean", x.shape, init=jax.nn.initializers.zeros)
    set_state("mean", 0.9 * m + 0.1 * x)
    return m


def _mean_hk(x):
    m = hk.get_state("mean", x.shape, init=jnp.zeros)
    hk.set_state("mean", 0.9 * m + 0.1 * x)
    return m


def _first_set_ours(x):
    set_state("s", x)
    set_state("s", x * 2)
    set_state("s", x * 3)
    return get_state("s")


def _first_set_hk(x):
    hk.set_state("s", x)
    hk.set_state("s", x * 2)
    hk.set_state("s", x * 3)
    return hk.get_state("s")


@pytest.mark.parametrize(
    ("ours", "theirs", "name"),
    [
        (_counter_ours, _counter_hk, "n"),
        (_mean_ours, _mean_hk, "mean"),
        (_first_set_ours, _first_set_hk, "s"),
    ],
)
def test_init_returns_the_initial_state_like_dm_haiku(ours, theirs, name):
    args = () if ours is _counter_ours else (jnp.array([1.0, 2.0]),)
    _, state = transform_with_state(ours).init(0, *args)
    _, hk_state = hk.transform_with_state(theirs).init(jax.random.PRNGKey(0), *args)
    assert list(state) == ["~/" + name]
    np.testing.assert_array_equal(state["~/" + name], hk_state["~"][name])
    assert state["~/" + name].dtype == hk_state["~"][name].dtype


def test_init_state_is_the_first_set_value_but_later_reads_see_the_last():
    seen = []

    def f(x):
        set_state("s", x)
        set_state("s", x * 2)
        seen.append(get_state("s"))

    _, state = transform_with_state(f).init(0, jnp.float32(1.5))
    assert float(state["~/s"]) == 1.5
    assert float(seen[0]) == 3.0


def test_apply_after_init_advances_the_counter_like_dm_haiku():
    t, ht = transform_with_state(_counter_ours), hk.transform_with_state(_counter_hk)
    params, state = t.init(0)
    hp, hs = ht.init(jax.random.PRNGKey(0))
    for _ in range(3):
        out, state = t.apply(params, state)
        hout, hs = ht.apply(hp, hs, None)
        assert int(out) == int(hout)
    assert int(state["~/n"]) == int(hs["~"]["n"]) == 3


# --- more with_rng ---------------------------------------------------------------------


def test_maybe_next_rng_key_inside_with_rng_without_apply_rng():
    def f():
        with with_rng(jax.random.PRNGKey(1)):
            inside = maybe_next_rng_key()
        return inside, maybe_next_rng_key()

    inside, outside = transform(f).apply({})
    assert inside is not None and inside.shape == (2,)
    assert outside is None


def test_with_rng_around_a_lifted_scan_gives_keys_from_its_key_only():
    def f(xs):
        with with_rng(jax.random.PRNGKey(1)):
            return mh.scan(lambda c, x: (c, next_rng_key()), 0, xs)[1]

    xs = jnp.ones(3)
    no_key = transform(f).apply({}, xs)
    with_key = transform(f, apply_rng=True).apply({}, 5, xs)
    np.testing.assert_array_equal(no_key, with_key)
    assert len({tuple(k) for k in np.asarray(no_key)}) == 3


def test_with_rng_does_not_change_parameter_initial_values():
    def plain():
        return get_param("w", (3,))

    def wrapped():
        with with_rng(jax.random.PRNGKey(9)):
            return get_param("w", (3,))

    np.testing.assert_array_equal(
        transform(plain).init(0)["~/w"], transform(wrapped).init(0)["~/w"]
    )


def test_multi_transform_with_state_apply_without_state_is_a_clear_error():
    def f():
        def count():
            set_state("n", get_state("n", (), jnp.int32) + 1)

        return count, (count,)

    init, (count,) = multi_transform_with_state(f)
    params, _ = init(0)
    with pytest.raises(mh.InvalidParamsError) as e:
        count(params)
    assert str(e.value) == (
        "an entry point of multi_transform_with_state takes (params, state, *args) and "
        "got no state. Pass the state init returned: apply_fn(params, state, *args)."
    )


def test_multi_transform_apply_refuses_bad_params_and_state():
    def f():
        def count():
            set_state("n", get_state("n", (), jnp.int32) + 1)

        return count, (count,)

    init, (count,) = multi_transform_with_state(f)
    params, state = init(0)
    with pytest.raises(
        mh.InvalidParamsError, match=r"^apply expects state as a mapping from path to array"
    ):
        count(params, 3)
    with pytest.raises(
        mh.InvalidParamsError, match=r"^apply expects params as a mapping .*got list\."
    ):
        count([], state)
