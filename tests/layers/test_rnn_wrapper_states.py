"""DeepRNN / ResetCore initial states that do not fit: errors naming the core and the fix."""

import jax
import jax.numpy as jnp
import pytest

from minihaiku.core import InvalidArgumentError, transform
from minihaiku.layers import (
    GRU,
    LSTM,
    DeepRNN,
    ResetCore,
    deep_rnn_with_skip_connections,
    dynamic_unroll,
    static_unroll,
)

T, B, F = 5, 3, 4
XS = jnp.ones((T, B, F))
RESETS = jnp.zeros((T, B), bool)
UNROLLS = [dynamic_unroll, static_unroll]


def deep():
    return DeepRNN([LSTM(6), jax.nn.relu, GRU(2)])


def unroll_with(unroll, make, state, inputs=XS):
    def fn():
        core = make()
        return unroll(core, inputs, state(core))

    t = transform(fn)
    return t.apply(t.init(0))


def mismatch(unroll, top, where, core, what, expected, hidden, given, fix, which="that core"):
    whose = f", the state of {core}," if core else ""
    return (
        f"{unroll.__name__} of {top}: {where}{whose} does not fit the inputs: expected "
        f"{what} of shape {expected} (the inputs' batch axes (3,) and hidden_size {hidden}), "
        f"got {given}. {fix}, or give {which} the hidden_size of the state."
    )


LSTM_STATE = "an LSTMState(hidden, cell) of two arrays"


@pytest.mark.parametrize("unroll", UNROLLS)
def test_deep_rnn_state_of_another_batch_names_the_layer_core(unroll):
    with pytest.raises(InvalidArgumentError) as e:
        unroll_with(unroll, deep, lambda c: c.initial_state(2))
    assert str(e.value) == mismatch(
        unroll,
        "DeepRNN ~/DeepRNN_0",
        "initial_state[0]",
        "LSTM ~/LSTM_0",
        LSTM_STATE,
        "(3, 6)",
        6,
        "shapes [(2, 6), (2, 6)]",
        "Pass core.initial_state(3)",
    )


@pytest.mark.parametrize("unroll", UNROLLS)
def test_deep_rnn_state_of_another_hidden_size_names_the_second_core(unroll):
    # relu comes between the cores: the GRU's batch axes are not known, its hidden_size is.
    with pytest.raises(InvalidArgumentError) as e:
        unroll_with(unroll, deep, lambda c: (c.initial_state(3)[0], jnp.zeros((3, 5))))
    assert str(e.value) == (
        f"{unroll.__name__} of DeepRNN ~/DeepRNN_0: initial_state[1], the state of GRU "
        "~/GRU_0, does not fit that core: expected an array whose last axis is its "
        "hidden_size 2, got shape (3, 5). Pass core.initial_state(batch_size), or give "
        "that core the hidden_size of the state."
    )


@pytest.mark.parametrize("unroll", UNROLLS)
def test_cores_without_callables_between_check_every_batch(unroll):
    with pytest.raises(InvalidArgumentError) as e:
        unroll_with(
            unroll,
            lambda: DeepRNN([LSTM(6), GRU(2)]),
            lambda c: (c.initial_state(3)[0], jnp.zeros((4, 2))),
        )
    assert str(e.value) == mismatch(
        unroll,
        "DeepRNN ~/DeepRNN_0",
        "initial_state[1]",
        "GRU ~/GRU_0",
        "an array",
        "(3, 2)",
        2,
        "shape (4, 2)",
        "Pass core.initial_state(3)",
    )


@pytest.mark.parametrize("unroll", UNROLLS)
def test_deep_rnn_state_with_a_state_missing_says_how_many_are_needed(unroll):
    with pytest.raises(InvalidArgumentError) as e:
        unroll_with(unroll, deep, lambda c: c.initial_state(3)[:1])
    assert str(e.value) == (
        f"{unroll.__name__} of DeepRNN ~/DeepRNN_0: initial_state must be a tuple with one "
        "state per core (2: LSTM ~/LSTM_0, GRU ~/GRU_0), got a tuple of length 1. Pass "
        "core.initial_state(3), the tuple DeepRNN.initial_state returns."
    )


def test_deep_rnn_state_that_is_an_array_says_it_needs_a_tuple():
    with pytest.raises(InvalidArgumentError) as e:
        unroll_with(dynamic_unroll, deep, lambda c: jnp.zeros((3, 6)))
    assert str(e.value) == (
        "dynamic_unroll of DeepRNN ~/DeepRNN_0: initial_state must be a tuple with one "
        "state per core (2: LSTM ~/LSTM_0, GRU ~/GRU_0), got an array. Pass "
        "core.initial_state(3), the tuple DeepRNN.initial_state returns."
    )


