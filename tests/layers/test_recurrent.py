"""Recurrent cores and unrolls: parity with dm-haiku (values and gradients), names, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    NotCallableError,
    transform,
)
from minihaiku.layers import (
    GRU,
    LSTM,
    DeepRNN,
    IdentityCore,
    LSTMState,
    ResetCore,
    VanillaRNN,
    deep_rnn_with_skip_connections,
    dynamic_unroll,
    static_unroll,
)

hk = pytest.importorskip("haiku")

T, B, F = 4, 3, 5
XS = jax.random.normal(jax.random.key(1), (T, B, F))
RESETS = jnp.array([[0, 0, 1], [1, 0, 0], [0, 0, 0], [0, 1, 1]], dtype=bool)  # [T, B]

# (make the minihaiku core, make the dm-haiku core, {dm-haiku module: minihaiku prefix})
CORES = {
    "vanilla": (
        lambda mh: mh.VanillaRNN(6),
        lambda: hk.VanillaRNN(6),
        {
            "vanilla_rnn/linear": "~/VanillaRNN_0/__call__/Linear_0/__call__",
            "vanilla_rnn/linear_1": "~/VanillaRNN_0/__call__/Linear_1/__call__",
        },
    ),
    "vanilla_single_bias": (
        lambda mh: mh.VanillaRNN(6, double_bias=False),
        lambda: hk.VanillaRNN(6, double_bias=False),
        {
            "vanilla_rnn/linear": "~/VanillaRNN_0/__call__/Linear_0/__call__",
            "vanilla_rnn/linear_1": "~/VanillaRNN_0/__call__/Linear_1/__call__",
        },
    ),
    "lstm": (
        lambda mh: mh.LSTM(6),
        lambda: hk.LSTM(6),
        {"lstm/linear": "~/LSTM_0/__call__/Linear_0/__call__"},
    ),
    "gru": (lambda mh: mh.GRU(6), lambda: hk.GRU(6), {"gru": "~/GRU_0/__call__"}),
}


class _MH:
    """Namespace of the minihaiku cores, so that one lambda builds either library's core."""

    VanillaRNN = VanillaRNN
    LSTM = LSTM
    GRU = GRU


def to_flat(hk_params, mapping):
    """dm-haiku's nested params as minihaiku's flat dict, by an explicit module mapping."""
    assert set(hk_params) == set(mapping), (set(hk_params), set(mapping))
    return {
        f"{mapping[mod]}/{leaf}": value
        for mod, leaves in hk_params.items()
        for leaf, value in leaves.items()
    }


def assert_tree_close(a, b):
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert len(la) == len(lb), (ta, tb)
    for x, y in zip(la, lb, strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)


def loss_of(out, state):
    """A scalar that depends on every output and state entry, unevenly."""
    leaves = jax.tree_util.tree_leaves((out, state))
    return sum(jnp.sum(jnp.sin(leaf * (i + 1.5))) for i, leaf in enumerate(leaves))


def check_parity(mh_fn, hk_fn, mapping, *args):
    """Same outputs, and gradients w.r.t. params and inputs, for both libraries."""
    hk_f = hk.without_apply_rng(hk.transform(hk_fn))
    hk_params = hk_f.init(jax.random.key(0), *args)
    mh_f = transform(mh_fn)
    mh_params = mh_f.init(0, *args)
    params = to_flat(hk_params, mapping)
    assert {k: v.shape for k, v in mh_params.items()} == {k: v.shape for k, v in params.items()}
    assert list(mh_params) == list(params)  # creation order is the same too

    assert_tree_close(mh_f.apply(params, *args), hk_f.apply(hk_params, *args))
    mh_grads = jax.grad(lambda p, *a: loss_of(*mh_f.apply(p, *a)), argnums=(0, 1))(params, *args)
    hk_grads = jax.grad(lambda p, *a: loss_of(*hk_f.apply(p, *a)), argnums=(0, 1))(hk_params, *args)
    assert_tree_close(mh_grads[0], to_flat(hk_grads[0], mapping))
    assert_tree_close(mh_grads[1], hk_grads[1])


