"""init without the forward pass's arithmetic: the abstract path and its fallback (issue 20)."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    AbstractInitError,
    InitializerError,
    InvalidArgumentError,
    MinihaikuError,
    UnliftedTransformError,
    get_param,
    get_state,
    init_mode,
    layer_stack,
    next_rng_key,
    set_state,
    transform,
    transform_with_state,
)
from minihaiku.core.checks import is_tracer

ONES = jax.nn.initializers.ones
BIG = jnp.ones((128, 128))  # 64 KiB: auto mode takes the abstract path from this size


def _same(a: dict, b: dict, ordered: bool = True) -> None:
    assert list(a) == list(b) if ordered else sorted(a) == sorted(b)  # same entries (order)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]))


def _modes(f, *args):
    with init_mode("eager"):
        eager = f.init(*args)
    with init_mode("abstract"):
        abstract = f.init(*args)
    auto = f.init(*args)
    return eager, abstract, auto


def _mlp(x):
    for i, n in enumerate((5, 3)):
        w = get_param(f"w{i}", (x.shape[-1], n))
        b = get_param(f"b{i}", (n,), init="zeros")
        x = jnp.tanh(x @ w + b)
    return x


def test_the_abstract_path_runs_the_forward_on_tracers_only():
    seen = []

    def f(x):
        seen.append(isinstance(x, jax.core.Tracer))
        return _mlp(x)

    params = transform(f).init(0, BIG)
    assert seen == [True]  # one abstract trace, no eager run
    with init_mode("eager"):
        eager = transform(f).init(0, BIG)
    assert seen == [True, False]
    _same(params, eager)


def test_auto_runs_small_inputs_eagerly():
    seen = []

    def f(x):
        seen.append(isinstance(x, jax.core.Tracer))
        return _mlp(x)

    small = jnp.ones((127, 128))  # just under 64 KiB
    transform(f).init(0, small)
    transform(f).init(0, BIG)
    with init_mode("abstract"):
        transform(f).init(0, small)
    assert seen == [False, True, True]


@pytest.mark.parametrize("key", [0, jax.random.key(3), jax.random.PRNGKey(7)])
def test_every_mode_gives_the_same_bits(key):
    eager, abstract, auto = _modes(transform(_mlp), key, np.ones((4, 2), np.float32))
    _same(eager, abstract)
    _same(eager, auto)


def test_state_created_by_get_state_is_planned():
    def f(x):
        n = get_state("n", (), jnp.int32, init=jax.nn.initializers.constant(5))
        r = get_state("r", (2,), init=jax.nn.initializers.normal())
        set_state("n", n + 1)
        return x * r

    eager, abstract, auto = _modes(transform_with_state(f), 0, jnp.ones(2))
    assert int(abstract[1]["~/n"]) == 5  # the initial value, not the one after the run
    for out in (abstract, auto):
        _same(eager[0], out[0])
        _same(eager[1], out[1])


def test_state_first_set_by_the_forward_falls_back_and_is_right():
    def f(x):
        set_state("mean", x.mean(0))
        return x * get_param("w", (3,))

    x = jnp.arange(6.0).reshape(2, 3)
    with init_mode("eager"):
        eager = transform_with_state(f).init(0, x)
    params, state = transform_with_state(f).init(0, x)
    np.testing.assert_array_equal(state["~/mean"], jnp.array([1.5, 2.5, 3.5]))
    _same(eager[0], params)
    _same(eager[1], state)
    big = jnp.tile(x, (8192, 1))  # 96 KiB: auto traces, stops at set_state, runs eagerly
    with init_mode("eager"):
        eager = transform_with_state(f).init(0, big)
    params, state = transform_with_state(f).init(0, big)
    _same(eager[0], params)
    _same(eager[1], state)
    message = (
        "init(f) under init_mode('abstract'): the function cannot be traced abstractly "
        "(CannotPlanError: the first value of state '~/mean' comes from set_state). Make "
        "the forward pass traceable (jnp/lax instead of Python control flow or numpy on "
        "values), or run init with init_mode('auto') or init_mode('eager')."
    )
    with init_mode("abstract"), pytest.raises(AbstractInitError, match=re.escape(message)):
        transform_with_state(f).init(0, x)


def test_python_control_flow_on_values_falls_back():
    def f(x):
        w = get_param("w", (128,))
        return w * x if float(x.sum()) > 0 else -w

    auto = transform(f).init(0, BIG)
    with init_mode("eager"):
        eager = transform(f).init(0, BIG)
    _same(eager, auto)
    with init_mode("abstract"), pytest.raises(AbstractInitError) as info:
        transform(f).init(0, BIG)
    assert isinstance(info.value, TypeError) and isinstance(info.value, MinihaikuError)
    assert "(ConcretizationTypeError: " in str(info.value)
    assert isinstance(info.value.__cause__, jax.errors.ConcretizationTypeError)


def test_numpy_on_activations_falls_back():
    def f(x):
        scale = float(np.asarray(x).max())
        return x * get_param("w", (128,)) * scale

    x = np.ones((128, 128), np.float32)
    auto = transform(f).init(0, x)
    with init_mode("eager"):
        eager = transform(f).init(0, x)
    _same(eager, auto)


def test_an_untraceable_initializer_works_on_the_abstract_path():
    def host_init(key, shape, dtype):  # numpy on the key: not traceable
        seed = int(np.asarray(jax.random.key_data(key)).sum()) % 1000
        return jnp.asarray(np.random.default_rng(seed).normal(size=shape), dtype)

    f = transform(lambda x: x * get_param("w", (3,), init=host_init))
    eager, abstract, auto = _modes(f, jax.random.key(1), jnp.ones(3))
    _same(eager, abstract)
    _same(eager, auto)


def test_an_initializer_closing_over_an_activation_falls_back_in_auto():
    # its value depends on the forward pass: only the eager init can give it
    def f(x):
        w = get_param("w", (3,), init=lambda k, s, d: jnp.full(s, x.mean(), d))
        return x.sum() * w

    x = BIG * 2
    with init_mode("eager"):
        eager = transform(f).init(0, x)
    np.testing.assert_array_equal(eager["~/w"], [2.0, 2.0, 2.0])
    _same(eager, transform(f).init(0, x))
    message = re.escape(
        "init(f) under init_mode('abstract'): the function cannot be traced abstractly "
        "(CannotPlanError: the initializer of parameter '~/w' uses a value of the forward pass)"
    )
    with init_mode("abstract"), pytest.raises(AbstractInitError, match=message):
        transform(f).init(0, x)


def test_the_abstract_path_creates_each_entry_once_after_the_trace():
    seen = []

    def counting(key, shape, dtype):
        seen.append("traced" if is_tracer(key) else "concrete")
        return jax.random.normal(key, shape, dtype)

    def f(x):
        h = x @ get_param("w1", (128, 4), init=counting)
        h = h @ get_param("w2", (4, 2), init=counting)
        seen.append("end of the forward")
        return h

    with init_mode("abstract"):
        abstract = transform(f).init(0, BIG)
    assert seen == ["end of the forward", "concrete", "concrete"]
    seen.clear()
    with init_mode("eager"):
        _same(transform(f).init(0, BIG), abstract)
    assert seen == ["concrete", "concrete", "end of the forward"]


def test_layer_stack_params_are_the_same():
    def layer(x):
        return jnp.tanh(x @ get_param("w", (3, 3))) + get_param("b", (3,), init="zeros")

    f = transform(lambda x: layer_stack(4)(layer)(x))
    eager, abstract, auto = _modes(f, 0, jnp.ones((2, 3)))
    assert eager["~/w"].shape == (4, 3, 3)
    _same(eager, abstract)
    _same(eager, auto)


def test_dropout_style_key_draws_in_the_forward_do_not_change_params():
    def f(x):
        x = x * jax.random.bernoulli(next_rng_key(), 0.5, x.shape)
        return _mlp(x)

    eager, abstract, auto = _modes(transform(f), 0, jnp.ones((4, 2)))
    _same(eager, abstract)
    _same(eager, auto)


def test_init_under_jit_and_vmap_takes_the_eager_path():
    f = transform(_mlp)
    x = jnp.ones((4, 2))
    direct = f.init(0, x)
    _same(direct, jax.jit(f.init)(0, x), ordered=False)  # jit returns dicts sorted
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    batched = jax.vmap(f.init, in_axes=(0, None))(keys, x)
    _same(f.init(keys[1], x), {k: v[1] for k, v in batched.items()}, ordered=False)


def test_the_function_s_own_errors_come_out_unchanged():
    def bad_shape(x):
        return x @ get_param("w", (3, 2), init=lambda k, s, d: jnp.ones((2,), d))

    message = "initializer "
    for mode in ("auto", "abstract", "eager"):
        with init_mode(mode), pytest.raises(InitializerError, match=message):
            transform(bad_shape).init(0, jnp.ones((1, 3)))

    def unlifted(x):
        return jax.vmap(lambda y: y * get_param("w", (), init=ONES))(x)

    for mode in ("auto", "abstract", "eager"):
        with init_mode(mode), pytest.raises(UnliftedTransformError, match="creating parameter"):
            transform(unlifted).init(0, jnp.ones(2))


def test_python_side_effects_run_once_on_the_abstract_path_and_twice_on_fallback():
    calls = []

    def traceable(x):
        calls.append("t")
        return _mlp(x)

    def untraceable(x):
        calls.append("u")
        return _mlp(x) if bool(x.sum() > 0) else x

    transform(traceable).init(0, BIG)
    transform(untraceable).init(0, BIG)
    transform(untraceable).init(0, jnp.ones((1, 2)))
    # the fallback traces, fails, then runs eagerly; a small input runs eagerly at once
    assert calls == ["t", "u", "u", "u"]


def test_python_scalars_and_other_leaves_stay_concrete():
    def f(x, scale, *, act="tanh"):
        assert isinstance(scale, float) and act == "relu"
        return getattr(jax.nn, act)(x * scale) * get_param("w", (2,))

    seen = transform(f).init(0, jnp.ones(2), 2.0, act="relu")
    assert list(seen) == ["~/w"]


def test_init_mode_rejects_unknown_modes():
    message = (
        "init_mode(mode): mode must be one of ['auto', 'abstract', 'eager'], got 'lazy'. "
        "Use init_mode('eager') to run the forward pass on values, init_mode('abstract') "
        "to require the abstract path."
    )
    with pytest.raises(InvalidArgumentError, match=re.escape(message)), init_mode("lazy"):
        pass


def test_init_mode_nests_and_restores():
    f = transform(_mlp)
    with init_mode("eager"):
        with init_mode("abstract"):
            f.init(0, jnp.ones((1, 2)))
        seen = []

        def g(x):
            seen.append(isinstance(x, jax.core.Tracer))
            return _mlp(x)

        transform(g).init(0, jnp.ones((1, 2)))
    assert seen == [False]


def test_a_custom_creator_is_applied_on_the_abstract_path_too():
    from minihaiku.core import AbstractInitError, custom_creator, get_param, init_mode, transform

    def doubled(next_creator, shape, dtype, init, context):
        return next_creator(shape, dtype, init) * 2.0

    def f(x):
        with custom_creator(doubled):
            return x @ get_param("w", (x.shape[-1], 3), init="ones")

    x = jnp.ones((128, 256))  # 128 KiB: auto mode tries the abstract path first
    for mode in ("eager", "auto"):
        with init_mode(mode):
            params = transform(f).init(0, x)
        np.testing.assert_array_equal(params["~/w"], 2.0 * jnp.ones((256, 3)), err_msg=mode)
    with (
        init_mode("abstract"),
        pytest.raises(
            AbstractInitError, match=r"custom creators or getters are active at parameter '~/w'"
        ),
    ):
        transform(f).init(0, x)
