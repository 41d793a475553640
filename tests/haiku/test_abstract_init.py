"""minihaiku.haiku's ``init`` without the forward pass: dm-haiku's values, bit for bit.

Under the haiku scheme ``init`` traces the function abstractly, logging each
entry to create and each key the forward pass draws, then replays dm-haiku's
key sequence in that order. Each program runs with dm-haiku (eager, as it
always does) and with minihaiku.haiku under ``init_mode("abstract")`` (the
abstract path or an error, never the fallback); the programs it cannot replay
exactly fall back to the eager ``init`` under ``"auto"`` and still give
dm-haiku's values, and are an ``AbstractInitError`` under ``"abstract"``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.haiku as mhk
from minihaiku.core import AbstractInitError, InitializerError, init_mode

from ._compare import assert_same_tree

haiku = pytest.importorskip("haiku")

K = jax.random.PRNGKey(7)
X = jax.random.normal(jax.random.PRNGKey(1), (4, 6))
IMG = jax.random.normal(jax.random.PRNGKey(2), (2, 8, 8, 3))


def _dropout_mlp(hk):
    x = hk.Linear(5)(X)
    x = hk.dropout(hk.next_rng_key(), 0.5, x)  # a draw between two random inits
    keys = hk.next_rng_keys(3)  # a stacked draw
    x = x + keys.sum() * 0
    hk.reserve_rng_keys(2)  # reserving changes the splits of later draws
    return hk.Linear(3, w_init=hk.initializers.RandomNormal(0.5))(x)


def _custom_init(hk):
    def init(shape, dtype):  # a dm-haiku initializer drawing its own key
        return jax.random.uniform(hk.next_rng_key(), shape, dtype) + 1.0

    w = hk.get_parameter("w", [6, 2], init=init)
    hk.get_parameter("b", [2], init=jnp.ones)  # draws no key
    return hk.Linear(2)(X @ w)


def _conv_net(hk):
    x = hk.Conv2D(4, 3)(IMG)
    x = x + hk.get_state("shift", [4], init=jnp.ones)  # state not computed by the forward
    x = hk.dropout(hk.maybe_next_rng_key(), 0.5, x)
    x = hk.Conv2D(4, 3, stride=2, w_init=hk.initializers.VarianceScaling(2.0))(x)
    return hk.Linear(3)(hk.Flatten()(hk.AvgPool(2, 2, "VALID")(x)))


def _transformer(hk):
    x = jax.random.normal(jax.random.PRNGKey(3), (2, 5, 8))
    x = hk.LayerNorm(-1, True, True)(x)
    x = hk.MultiHeadAttention(2, 4, w_init=hk.initializers.VarianceScaling(1.0))(x, x, x)
    return hk.nets.MLP([16, 8], activate_final=True)(x)


ABSTRACT = {
    "dropout_mlp": _dropout_mlp,
    "custom_init": _custom_init,
    "conv_net": _conv_net,
    "transformer": _transformer,
}


def _inits(program, mode):
    ref = haiku.transform_with_state(lambda: program(haiku)).init(K)
    with init_mode(mode):
        got = mhk.transform_with_state(lambda: program(mhk)).init(K)
    return got, ref


@pytest.mark.parametrize("name", sorted(ABSTRACT))
def test_abstract_init_gives_dm_haikus_values(name):
    got, ref = _inits(ABSTRACT[name], "abstract")
    assert_same_tree(got, ref)


def test_abstract_init_keeps_the_forward_pass_out():
    calls = []

    def f(x):
        y = mhk.Linear(3)(x)
        jax.debug.callback(lambda v: calls.append(1), y)  # runs only when computed
        return y

    with init_mode("abstract"):
        params = mhk.transform(f).init(K, X)
    ref = haiku.transform(lambda x: haiku.Linear(3)(x)).init(K, X)
    assert_same_tree(params, ref)
    assert calls == []


def _with_rng(hk):
    x = hk.Linear(3)(X)
    with hk.with_rng(jax.random.PRNGKey(5)):
        x = hk.dropout(hk.next_rng_key(), 0.5, x)
    return hk.Linear(2)(x)


def _lifted_vmap(hk):
    def inner(x):
        return hk.dropout(hk.next_rng_key(), 0.5, hk.Linear(2)(x))

    return hk.vmap(inner, split_rng=False)(X)


def _sequence_state(hk):
    state = hk.experimental.maybe_get_rng_sequence_state()
    hk.experimental.replace_rng_sequence_state(state)
    return hk.Linear(2)(X)


def _custom_creator(hk):
    def creator(next_creator, shape, dtype, init, context):
        return next_creator(shape, dtype, init) * 2

    with hk.custom_creator(creator):
        return hk.Linear(2)(X)


def _new_state(hk):
    hk.set_state("seen", hk.Linear(2)(X).sum())  # the first value comes from the forward
    return hk.Linear(3)(X)


def _resnet18(hk):  # batch norm's moving averages: set_state computes their first value
    return hk.nets.ResNet18(10)(IMG, is_training=True)


def _python_control_flow(hk):
    x = hk.Linear(2)(X)
    return hk.Linear(3)(x) if float(x.sum()) > 0 else hk.Linear(4)(x)


FALLBACKS = {
    "with_rng": _with_rng,
    "lifted_vmap": _lifted_vmap,
    "sequence_state": _sequence_state,
    "custom_creator": _custom_creator,
    "new_state": _new_state,
    "resnet18": _resnet18,
    "python_control_flow": _python_control_flow,
}


@pytest.mark.parametrize(
    "name",
    sorted(FALLBACKS),
)
def test_fallback_gives_dm_haikus_values(name):
    got, ref = _inits(FALLBACKS[name], "auto")
    assert_same_tree(got, ref)
    with pytest.raises(AbstractInitError, match=r"under init_mode\('abstract'\)"):
        _inits(FALLBACKS[name], "abstract")


def test_rng_reserve_size_falls_back_with_dm_haikus_values():
    previous = mhk.experimental.rng_reserve_size(3)
    previous_ref = haiku.experimental.rng_reserve_size(3)
    try:
        got, ref = _inits(_dropout_mlp, "auto")
    finally:
        mhk.experimental.rng_reserve_size(previous)
        haiku.experimental.rng_reserve_size(previous_ref)
    assert_same_tree(got, ref)


def test_init_without_a_key_runs_eagerly():
    f = mhk.transform(lambda: mhk.get_parameter("w", [2], init=jnp.ones))
    with init_mode("abstract"):
        assert np.array_equal(f.init(None)["~"]["w"], np.ones(2))


def test_jitted_init_gives_dm_haikus_values():
    got = jax.jit(mhk.transform(_prog_x(mhk)).init)(K, X)
    ref = haiku.transform(_prog_x(haiku)).init(K, X)
    assert_same_tree(got, ref)


def _prog_x(hk):
    return lambda x: hk.nets.MLP([5, 3])(x)


def _init_from_the_forward(hk):
    x = hk.Linear(3)(X)
    scale = hk.get_parameter("scale", [3], init=lambda shape, dtype: x.std(0))  # data init
    return x * scale


def test_an_initializer_using_the_forward_pass_falls_back_with_dm_haikus_values():
    got, ref = _inits(_init_from_the_forward, "auto")
    assert_same_tree(got, ref)
    # forced abstract: the initializer, run after the trace, meets the trace's value
    with pytest.raises(InitializerError, match="unexpected tracer"):
        _inits(_init_from_the_forward, "abstract")


def test_a_custom_creator_runs_once_per_parameter_when_init_falls_back():
    seen = []

    def creator(next_creator, shape, dtype, init, context):
        seen.append(context.full_name)
        return next_creator(shape, dtype, init)

    def f(x):
        with mhk.custom_creator(creator):
            return mhk.Linear(2)(x)

    mhk.transform(f).init(K, jnp.ones((128, 256)))  # 128 KiB: auto tries the abstract path
    assert seen == ["linear/w", "linear/b"]