def unrolled(lib, make, unroll, time_major=True, reverse=False, all_states=False):
    def fn(xs):
        core = make(lib)
        batch = xs.shape[1] if time_major else xs.shape[0]
        state = core.initial_state(batch)
        if unroll == "static":
            return lib.static_unroll(core, xs, state, time_major=time_major)
        return lib.dynamic_unroll(
            core, xs, state, time_major=time_major, reverse=reverse, return_all_states=all_states
        )

    return fn


class _MHU(_MH):
    static_unroll = staticmethod(static_unroll)
    dynamic_unroll = staticmethod(dynamic_unroll)


class _HK:
    """dm-haiku's cores under the same names."""

    def __getattr__(self, name):
        return getattr(hk, name)


@pytest.mark.parametrize("name", sorted(CORES))
@pytest.mark.parametrize("unroll", ["static", "dynamic"])
@pytest.mark.parametrize("time_major", [True, False])
def test_core_unrolled_matches_dm_haiku(name, unroll, time_major):
    make_mh, make_hk, mapping = CORES[name]
    xs = XS if time_major else jnp.swapaxes(XS, 0, 1)
    check_parity(
        unrolled(_MHU, make_mh, unroll, time_major),
        unrolled(_HK(), lambda _: make_hk(), unroll, time_major),
        mapping,
        xs,
    )


@pytest.mark.parametrize("name", sorted(CORES))
@pytest.mark.parametrize("time_major", [True, False])
def test_dynamic_unroll_reverse_with_all_states_matches_dm_haiku(name, time_major):
    make_mh, make_hk, mapping = CORES[name]
    xs = XS if time_major else jnp.swapaxes(XS, 0, 1)
    kw = dict(time_major=time_major, reverse=True, all_states=True)
    check_parity(
        unrolled(_MHU, make_mh, "dynamic", **kw),
        unrolled(_HK(), lambda _: make_hk(), "dynamic", **kw),
        mapping,
        xs,
    )


def test_dynamic_unroll_reverse_runs_last_step_first():
    def fn(xs, reverse):
        core = GRU(2)
        return dynamic_unroll(core, xs, core.initial_state(B), reverse=reverse)

    f = transform(fn)
    params = f.init(0, XS, True)
    out, final = f.apply(params, XS, True)
    forward, _ = f.apply(params, XS[::-1], False)
    np.testing.assert_allclose(out, forward[::-1], rtol=1e-6)
    np.testing.assert_allclose(final, out[0], rtol=1e-6)


def test_static_and_dynamic_unrolls_agree():
    def fn(xs, kind):
        core = LSTM(3)
        unroll = static_unroll if kind == "static" else dynamic_unroll
        return unroll(core, xs, core.initial_state(B))

    f = transform(fn)
    params = f.init(0, XS, "static")
    assert_tree_close(f.apply(params, XS, "static"), f.apply(params, XS, "dynamic"))


@pytest.mark.parametrize("unroll", ["static", "dynamic"])
def test_reset_core_matches_dm_haiku(unroll):
    def make(lib):
        def fn(xs, resets):
            core = lib.ResetCore(lib.LSTM(6))
            return getattr(lib, f"{unroll}_unroll")(core, (xs, resets), core.initial_state(B))

        return fn

    class MH(_MHU):
        ResetCore = ResetCore

    mapping = {"lstm/linear": "~/LSTM_0/__call__/Linear_0/__call__"}
    check_parity(make(MH), make(_HK()), mapping, XS, RESETS)


def test_reset_core_resets_only_the_flagged_entries():
    def fn(x, resets, state):
        return ResetCore(GRU(2))((x, resets), state)

    f = transform(fn)
    x = jnp.ones((3, 2))
    state = jnp.full((3, 2), 7.0)
    params = f.init(0, x, jnp.zeros(3, bool), state)
    reset = f.apply(params, x, jnp.array([True, False, True]), state)[0]
    fresh = f.apply(params, x, jnp.ones(3, bool), state)[0]
    kept = f.apply(params, x, jnp.zeros(3, bool), state)[0]
    np.testing.assert_allclose(reset, jnp.stack([fresh[0], kept[1], fresh[2]]))
    assert not np.allclose(fresh[1], kept[1])


