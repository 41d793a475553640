"""Lifted transforms and control flow: same values and gradients as the un-lifted code."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku import core as mh
from minihaiku.core import (
    Module,
    UnliftedTransformError,
    get_param,
    get_state,
    next_rng_key,
    set_state,
    transform,
    transform_with_state,
)
from minihaiku.layers import Linear

x = jnp.linspace(-1.0, 1.0, 12).reshape(4, 3)


def close(a, b, tol=1e-5):
    for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_allclose(u, v, rtol=tol, atol=tol)


def check_same(lifted, plain, *args, grads=True):
    """Same params, values and gradients for the lifted and the plain function."""
    t1, t2 = transform(lifted), transform(plain)
    p1, p2 = t1.init(0, *args), t2.init(0, *args)
    assert list(p1) == list(p2)
    close(p1, p2)
    close(t1.apply(p1, *args), t2.apply(p1, *args))
    close(jax.jit(t1.apply)(p1, *args), t2.apply(p1, *args))
    if grads:
        g1 = jax.grad(lambda p: _sq(t1.apply(p, *args)))(p1)
        g2 = jax.grad(lambda p: _sq(t2.apply(p, *args)))(p1)
        close(g1, g2, 1e-4)
    return p1


def _sq(tree):
    return sum(jnp.sum(leaf**2) for leaf in jax.tree_util.tree_leaves(tree))


class Cell(Module):
    def __call__(self, c, x):
        h = jnp.tanh(Linear(3, name="ih")(x) + Linear(3, with_bias=False, name="hh")(c))
        return h, 2 * h


def test_scan_shares_params_across_steps_like_a_python_loop():
    xs = jnp.stack([x, x * 0.5, -x])

    def lifted(xs):
        cell = Cell()
        return mh.scan(cell, jnp.zeros((4, 3)), xs)

    def plain(xs):
        cell = Cell()
        c, ys = jnp.zeros((4, 3)), []
        for t in range(xs.shape[0]):
            c, y = cell(c, xs[t])
            ys.append(y)
        return c, jnp.stack(ys)

    params = check_same(lifted, plain, xs)
    assert sorted(params) == [
        "~/Cell_0/__call__/hh/__call__/w",
        "~/Cell_0/__call__/ih/__call__/b",
        "~/Cell_0/__call__/ih/__call__/w",
    ]


def test_modules_built_inside_the_scan_body_are_named_once():
    def lifted(xs):
        return mh.scan(lambda c, x: (jnp.tanh(Linear(3)(x) + c), c), jnp.zeros((4, 3)), xs)

    params = transform(lifted).init(0, jnp.stack([x, x]))
    assert sorted(params) == ["~/Linear_0/__call__/b", "~/Linear_0/__call__/w"]

    def more(xs):
        lifted(xs)
        return Linear(2)(xs)  # named after the scan's modules

    assert "~/Linear_1/__call__/w" in transform(more).init(0, jnp.stack([x, x]))


def test_scan_threads_state_and_gives_each_step_its_own_key():
    def f(xs):
        def step(c, x):
            n = get_state("n", (), jnp.int32)
            set_state("n", n + 1)
            return c + x, jax.random.uniform(next_rng_key(), ())

        return mh.scan(step, 0.0, xs)

    t = transform_with_state(f, apply_rng=True)
    params, state = t.init(0, jnp.arange(5.0))
    # init returns the initial state (dm-haiku's rule), not the state after
    # init's own run of the 5 steps.
    assert params == {} and int(state["~/n"]) == 0
    (c, draws), state = t.apply(params, state, jax.random.PRNGKey(3), jnp.arange(5.0))
    assert float(c) == 10.0 and int(state["~/n"]) == 5
    assert len(set(np.asarray(draws).tolist())) == 5


def test_map_is_a_shared_params_loop():
    def plain(xs):
        lin = Linear(2, name="l")
        return jnp.stack([lin(r) for r in xs])

    check_same(lambda xs: mh.map(lambda r: Linear(2, name="l")(r), xs), plain, x)


def test_vmap_shares_params_across_the_mapped_axis():
    check_same(lambda x: mh.vmap(lambda r: Linear(5)(r))(x), lambda x: Linear(5)(x), x)


def test_vmap_in_axes_and_broadcast_arguments():
    def lifted(x, s):
        return mh.vmap(lambda r, s: Linear(2)(r) * s, in_axes=(1, None))(x.T, s)

    def plain(x, s):
        return Linear(2)(x) * s

    check_same(lifted, plain, x, jnp.float32(3.0))


def test_vmap_split_rng_and_shared_rng():
    def f(split):
        return transform(
            lambda x: mh.vmap(lambda r: jax.random.uniform(next_rng_key(), ()), split_rng=split)(x),
            apply_rng=True,
        ).apply({}, jax.random.PRNGKey(0), x)

    assert len(set(np.asarray(f(True)).tolist())) == 4
    assert len(set(np.asarray(f(False)).tolist())) == 1


def test_vmap_split_params_makes_an_ensemble():
    def f(x):
        return mh.vmap(lambda r: Linear(2)(r), split_params=True)(x)

    t = transform(f)
    params = t.init(0, x)
    w, b = params["~/Linear_0/__call__/w"], params["~/Linear_0/__call__/b"]
    assert w.shape == (4, 3, 2) and b.shape == (4, 2)
    assert not np.allclose(w[0], w[1])
    want = jnp.stack([x[i] @ w[i] + b[i] for i in range(4)])
    close(t.apply(params, x), want)


def test_vmap_axis_name_binds_the_axis_for_collectives_in_init_and_apply():
    # BatchNorm-like centring across the mapped axis, a state entry set from a
    # collective, and per-element ensemble params indexed by the named axis.
    def f(x):
        def one(r):
            h = Linear(2)(r)
            mean = jax.lax.pmean(h, "batch")
            set_state("mean", mean)
            return (h - mean) * (1.0 + jax.lax.axis_index("batch"))

        return mh.vmap(one, axis_name="batch")(x)

    t = transform_with_state(f)
    params, state = t.init(0, x)
    w, b = params["~/Linear_0/__call__/w"], params["~/Linear_0/__call__/b"]
    h = x @ w + b
    # init's state is the whole batch's mean (the init pass maps over all of x)
    close(state["~/mean"], h.mean(0))
    out, new_state = t.apply(params, state, x)
    close(out, (h - h.mean(0)) * (1.0 + jnp.arange(4.0))[:, None])
    close(new_state["~/mean"], h.mean(0))
    # without a name the same collective is JAX's unbound-axis error
    with pytest.raises(NameError, match="unbound axis name: batch"):
        transform(lambda x: mh.vmap(lambda r: jax.lax.psum(r, "batch"))(x)).init(0, x)


def test_vmap_axis_name_with_split_params_indexes_each_members_params():
    def f(x):
        return mh.vmap(
            lambda r: Linear(2)(r) + jax.lax.psum(r.sum(), "e"), split_params=True, axis_name="e"
        )(x)

    t = transform(f)
    params = t.init(0, x)
    w, b = params["~/Linear_0/__call__/w"], params["~/Linear_0/__call__/b"]
    assert w.shape == (4, 3, 2)
    want = jnp.stack([x[i] @ w[i] + b[i] for i in range(4)]) + x.sum()
    close(t.apply(params, x), want)


def test_remat_gives_the_same_values_and_gradients():
    check_same(
        lambda x: mh.remat(lambda h: jnp.tanh(Linear(3)(h)))(x), lambda x: jnp.tanh(Linear(3)(x)), x
    )


def test_cond_creates_both_branches_and_picks_one():
    def lifted(x, p):
        return mh.cond(p > 0, lambda h: Linear(3)(h), lambda h: -Linear(3)(h), x)

    def plain(x, p):
        a, b = Linear(3), Linear(3)
        return jnp.where(p > 0, a(x), -b(x))

    for p in (1.0, -1.0):
        params = check_same(lifted, plain, x, jnp.float32(p))
    assert sorted(params) == [
        "~/Linear_0/__call__/b",
        "~/Linear_0/__call__/w",
        "~/Linear_1/__call__/b",
        "~/Linear_1/__call__/w",
    ]


def test_switch_creates_every_branch():
    branches = [lambda h: Linear(2)(h), lambda h: jnp.tanh(Linear(2)(h)), lambda h: h[:, :2]]

    def lifted(x, i):
        return mh.switch(i, branches, x)

    def plain(x, i):
        outs = [Linear(2), Linear(2)]
        return [outs[0](x), jnp.tanh(outs[1](x)), x[:, :2]][int(i)]

    for i in range(3):
        check_same(lifted, plain, x, jnp.int32(i))


def test_fori_loop_and_while_loop_match_python_loops():
    def body(i, h):
        return jnp.tanh(Linear(3, name="l")(h)) + i

    def plain_for(x):
        lin = Linear(3, name="l")
        return _loop(lambda h, i: jnp.tanh(lin(h)) + i, x, 4)

    check_same(lambda x: mh.fori_loop(0, 4, body, x), plain_for, x)

    def wl(x):
        def cond_fun(c):
            h, n = c
            return n < 3 + get_param("extra", (), init=jax.nn.initializers.zeros)

        return mh.while_loop(
            cond_fun, lambda c: (jnp.tanh(Linear(3, name="l")(c[0])), c[1] + 1), (x, 0.0)
        )[0]

    def plain(x):
        get_param("extra", (), init=jax.nn.initializers.zeros)
        lin = Linear(3, name="l")
        return _loop(lambda h, i: jnp.tanh(lin(h)), x, 3)

    check_same(wl, plain, x, grads=False)


def _loop(f, h, n):
    for i in range(n):
        h = f(h, i)
    return h


def test_grad_and_value_and_grad_of_functions_reading_params():
    def lifted(x):
        lin = Linear(1)
        value, g = mh.value_and_grad(lambda h: jnp.sum(lin(h) ** 2))(x)
        g2 = mh.grad(lambda h: jnp.sum(lin(h) ** 2))(x)
        return value, g, g2

    t1 = transform(lifted)
    params = t1.init(0, x)
    assert sorted(params) == ["~/Linear_0/__call__/b", "~/Linear_0/__call__/w"]
    value, g, g2 = t1.apply(params, x)
    w, b = params["~/Linear_0/__call__/w"], params["~/Linear_0/__call__/b"]
    want_g = 2 * (x @ w + b) @ w.T
    close(g, want_g)
    close(g2, want_g)
    close(value, jnp.sum((x @ w + b) ** 2))


def test_grad_with_aux():
    def f(x):
        return mh.grad(lambda h: (jnp.sum(Linear(1)(h)), "aux"), has_aux=True)(x)

    t = transform(f)
    params = t.init(0, x)
    g, aux = t.apply(params, x)
    assert aux == "aux"
    close(g, jnp.broadcast_to(params["~/Linear_0/__call__/w"].T, x.shape))


def test_eval_shape_makes_params_but_computes_nothing():
    def f(x):
        return mh.eval_shape(lambda h: Linear(7)(h), x)

    t = transform(f)
    params = t.init(0, x)
    assert sorted(params) == ["~/Linear_0/__call__/b", "~/Linear_0/__call__/w"]
    out = t.apply(params, x)
    assert isinstance(out, jax.ShapeDtypeStruct) and out.shape == (4, 7)


def test_layer_stack_equals_a_loop_over_per_layer_params():
    def lifted(x):
        return mh.layer_stack(6)(lambda h: jnp.tanh(Linear(3)(h)))(x)

    t = transform(lifted)
    params = t.init(0, x)
    w, b = params["~/Linear_0/__call__/w"], params["~/Linear_0/__call__/b"]
    assert w.shape == (6, 3, 3) and b.shape == (6, 3)
    assert not np.allclose(w[0], w[1])

    def manual(p, x):
        h = x
        for i in range(6):
            h = jnp.tanh(h @ p["~/Linear_0/__call__/w"][i] + p["~/Linear_0/__call__/b"][i])
        return h

    close(t.apply(params, x), manual(params, x))
    close(
        jax.grad(lambda p: jnp.sum(t.apply(p, x)))(params),
        jax.grad(lambda p: jnp.sum(manual(p, x)))(params),
        1e-4,
    )


def test_layer_stack_layer_values_are_the_initializer_at_per_layer_keys():
    import zlib

    def lifted(x):
        return mh.layer_stack(3)(
            lambda h: h * get_param("s", (2,), init=jax.nn.initializers.normal(1.0))
        )(x)

    params = transform(lifted).init(jax.random.PRNGKey(4), jnp.ones(2))
    key = jax.random.fold_in(jax.random.PRNGKey(4), zlib.crc32(b"~/s"))
    want = jnp.stack(
        [jax.nn.initializers.normal(1.0)(jax.random.fold_in(key, i), (2,)) for i in range(3)]
    )
    close(params["~/s"], want, 1e-6)


def test_layer_stack_with_shared_params_and_extra_arguments():
    def lifted(x, scale):
        shared = get_param("shared", (), init=jax.nn.initializers.ones)
        return mh.layer_stack(2)(lambda h, s: Linear(3)(h) * s * shared)(x, scale)

    t = transform(lifted)
    params = t.init(0, x, 2.0)
    assert params["~/shared"].shape == ()
    assert params["~/Linear_0/__call__/w"].shape == (2, 3, 3)
    assert t.apply(params, x, 2.0).shape == (4, 3)


def test_layer_stack_bad_sizes():
    with pytest.raises(mh.InvalidArgumentError) as e:
        mh.layer_stack(0)
    assert str(e.value) == "layer_stack: num_layers must be >= 1, got 0."
    with pytest.raises(mh.InvalidArgumentTypeError) as e:
        mh.layer_stack(2.5)
    assert str(e.value) == "layer_stack: num_layers must be a positive int, got float 2.5."


def test_lifted_transforms_under_jit_of_init():
    def f(xs):
        c, ys = mh.scan(Cell(), jnp.zeros((4, 3)), xs)
        return mh.layer_stack(2)(lambda h: Linear(3)(h))(c)

    t = transform(f)
    xs = jnp.stack([x, x])
    close(jax.jit(t.init)(jax.random.PRNGKey(1), xs), t.init(jax.random.PRNGKey(1), xs))


@pytest.mark.parametrize(
    ("wrap", "hint"),
    [
        (lambda f, x: jax.vmap(f)(x), "jax.vmap; use minihaiku.core.vmap"),
        (lambda f, x: jax.lax.scan(lambda c, r: (c, f(r)), 0, x)[1], "jax.jit, lax.scan, lax.cond"),
        (lambda f, x: jax.jit(f)(x), "jax.jit, lax.scan"),
        (
            lambda f, x: jax.grad(lambda r: jnp.sum(f(r)))(x),
            "jax.grad or jax.jvp; use minihaiku.core.grad or value_and_grad",
        ),
    ],
)
def test_raw_jax_transforms_around_parameter_creation_are_a_clear_error(wrap, hint):
    with pytest.raises(UnliftedTransformError) as e:
        transform(lambda x: wrap(lambda r: Linear(2)(r), x)).init(0, x)
    msg = str(e.value)
    assert msg.startswith(
        "creating parameter '~/Linear_0/__call__/w' inside a raw JAX transform that was "
        "applied inside the transformed function ("
    )
    assert hint in msg
    assert msg.endswith(
        "The value would leak out of that transform as a tracer. The lifted forms in "
        "minihaiku.core thread parameters, state and keys through the transform for you."
    )


def test_raw_transforms_reading_existing_params_are_fine():
    def f(x):
        lin = Linear(2)
        lin(x)  # creates the params outside
        return jax.vmap(lin)(x)

    t = transform(f)
    params = t.init(0, x)
    close(t.apply(params, x), x @ params["~/Linear_0/__call__/w"] + params["~/Linear_0/__call__/b"])


def test_next_rng_key_and_set_state_inside_raw_transforms_are_errors():
    def rng(x):
        return jax.lax.scan(lambda c, r: (c, jax.random.uniform(next_rng_key(), ())), 0, x)[1]

    with pytest.raises(UnliftedTransformError, match=r"^next_rng_key\(\) inside a raw JAX"):
        transform(rng).init(0, x)

    def state(x):
        get_state("s", (3,))
        return jax.vmap(lambda r: set_state("s", r))(x)

    with pytest.raises(UnliftedTransformError, match=r"^set_state\('s'\) inside a raw JAX"):
        transform_with_state(state).init(0, x)


def test_vmap_with_nothing_mapped_needs_axis_size():
    with pytest.raises(mh.InvalidArgumentError) as e:
        transform(lambda x: mh.vmap(lambda r: r, in_axes=None)(x)).init(0, x)
    assert str(e.value) == (
        "vmap: no argument is mapped (every in_axes entry is None); pass axis_size= to say "
        "how many elements to map over."
    )
    out = transform(lambda x: mh.vmap(lambda r: r, in_axes=None, axis_size=3)(x)).apply({}, x)
    assert out.shape == (3, 4, 3)


def test_vmap_in_axes_count_must_match_the_arguments():
    with pytest.raises(mh.InvalidArgumentError) as e:
        transform(lambda x: mh.vmap(lambda a, b: a, in_axes=(0,))(x, x)).init(0, x)
    assert str(e.value) == (
        "vmap in_axes has 1 entries but the function got 2 positional arguments; give one "
        "entry per argument."
    )


def _stablehlo_ops(fn, *args):
    text = jax.jit(fn).lower(*args).as_text()
    return [line.split("=", 1)[-1].strip() for line in text.splitlines() if "stablehlo." in line]


def test_jitted_scan_apply_lowers_like_a_hand_written_scan():
    # Threading (empty) state and (no) keys through the lifted scan adds no
    # op: apply lowers to exactly the hand-written scan.
    def f(xs):
        def step(c, x):
            c = c * get_param("a", (), init=jax.nn.initializers.ones) + x
            return c, c

        return mh.scan(step, jnp.float32(0.0), xs)[1]

    def hand(p, xs):
        def step(c, x):
            c = c * p["~/a"] + x
            return c, c

        return jax.lax.scan(step, jnp.float32(0.0), xs)[1]

    t = transform(f)
    xs = jnp.arange(4.0)
    params = t.init(0, xs)
    assert _stablehlo_ops(t.apply, params, xs) == _stablehlo_ops(hand, params, xs)
    np.testing.assert_array_equal(t.apply(params, xs), hand(params, xs))
