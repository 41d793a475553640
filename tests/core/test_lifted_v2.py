"""Lifted transforms after the second core pass: edge cases, layer_stack state, interception."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.core as mh
from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    Module,
    StateNotAllowedError,
    cond,
    fori_loop,
    get_param,
    get_state,
    scan,
    set_state,
    switch,
    transform,
    transform_with_state,
    while_loop,
)

ones = jax.nn.initializers.ones


class Step(Module):
    def __call__(self, c, x):
        return c * get_param("w", (), init=ones) + x, c


class Affine(Module):
    def __call__(self, x):
        return x * get_param("w", (), init=ones) + get_param("b", (), init=ones)


# --- scan over nothing ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("xs", "length", "n"),
    [(jnp.ones((0,)), None, 0), (None, 0, 0), (jnp.ones((1,)), None, 1), (None, 1, 1)],
)
def test_scan_of_zero_or_one_step_creates_the_same_params(xs, length, n):
    def f():
        return mh.scan(lambda c, x: Step()(c, 1.0 if x is None else x), 2.0, xs, length=length)

    t = transform(f)
    params = t.init(0)
    reference = transform(lambda: Step()(2.0, 1.0)).init(0)
    assert list(params) == list(reference) == ["~/Step_0/__call__/w"]
    np.testing.assert_array_equal(params["~/Step_0/__call__/w"], reference["~/Step_0/__call__/w"])
    carry, ys = t.apply(params)
    assert ys.shape == (n,)
    assert float(carry) == (2.0 if n == 0 else 3.0)


def test_zero_length_scan_leaves_state_unchanged_and_still_creates_it():
    def f(xs):
        def step(c, x):
            n = get_state("n", (), jnp.int32)
            set_state("n", n + 1)
            return c + x, x

        return mh.scan(step, 0.0, xs)[0]

    t = transform_with_state(f)
    params, state = t.init(0, jnp.ones((0,)))
    assert {k: int(v) for k, v in state.items()} == {"~/n": 0}
    out, state = t.apply(params, state, jnp.ones((0,)))
    assert float(out) == 0.0
    assert int(state["~/n"]) == 0
    _, state = t.apply(params, state, jnp.ones((3,)))
    assert int(state["~/n"]) == 3


def test_zero_length_scan_under_jit():
    t = transform(lambda xs: mh.scan(lambda c, x: Step()(c, x), 1.0, xs))
    params = t.init(0, jnp.ones((0,)))
    carry, ys = jax.jit(t.apply)(params, jnp.ones((0,)))
    assert float(carry) == 1.0
    assert ys.shape == (0,)


# --- while_loop condition cannot set state --------------------------------------------


def _while_setting_state_in_cond():
    def cond_fun(v):
        set_state("s", v)
        return v < 3

    return mh.while_loop(cond_fun, lambda v: v + 1, 0)


_COND_MSG = (
    r"^set_state\('s'\) inside while_loop's cond_fun: state '~/s' cannot change there, the "
    r"change would be lost\. Move the update into the loop body \(or out of the condition\)\."
)


def test_set_state_in_while_loop_condition_is_refused_in_init():
    with pytest.raises(StateNotAllowedError, match=_COND_MSG):
        transform_with_state(_while_setting_state_in_cond).init(0)


def test_set_state_in_while_loop_condition_is_refused_in_apply():
    t = transform_with_state(_while_setting_state_in_cond)
    with pytest.raises(StateNotAllowedError, match=_COND_MSG):
        t.apply({}, {"~/s": jnp.int32(0)})


def test_reading_state_in_while_loop_condition_and_writing_in_the_body_works():
    def f():
        def cond_fun(v):
            return v < get_state("limit", (), jnp.int32, init=jax.nn.initializers.constant(4))

        def body(v):
            set_state("steps", get_state("steps", (), jnp.int32) + 1)
            return v + 1

        return mh.while_loop(cond_fun, body, 0)

    t = transform_with_state(f)
    params, state = t.init(0)
    assert {k: int(v) for k, v in state.items()} == {"~/limit": 4, "~/steps": 0}
    out, state = t.apply(params, state)
    assert int(out) == 4
    assert {k: int(v) for k, v in state.items()} == {"~/limit": 4, "~/steps": 4}


def test_set_state_lock_ends_with_the_while_loop():
    def f():
        mh.while_loop(lambda v: v < get_state("s", (), jnp.int32), lambda v: v + 1, 0)
        set_state("s", jnp.int32(7))

    t = transform_with_state(f)
    params, state = t.init(0)
    _, state = t.apply(params, state)
    assert int(state["~/s"]) == 7


# --- cond / switch with a shared branch --------------------------------------------------


def test_switch_with_one_function_as_two_branches_creates_its_modules_once():
    def f(i, x):
        def shared(x):
            return Affine()(x)

        return mh.switch(i, [shared, lambda x: -x, shared], x)

    t = transform(f)
    params = t.init(0, 0, 2.0)
    assert list(params) == ["~/Affine_0/__call__/w", "~/Affine_0/__call__/b"]
    params = {"~/Affine_0/__call__/w": jnp.float32(3.0), "~/Affine_0/__call__/b": jnp.float32(1.0)}
    assert [float(t.apply(params, i, 2.0)) for i in range(3)] == [7.0, -2.0, 7.0]
    # out-of-range indices clamp, as in jax.lax.switch
    assert float(t.apply(params, 5, 2.0)) == 7.0
    assert float(t.apply(params, -1, 2.0)) == 7.0


def test_cond_with_one_function_as_both_branches_creates_its_modules_once():
    def f(p, x):
        def shared(x):
            return Affine()(x)

        return mh.cond(p, shared, shared, x)

    t = transform(f)
    params = t.init(0, True, 2.0)
    assert list(params) == ["~/Affine_0/__call__/w", "~/Affine_0/__call__/b"]
    assert float(t.apply(params, True, 2.0)) == float(t.apply(params, False, 2.0)) == 3.0


def test_cond_with_distinct_branches_names_true_branch_first():
    def f(p, x):
        return mh.cond(p, lambda x: Affine()(x), lambda x: Affine()(x) * 2, x)

    t = transform(f)
    params = t.init(0, True, 2.0)
    assert list(params) == [
        "~/Affine_0/__call__/w",
        "~/Affine_0/__call__/b",
        "~/Affine_1/__call__/w",
        "~/Affine_1/__call__/b",
    ]
    params = dict(params)
    params["~/Affine_1/__call__/w"] = jnp.float32(5.0)
    assert float(t.apply(params, True, 2.0)) == 3.0
    assert float(t.apply(params, False, 2.0)) == 22.0


@pytest.mark.parametrize("pred", [True, False])
def test_cond_with_operand_keyword_matches_jax(pred):
    def t_fn(x):
        return x + 1.0

    def f_fn(x):
        return x * 10.0

    x = jnp.float32(2.0)
    ours = transform(lambda p, x: mh.cond(p, t_fn, f_fn, operand=x)).apply({}, pred, x)
    theirs = jax.lax.cond(pred, t_fn, f_fn, operand=x)
    assert float(ours) == float(theirs)
    positional = transform(lambda p, x: mh.cond(p, t_fn, f_fn, x)).apply({}, pred, x)
    assert float(positional) == float(theirs)


def test_cond_with_operand_keyword_and_positional_operands_is_refused():
    f = transform(lambda: mh.cond(True, lambda x: x, lambda x: x, 1.0, operand=2.0))
    with pytest.raises(
        InvalidArgumentError,
        match=r"^cond: pass the operands either positionally or as operand=, not both\.$",
    ):
        f.apply({})


# --- layer_stack -----------------------------------------------------------------------


def _per_layer_state(x):
    n = get_state("n", (), jnp.int32)
    set_state("n", n + 1)
    r = get_state("r", (), init=jax.nn.initializers.zeros)
    set_state("r", r + x * get_param("w", ()))
    return x + 1.0


def test_layer_stack_state_gets_a_leading_axis_and_each_layer_its_own_slice():
    t = transform_with_state(lambda x: mh.layer_stack(3)(_per_layer_state)(x))
    params, state = t.init(0, 1.0)
    assert {k: v.shape for k, v in state.items()} == {"~/n": (3,), "~/r": (3,)}
    np.testing.assert_array_equal(state["~/n"], [0, 0, 0])
    out, state = t.apply(params, state, 1.0)
    out, state = t.apply(params, state, 1.0)
    assert float(out) == 4.0
    np.testing.assert_array_equal(state["~/n"], [2, 2, 2])
    # layer i sees input 1 + i, twice
    w = np.asarray(params["~/w"])
    np.testing.assert_allclose(state["~/r"], 2 * np.array([1.0, 2.0, 3.0]) * w, rtol=1e-6)
    assert len(set(np.asarray(state["~/r"]).tolist())) == 3


def test_layer_stack_state_created_by_set_state_gets_a_leading_axis():
    def layer(x):
        set_state("last", x)
        return x * 2

    t = transform_with_state(lambda x: mh.layer_stack(4)(layer)(x))
    params, state = t.init(0, jnp.ones(2))
    assert state["~/last"].shape == (4, 2)
    _, state = t.apply(params, state, jnp.ones(2))
    np.testing.assert_array_equal(state["~/last"][:, 0], [1.0, 2.0, 4.0, 8.0])


def _layer(x, y):
    w = get_param("w", (3, 3))
    h = jnp.tanh(x @ w + y)
    return h, jnp.sum(h, -1)


_X = jnp.linspace(-1.0, 1.0, 6).reshape(2, 3)
_YS = jnp.arange(12.0).reshape(4, 1, 3) / 10


def _hand_loop(w, x, ys, order):
    zs = [None] * len(order)
    for i in order:
        x = jnp.tanh(x @ w[i] + ys[i])
        zs[i] = jnp.sum(x, -1)
    return x, jnp.stack(zs)


@pytest.mark.parametrize("reverse", [False, True])
def test_layer_stack_with_per_layer_inputs_matches_a_hand_loop(reverse):
    def f(x, ys):
        return mh.layer_stack(4, with_per_layer_inputs=True)(_layer)(x, ys, reverse=reverse)

    t = transform(f)
    params = t.init(0, _X, _YS)
    assert {k: v.shape for k, v in params.items()} == {"~/w": (4, 3, 3)}
    x, zs = t.apply(params, _X, _YS)
    order = [3, 2, 1, 0] if reverse else [0, 1, 2, 3]
    hx, hzs = _hand_loop(params["~/w"], _X, _YS, order)
    np.testing.assert_allclose(x, hx, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(zs, hzs, rtol=1e-5, atol=1e-6)
    assert zs.shape == (4, 2)


@pytest.mark.parametrize("reverse", [False, True])
def test_layer_stack_with_per_layer_inputs_matches_dm_haiku(reverse):
    hk = pytest.importorskip("haiku")

    def hk_layer(x, y):
        w = hk.get_parameter("w", (3, 3), init=hk.initializers.RandomNormal())
        h = jnp.tanh(x @ w + y)
        return h, jnp.sum(h, -1)

    ours = transform(
        lambda x, ys: mh.layer_stack(4, with_per_layer_inputs=True)(_layer)(x, ys, reverse=reverse)
    )
    theirs = hk.transform(
        lambda x, ys: hk.layer_stack(4, with_per_layer_inputs=True)(hk_layer)(
            x, ys, reverse=reverse
        )
    )
    params = ours.init(0, _X, _YS)
    hk_params = theirs.init(jax.random.PRNGKey(0), _X, _YS)
    hk_params = jax.tree_util.tree_map(lambda _: params["~/w"], hk_params)
    out = ours.apply(params, _X, _YS)
    hk_out = theirs.apply(hk_params, None, _X, _YS)
    assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(hk_out)
    for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(hk_out), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_layer_stack_reverse_runs_layers_last_to_first():
    def layer(x):
        return x * 10 + get_param("b", (), init=jax.nn.initializers.zeros)

    params = {"~/b": jnp.array([1.0, 2.0, 3.0])}
    fwd = transform(lambda x: mh.layer_stack(3)(layer)(x)).apply(params, 0.0)
    rev = transform(lambda x: mh.layer_stack(3)(layer)(x, reverse=True)).apply(params, 0.0)
    assert float(fwd) == 123.0
    assert float(rev) == 321.0


def test_layer_stack_passes_reverse_to_the_layer_when_asked():
    seen = []

    def layer(x, reverse):
        seen.append(reverse)
        return x * 2 if reverse else x + 1

    def f(x, reverse):
        return mh.layer_stack(2, pass_reverse_to_layer_fn=True)(layer)(x, reverse=reverse)

    t = transform(f)
    assert float(t.apply({}, 1.0, True)) == 4.0
    assert seen and all(r is True for r in seen)
    seen.clear()
    assert float(t.apply({}, 1.0, False)) == 3.0
    assert seen and all(r is False for r in seen)


def test_layer_stack_does_not_pass_reverse_unless_asked():
    def layer(x, **kwargs):
        assert "reverse" not in kwargs
        return x + 1

    assert float(transform(lambda x: mh.layer_stack(2)(layer)(x, reverse=True)).apply({}, 0.0)) == 2


def test_layer_stack_per_layer_inputs_without_the_leading_axis_are_refused():
    def f():
        return mh.layer_stack(3, with_per_layer_inputs=True)(lambda x, y: (x + y, y))(
            1.0, jnp.ones(2)
        )

    with pytest.raises(
        InvalidArgumentError,
        match=r"^layer_stack\(3, with_per_layer_inputs=True\): every per-layer input needs a "
        r"leading axis of size 3 \(one slice per layer\), got an array of shape \(2,\)\.$",
    ):
        transform(f).apply({})


# --- intercept_methods sees construction -----------------------------------------------


class Holder(Module):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.inner = Affine()

    def __call__(self, x):
        return self.inner(x)


def test_intercept_methods_sees_init_with_the_module_under_construction():
    seen = []

    def interceptor(next_fun, args, kwargs, context):
        before = getattr(context.module, "module_path", None)
        out = next_fun(*args, **kwargs)
        seen.append((type(context.module).__name__, context.method_name, before,
                     context.module.module_path))  # fmt: skip
        return out

    modules = []

    def f(x):
        with mh.intercept_methods(interceptor):
            h = Holder(name="h")
            modules.append(h)
            return h(x)

    transform(f).init(0, 1.0)
    # Logged as each call returns: Affine is built inside Holder.__init__.
    assert seen[:2] == [
        ("Affine", "__init__", None, "~/h/Affine_0"),
        ("Holder", "__init__", None, "~/h"),
    ]
    assert ("Holder", "__call__", "~/h", "~/h") in seen
    assert ("Affine", "__call__", "~/h/Affine_0", "~/h/Affine_0") in seen


def test_intercept_methods_can_change_init_arguments():
    class Width(Module):
        def __init__(self, width, name=None):
            super().__init__(name=name)
            self.width = width

        def __call__(self):
            return get_param("w", (self.width,), init=ones)

    def double(next_fun, args, kwargs, context):
        if context.method_name == "__init__":
            args = (args[0] * 2, *args[1:])
        return next_fun(*args, **kwargs)

    def f():
        with mh.intercept_methods(double):
            return Width(3)()

    assert transform(f).init(0)["~/Width_0/__call__/w"].shape == (6,)


def _hk_init_calls(hk):
    class Lin(hk.Module):
        def __call__(self, x):
            return x

    seen = []

    def interceptor(next_fun, args, kwargs, context):
        seen.append((type(context.module).__name__, context.method_name))
        return next_fun(*args, **kwargs)

    def f(x):
        with hk.intercept_methods(interceptor):
            return Lin()(x)

    hk.transform(f).init(jax.random.PRNGKey(0), 1.0)
    return seen


def test_intercept_methods_sees_init_of_a_module_without_its_own_init():
    hk = pytest.importorskip("haiku")
    seen = []

    def interceptor(next_fun, args, kwargs, context):
        seen.append((type(context.module).__name__, context.method_name))
        return next_fun(*args, **kwargs)

    class Lin(Module):
        def __call__(self, x):
            return x

    def f(x):
        with mh.intercept_methods(interceptor):
            return Lin()(x)

    transform(f).init(0, 1.0)
    assert seen == _hk_init_calls(hk) == [("Lin", "__init__"), ("Lin", "__call__")]


def test_intercept_methods_reports_init_for_a_dataclass_module():
    @dataclasses.dataclass
    class Block(Module):
        width: int = 1
        name: str | None = None

        def __call__(self, x):
            return x

    seen = []

    def interceptor(next_fun, args, kwargs, context):
        seen.append(context.method_name)
        return next_fun(*args, **kwargs)

    def f(x):
        with mh.intercept_methods(interceptor):
            return Block(2)(x)

    transform(f).init(0, 1.0)
    assert seen == ["__init__", "__call__"]


def test_intercept_methods_sees_property_getters_by_name():
    class P(Module):
        @property
        def prop(self):
            return get_param("w", (), init=ones)

    seen = []

    def interceptor(next_fun, args, kwargs, context):
        if context.method_name != "__init__":  # not named yet before __init__ runs
            seen.append((context.method_name, context.module.module_path))
        return next_fun(*args, **kwargs)

    def f():
        with mh.intercept_methods(interceptor):
            return P().prop

    assert list(transform(f).init(0)) == ["~/P_0/prop/w"]
    assert seen == [("prop", "~/P_0")]


# Branch outputs and loop carries that differ: the error names the user's functions.


def same(x):
    return x


def as_int(x):
    return x.astype(jnp.int32)


def doubled(x):
    return jnp.stack([x, x])


def pair(x):
    return x, x


def with_int_b(x):
    return {"w": x, "b": x.astype(jnp.int32)}


def with_float_b(x):
    return {"w": x, "b": x}


SAME_OUTPUTS = (
    "Make the branches return the same (cast, reshape or restructure the outputs of one)."
)
COND = "cond: true_fun and false_fun must return the same structure, shapes and dtypes, but "


@pytest.mark.parametrize(
    ("true_fun", "false_fun", "diff"),
    [
        (
            same,
            as_int,
            "true_fun (same) returns float32[3] and false_fun (as_int) returns int32[3]",
        ),
        (
            same,
            doubled,
            "true_fun (same) returns float32[3] and false_fun (doubled) returns float32[2, 3]",
        ),
        (
            same,
            pair,
            "true_fun (same) returns the structure PyTreeDef(*) and false_fun (pair) returns "
            "PyTreeDef((*, *))",
        ),
        (
            with_float_b,
            with_int_b,
            "true_fun (with_float_b) returns float32[3] and false_fun (with_int_b) returns "
            "int32[3] (at ['b'])",
        ),
    ],
)
@pytest.mark.parametrize("phase", ["init", "apply"])
def test_cond_with_branches_that_return_different_outputs_names_them(
    true_fun, false_fun, diff, phase
):
    f = transform(lambda x: cond(True, true_fun, false_fun, x))
    with pytest.raises(InvalidArgumentTypeError) as e:
        f.init(0, jnp.ones(3)) if phase == "init" else f.apply({}, jnp.ones(3))
    assert isinstance(e.value, TypeError)
    assert str(e.value) == COND + diff + ". " + SAME_OUTPUTS


def test_cond_branches_that_differ_only_in_weak_types_still_work():
    f = transform(lambda x: cond(True, lambda x: x.sum(), lambda x: 1.0, x))
    assert f.apply({}, jnp.ones(3)) == 3.0


def test_switch_with_branches_that_return_different_outputs_names_them():
    f = transform(lambda x: switch(1, [same, same, as_int], x))
    with pytest.raises(InvalidArgumentTypeError) as e:
        f.apply({}, jnp.ones(3))
    assert str(e.value) == (
        "switch: every branch must return the same structure, shapes and dtypes, but branch 0 "
        "(same) returns float32[3] and branch 2 (as_int) returns int32[3]. " + SAME_OUTPUTS
    )
    f = transform(lambda x: switch(1, [same, doubled], x))
    with pytest.raises(InvalidArgumentTypeError) as e:
        f.init(0, jnp.ones(3))
    assert str(e.value) == (
        "switch: every branch must return the same structure, shapes and dtypes, but branch 0 "
        "(same) returns float32[3] and branch 1 (doubled) returns float32[2, 3]. " + SAME_OUTPUTS
    )


SAME_CARRY = "Return the carry with the type it came in with (cast or reshape it)."


def int_body(i, v):
    return v.astype(jnp.int32)


def pair_body(v):
    return v, v


def int_step(c, x):
    return c.astype(jnp.int32), x


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (
            lambda x: fori_loop(0, 2, int_body, x),
            "fori_loop: body_fun must return the carry with init_val's structure, shapes and "
            "dtypes, but init_val is float32[3] and body_fun (int_body) returns int32[3]. ",
        ),
        (
            lambda x: while_loop(lambda v: v.sum() < 5, pair_body, x),
            "while_loop: body_fun must return the carry with init_val's structure, shapes and "
            "dtypes, but init_val is the structure PyTreeDef(*) and body_fun (pair_body) "
            "returns PyTreeDef((*, *)). ",
        ),
        (
            lambda x: scan(int_step, x, x),
            "scan: f must return the carry with init's structure, shapes and dtypes, but init "
            "is float32[3] and f (int_step) returns the carry int32[3]. ",
        ),
    ],
    ids=["fori_loop", "while_loop", "scan"],
)
def test_a_loop_body_that_changes_its_carry_is_named(fn, message):
    with pytest.raises(InvalidArgumentTypeError) as e:
        transform(fn).apply({}, jnp.ones(3))
    assert str(e.value) == message + SAME_CARRY