def test_deep_rnn_matches_dm_haiku():
    def make(lib):
        def fn(xs):
            core = lib.DeepRNN([lib.LSTM(6), jax.nn.relu, lib.GRU(4), lib.VanillaRNN(3)])
            return lib.dynamic_unroll(core, xs, core.initial_state(B))

        return fn

    class MH(_MHU):
        DeepRNN = DeepRNN

    check_parity(
        make(MH),
        make(_HK()),
        {
            "lstm/linear": "~/LSTM_0/__call__/Linear_0/__call__",
            "gru": "~/GRU_0/__call__",
            "vanilla_rnn/linear": "~/VanillaRNN_0/__call__/Linear_0/__call__",
            "vanilla_rnn/linear_1": "~/VanillaRNN_0/__call__/Linear_1/__call__",
        },
        XS,
    )


def test_deep_rnn_with_skip_connections_matches_dm_haiku():
    def make(lib):
        def fn(xs):
            core = lib.deep_rnn_with_skip_connections([lib.LSTM(6), lib.GRU(4)])
            return lib.static_unroll(core, xs, core.initial_state(B))

        return fn

    class MH(_MHU):
        deep_rnn_with_skip_connections = staticmethod(deep_rnn_with_skip_connections)

    check_parity(
        make(MH),
        make(_HK()),
        {"lstm/linear": "~/LSTM_0/__call__/Linear_0/__call__", "gru": "~/GRU_0/__call__"},
        XS,
    )


def test_lstm_gate_order_is_i_g_f_o_with_forget_bias_one():
    f = transform(lambda x, s: LSTM(2)(x, s))
    x = jnp.array([[0.5, -1.0]])
    state = LSTMState(jnp.array([[0.3, 0.2]]), jnp.array([[1.0, -2.0]]))
    params = f.init(0, x, state)
    w = params["~/LSTM_0/__call__/Linear_0/__call__/w"]
    b = params["~/LSTM_0/__call__/Linear_0/__call__/b"]
    z = np.concatenate([x, state.hidden], -1) @ w + b
    i, g, fg, o = z[:, :2], z[:, 2:4], z[:, 4:6], z[:, 6:]
    sig = lambda v: 1 / (1 + np.exp(-v))
    c = sig(fg + 1) * state.cell + sig(i) * np.tanh(g)
    h, new = f.apply(params, x, state)
    np.testing.assert_allclose(new.cell, c, rtol=1e-5)
    np.testing.assert_allclose(h, sig(o) * np.tanh(c), rtol=1e-5)


def test_unbatched_inputs_and_states():
    def fn(x):
        core = LSTM(3)
        return core(x, core.initial_state(None))

    f = transform(fn)
    out, state = f.apply(f.init(0, jnp.ones(2)), jnp.ones(2))
    assert out.shape == (3,) and state.cell.shape == (3,)


def test_initial_states():
    def fn():
        return (
            VanillaRNN(2).initial_state(3),
            LSTM(2).initial_state(None),
            GRU(4).initial_state(1),
            IdentityCore().initial_state(5),
            DeepRNN([LSTM(2), jnp.tanh, GRU(3)]).initial_state(2),
        )

    vanilla, lstm, gru, identity, deep = transform(fn).apply({})
    assert vanilla.shape == (3, 2) and gru.shape == (1, 4) and identity == ()
    assert isinstance(lstm, LSTMState) and lstm.hidden.shape == (2,)
    assert isinstance(deep[0], LSTMState) and deep[1].shape == (2, 3) and len(deep) == 2
    assert not np.any(vanilla) and not np.any(lstm.cell)


def test_default_initializers_are_lecun_normal_and_zeros():
    f = transform(lambda x: GRU(300)(x, jnp.zeros((1, 300))))
    params = f.init(0, jnp.ones((1, 400)))
    w_i = np.asarray(params["~/GRU_0/__call__/w_i"])
    w_h = np.asarray(params["~/GRU_0/__call__/w_h"])
    assert abs(w_i.var() * 400 - 1.0) < 0.05 and abs(w_h.var() * 300 - 1.0) < 0.05
    assert np.abs(w_i).max() <= 2.0 / np.sqrt(400) / 0.87962566 + 1e-6
    np.testing.assert_array_equal(params["~/GRU_0/__call__/b"], np.zeros(900))