def test_skip_connections_state_of_another_batch_is_named():
    with pytest.raises(InvalidArgumentError) as e:
        unroll_with(
            dynamic_unroll,
            lambda: deep_rnn_with_skip_connections([GRU(4), GRU(2)]),
            lambda c: c.initial_state(4),
        )
    assert str(e.value) == mismatch(
        dynamic_unroll,
        "DeepRNN ~/DeepRNN_0",
        "initial_state[0]",
        "GRU ~/GRU_0",
        "an array",
        "(3, 4)",
        4,
        "shape (4, 4)",
        "Pass core.initial_state(3)",
    )


@pytest.mark.parametrize("unroll", UNROLLS)
def test_reset_core_state_of_another_batch_names_the_reset_core(unroll):
    with pytest.raises(InvalidArgumentError) as e:
        unroll_with(unroll, lambda: ResetCore(LSTM(6)), lambda c: c.initial_state(2), (XS, RESETS))
    assert str(e.value) == mismatch(
        unroll,
        "ResetCore ~/ResetCore_0",
        "initial_state",
        None,
        LSTM_STATE,
        "(3, 6)",
        6,
        "shapes [(2, 6), (2, 6)]",
        "Pass core.initial_state(3)",
        which="the core",
    )


@pytest.mark.parametrize("unroll", UNROLLS)
def test_reset_core_around_a_deep_rnn_names_the_inner_core(unroll):
    with pytest.raises(InvalidArgumentError) as e:
        unroll_with(
            unroll,
            lambda: ResetCore(DeepRNN([LSTM(6), GRU(2)])),
            lambda c: (c.initial_state(3)[0], jnp.zeros((3, 7))),
            (XS, RESETS),
        )
    assert str(e.value) == mismatch(
        unroll,
        "ResetCore ~/ResetCore_0",
        "initial_state[1]",
        "GRU ~/GRU_0",
        "an array",
        "(3, 2)",
        2,
        "shape (3, 7)",
        "Pass core.initial_state(3)",
    )


@pytest.mark.parametrize(
    ("state", "described"),
    [
        (lambda c: jnp.zeros((B, 6)), "an array"),
        (lambda c: (jnp.zeros((B, 6)),), "a tuple of 1 array"),
        (lambda c: None, "None"),
    ],
)
def test_reset_core_called_on_a_state_of_another_structure_names_both(state, described):
    def fn():
        core = ResetCore(LSTM(6))
        return core((XS[0], RESETS[0]), state(core))

    with pytest.raises(InvalidArgumentError) as e:
        transform(fn).init(0)
    assert str(e.value) == (
        f"ResetCore ~/ResetCore_0: state is {described}, but the state of LSTM ~/LSTM_0 is "
        "an LSTMState of 2 arrays. Start from core.initial_state(batch_size)."
    )


@pytest.mark.parametrize("unroll", UNROLLS)
def test_fitting_states_still_unroll(unroll):
    out, _ = unroll_with(unroll, deep, lambda c: c.initial_state(3))
    assert out.shape == (T, B, 2)
    out, _ = unroll_with(
        unroll,
        lambda: ResetCore(DeepRNN([LSTM(6), GRU(2)])),
        lambda c: c.initial_state(3),
        (XS, RESETS),
    )
    assert out.shape == (T, B, 2)


def one_hot_deep():
    return DeepRNN([lambda x: jax.nn.one_hot(x, 7), LSTM(6), jax.nn.relu, GRU(2)])


TOKENS = jnp.zeros((T, B), jnp.int32)  # a callable before the first core makes the features


@pytest.mark.parametrize("unroll", UNROLLS)
def test_a_callable_before_the_cores_leaves_their_batch_axes_unchecked(unroll):
    out, _ = unroll_with(unroll, one_hot_deep, lambda c: c.initial_state(B), TOKENS)
    assert out.shape == (T, B, 2)


@pytest.mark.parametrize("unroll", UNROLLS)
def test_after_a_callable_the_hidden_size_is_still_checked(unroll):
    with pytest.raises(InvalidArgumentError) as e:
        unroll_with(
            unroll, one_hot_deep, lambda c: (c.initial_state(B)[0], jnp.zeros((B, 5))), TOKENS
        )
    assert str(e.value) == (
        f"{unroll.__name__} of DeepRNN ~/DeepRNN_0: initial_state[1], the state of GRU "
        "~/GRU_0, does not fit that core: expected an array whose last axis is its "
        "hidden_size 2, got shape (3, 5). Pass core.initial_state(batch_size), or give "
        "that core the hidden_size of the state."
    )