def test_gru_custom_initializers_and_dtype():
    f = transform(lambda x: GRU(2, w_i_init="ones", w_h_init="zeros", b_init="ones")(x, x[:, :2]))
    params = f.init(0, jnp.ones((1, 3), jnp.bfloat16))
    assert {v.dtype for v in params.values()} == {jnp.dtype(jnp.bfloat16)}
    np.testing.assert_array_equal(params["~/GRU_0/__call__/w_i"], np.ones((3, 6)))
    np.testing.assert_array_equal(params["~/GRU_0/__call__/w_h"], np.zeros((2, 6)))


def test_identity_core_passes_inputs_and_state_through():
    f = transform(lambda xs: dynamic_unroll(IdentityCore(), xs, ()))
    out, state = f.apply({}, XS)
    np.testing.assert_array_equal(out, XS)
    assert state == ()


# ---- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: LSTM(0), InvalidArgumentError, r"LSTM ~/LSTM_0: hidden_size must be a positive"),
        (
            lambda: GRU("8"),
            InvalidArgumentTypeError,
            r"GRU ~/GRU_0: hidden_size must be a positive int, got str '8'",
        ),
        (
            lambda: VanillaRNN(-2, name="rnn"),
            InvalidArgumentError,
            r"VanillaRNN ~/rnn: hidden_size must be a positive int, got -2",
        ),
        (
            lambda: GRU(2, b_init=3),
            NotCallableError,
            r"GRU ~/GRU_0: b_init must be a \(key, shape, dtype\) -> Array callable",
        ),
        (
            lambda: DeepRNN(LSTM(2)),
            InvalidArgumentTypeError,
            r"DeepRNN ~/DeepRNN_0: layers must be a sequence of cores and callables, got LSTM",
        ),
        (
            lambda: DeepRNN([LSTM(2), 3]),
            InvalidArgumentTypeError,
            r"DeepRNN ~/DeepRNN_0: layers\[1\] is a int, neither an RNNCore nor a callable",
        ),
        (
            lambda: deep_rnn_with_skip_connections([LSTM(2), jax.nn.relu]),
            InvalidArgumentTypeError,
            r"deep_rnn_with_skip_connections ~/DeepRNN_0: layers\[1\] is relu, not an "
            r"RNNCore; .* Use DeepRNN for cores mixed with plain functions",
        ),
    ],
)
def test_construction_errors_name_the_module(make, error, message):
    with pytest.raises(error, match=message):
        transform(make).init(0)


@pytest.mark.parametrize("core", [LSTM, GRU])
@pytest.mark.parametrize("shape", [(), (2, 3, 4)])
def test_input_rank_errors_name_the_module(core, shape):
    def fn():
        c = core(2)
        return c(jnp.ones(shape), c.initial_state(None))

    name = core.__name__
    with pytest.raises(
        InvalidArgumentError,
        match=rf"{name} ~/{name}_0: input must be rank 1 \(features,\) or rank 2 \(batch, "
        rf"features\), got shape {re_shape(shape)}\. Unroll a sequence with dynamic_unroll",
    ):
        transform(fn).init(0)


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def test_reset_core_errors():
    def not_a_pair():
        core = ResetCore(GRU(2))
        return core(jnp.ones((3, 2)), core.initial_state(3))

    with pytest.raises(
        InvalidArgumentTypeError,
        match=r"ResetCore ~/ResetCore_0: inputs must be a pair \(inputs, should_reset\), "
        r"got ArrayImpl\. Call it as core\(\(x, should_reset\), state\)",
    ):
        transform(not_a_pair).init(0)

    def bad_shape():
        core = ResetCore(GRU(2))
        return core((jnp.ones((3, 2)), jnp.ones((2,), bool)), core.initial_state(3))

    with pytest.raises(
        InvalidArgumentError,
        match=r"ResetCore ~/ResetCore_0: should_reset of shape \(2,\) does not fit a state "
        r"entry of shape \(3, 2\); its shape must be a prefix",
    ):
        transform(bad_shape).init(0)


def test_deep_rnn_state_error():
    def fn():
        core = DeepRNN([LSTM(2), GRU(2)])
        return core(jnp.ones((1, 2)), (core.initial_state(1)[0],))

    with pytest.raises(
        InvalidArgumentError,
        match=r"DeepRNN ~/DeepRNN_0: state must be a tuple with one entry per core \(2\), "
        r"got length 1\. Start from initial_state\(batch_size\)\.",
    ):
        transform(fn).init(0)


@pytest.mark.parametrize("unroll", [static_unroll, dynamic_unroll])
def test_unroll_errors(unroll):
    fn = unroll.__name__

    def run(core, xs, time_major=True):
        return transform(lambda: unroll(core() if callable(core) else core, xs, None, time_major))

    with pytest.raises(NotCallableError, match=rf"{fn}: core must be an RNNCore"):
        run(3, XS).init(0)
    with pytest.raises(
        InvalidArgumentError, match=rf"{fn} of LSTM ~/LSTM_0: input_sequence has no arrays"
    ):
        run(lambda: LSTM(2), {}).init(0)
    with pytest.raises(
        InvalidArgumentError,
        match=rf"{fn} of GRU ~/GRU_0: an input of shape \(4,\) has no time axis 1 "
        r"\(time_major=False expects batch-major \[B, T, \.\.\.\]\)",
    ):
        run(lambda: GRU(2), jnp.ones(4), time_major=False).init(0)
    with pytest.raises(
        InvalidArgumentError,
        match=rf"{fn} of GRU ~/GRU_0: the inputs have different numbers of time steps \[3, 4\] "
        r"on axis 0; every input needs the same length",
    ):
        run(lambda: GRU(2), (XS, XS[:3])).init(0)


# ---- lowering -----------------------------------------------------------------------------


def stablehlo_ops(fn, *args):
    text = jax.jit(fn).lower(*args).as_text()
    return [line.split("=", 1)[-1].strip() for line in text.splitlines() if "stablehlo." in line]


def hand_lstm(p, x, hidden, cell):
    w = p["~/LSTM_0/__call__/Linear_0/__call__/w"]
    b = p["~/LSTM_0/__call__/Linear_0/__call__/b"]
    gated = jnp.matmul(jnp.concatenate([x, hidden], axis=-1), w) + b
    i, g, f, o = jnp.split(gated, 4, axis=-1)
    c = jax.nn.sigmoid(f + 1) * cell + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return h, (h, c)


def test_jitted_lstm_step_lowers_to_the_hand_written_program():
    f = transform(lambda x, s: LSTM(6)(x, s))
    state = LSTMState(jnp.zeros((B, 6)), jnp.ones((B, 6)))
    params = f.init(0, XS[0], state)
    ours = stablehlo_ops(lambda p, x, s: f.apply(p, x, s), params, XS[0], state)
    hand = stablehlo_ops(lambda p, x, s: hand_lstm(p, x, *s), params, XS[0], state)
    assert ours == hand
    assert sum("dot_general" in op for op in ours) == 1


def scan_bodies(fn, *args):
    """The primitives of the body of each scan in ``fn``'s jaxpr."""
    eqns = jax.make_jaxpr(fn)(*args).jaxpr.eqns
    return [
        [e.primitive.name for e in eqn.params["jaxpr"].jaxpr.eqns]
        for eqn in eqns
        if eqn.primitive.name == "scan"
    ]


def test_jitted_dynamic_unroll_is_one_scan_of_the_hand_written_step():
    def fn(xs):
        core = LSTM(6)
        return dynamic_unroll(core, xs, core.initial_state(B))

    f = transform(fn)
    params = f.init(0, XS)

    def hand(p, xs):
        def step(state, x):
            h, (h, c) = hand_lstm(p, x, *state)
            return (h, c), h

        zeros = jnp.zeros((B, 6))
        (h, c), out = jax.lax.scan(step, (zeros, zeros), xs)
        return out, (h, c)

    ours = scan_bodies(f.apply, params, XS)
    assert ours == scan_bodies(hand, params, XS)
    assert len(ours) == 1 and ours[0].count("dot_general") == 1


@pytest.mark.parametrize("unroll", [static_unroll, dynamic_unroll])
@pytest.mark.parametrize(
    ("make", "state", "what", "given"),
    [
        (
            LSTM,
            lambda core: core.initial_state(B + 1),
            r"an LSTMState\(hidden, cell\) of two arrays",
            r"shapes \[\(4, 2\), \(4, 2\)\]",
        ),
        (
            LSTM,
            lambda core: LSTM(7).initial_state(B),
            r"an LSTMState\(hidden, cell\) of two arrays",
            r"shapes \[\(3, 7\), \(3, 7\)\]",
        ),
        (GRU, lambda core: core.initial_state(B + 1), "an array", r"shape \(4, 2\)"),
        (GRU, lambda core: jnp.zeros((B, 7)), "an array", r"shape \(3, 7\)"),
        (
            VanillaRNN,
            lambda core: core.initial_state(B + 1),
            "an array",
            r"shape \(4, 2\)",
        ),
    ],
)
def test_an_initial_state_that_does_not_fit_is_named(unroll, make, state, what, given):
    def fn(xs):
        core = make(2)
        return unroll(core, xs, state(core))

    name = make.__name__
    with pytest.raises(
        InvalidArgumentError,
        match=rf"^{unroll.__name__} of {name} ~/{name}_0: initial_state does not fit the "
        rf"inputs: expected {what} of shape \(3, 2\) \(the inputs' batch axes \(3,\) and "
        rf"hidden_size 2\), got {given}\. Pass core\.initial_state\(3\), or give the core "
        r"the hidden_size of the state\.$",
    ):
        transform(fn).init(0, XS)


def test_unbatched_inputs_name_initial_state_none():
    def fn(xs):
        core = GRU(2)
        return dynamic_unroll(core, xs, core.initial_state(B))

    with pytest.raises(
        InvalidArgumentError,
        match=r"expected an array of shape \(2,\) \(the inputs' batch axes \(\) and "
        r"hidden_size 2\), got shape \(3, 2\)\. Pass core\.initial_state\(None\)",
    ):
        transform(fn).init(0, XS[:, 0])


def test_static_unroll_keeps_a_gru_state_that_broadcasts():
    # the GRU step broadcasts an unbatched state over the batch, as before
    def fn(xs):
        core = GRU(2)
        return static_unroll(core, xs, core.initial_state(None))

    f = transform(fn)
    out, state = f.apply(f.init(0, XS), XS)
    assert out.shape == (T, B, 2)
    assert state.shape == (B, 2)


@pytest.mark.parametrize("time_major", [True, False])
@pytest.mark.parametrize("make", [lambda: LSTM(2), lambda: GRU(2), lambda: VanillaRNN(2)])
def test_static_unroll_over_zero_steps_is_dynamic_unrolls(make, time_major):
    xs = XS[:0] if time_major else jnp.swapaxes(XS, 0, 1)[:, :0]

    def fn(unroll, xs):
        core = make()
        return unroll(core, xs, core.initial_state(B), time_major=time_major)

    static = transform(lambda xs: fn(static_unroll, xs))
    dynamic = transform(lambda xs: fn(dynamic_unroll, xs))
    params = dynamic.init(0, XS if time_major else jnp.swapaxes(XS, 0, 1))
    assert list(static.init(0, xs)) == list(params)
    out, state = static.apply(params, xs)
    expected_out, expected_state = dynamic.apply(params, xs)
    assert out.shape == expected_out.shape == ((0, B, 2) if time_major else (B, 0, 2))
    assert out.dtype == expected_out.dtype
    assert jax.tree_util.tree_structure(state) == jax.tree_util.tree_structure(expected_state)
    for leaf, initial in zip(
        jax.tree_util.tree_leaves(state),
        jax.tree_util.tree_leaves(make_initial(make)),
        strict=True,
    ):
        np.testing.assert_array_equal(leaf, initial)


def make_initial(make):
    return transform(lambda: make().initial_state(B)).apply({})
