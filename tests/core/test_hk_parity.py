"""Where core used to differ from dm-haiku and now follows it (issue 18, part A)."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.core as mh
import minihaiku.initializers as mi
from minihaiku.core import InitializerError, NotInTransformError

hk = pytest.importorskip("haiku")


# (1) a branch given twice is traced once, as jax.lax.cond does -------------------


def _counting():
    calls = [0]

    def branch(x):
        calls[0] += 1
        return x + 1

    return calls, branch


@pytest.mark.parametrize("kind", ["cond", "switch"])
def test_branch_given_twice_is_traced_once_in_apply_like_dm_haiku(kind):
    def run(lib, transform, extra):
        init_rng = extra or (0,)
        calls, branch = _counting()
        if kind == "cond":
            f = transform(lambda p, x: lib.cond(p, branch, branch, x))
            arg = True
        else:
            f = transform(lambda i, x: lib.switch(i, [branch, branch], x))
            arg = 1
        params = f.init(*init_rng, arg, 1.0)
        calls[0] = 0
        out = f.apply(params, *extra, arg, 1.0)
        return calls[0], float(out)

    ours = run(mh, mh.transform, ())
    theirs = run(hk, hk.transform, (None,))
    assert ours == theirs == (1, 2.0)


def test_switch_with_a_repeated_branch_still_picks_the_right_one():
    calls, branch = _counting()
    other = lambda x: x * 10
    f = mh.transform(lambda i, x: mh.switch(i, [branch, other, branch], x))
    assert [float(f.apply({}, i, 2.0)) for i in range(3)] == [3.0, 20.0, 3.0]


def test_branch_given_twice_with_parameters_reads_the_same_parameters():
    def branch(x):
        return x * mh.get_param("w", (), init=jax.nn.initializers.ones)

    f = mh.transform(lambda p, x: mh.cond(p, branch, branch, x))
    params = f.init(0, True, 2.0)
    assert list(params) == ["~/w"]
    assert float(f.apply(params, False, 2.0)) == 2.0


# (2) intercept_methods sees every level of a super() chain ------------------------


def _chain(base):
    class A(base):
        def __call__(self, x):
            return x + 1

    class B(A):
        def __call__(self, x):
            return super().__call__(x) * 2

    class C(B):
        def __call__(self, x):
            return super().__call__(x) - 3

    return C


def test_intercept_methods_sees_each_level_of_a_super_chain_like_dm_haiku():
    def run(lib, transform, extra):
        seen = []
        cls = _chain(lib.Module)

        def log(next_fun, args, kwargs, context):
            seen.append((type(context.module).__name__, context.method_name))
            return next_fun(*args, **kwargs)

        def f(x):
            with lib.intercept_methods(log):
                return cls()(x)

        out = transform(f).apply({}, *extra, 1.0)
        return seen, float(out)

    ours = run(mh, mh.transform, ())
    theirs = run(hk, hk.transform, (None,))
    assert ours == theirs
    assert ours[0] == [("C", "__init__")] + [("C", "__call__")] * 3


def test_each_super_level_can_change_its_own_arguments():
    cls = _chain(mh.Module)

    def add_ten(next_fun, args, kwargs, context):
        if context.method_name != "__call__":
            return next_fun(*args, **kwargs)
        return next_fun(args[0] + 10, **kwargs)

    def f(x):
        with mh.intercept_methods(add_ten):
            return cls()(x)

    # ((x + 10 + 10 + 10) + 1) * 2 - 3
    assert float(mh.transform(f).apply({}, 0.0)) == 59.0


def test_super_chain_keeps_one_scope_for_parameters():
    class A(mh.Module):
        def __call__(self):
            return mh.get_param("a", (), init=jax.nn.initializers.ones)

    class B(A):
        def __call__(self):
            return super().__call__() + mh.get_param("b", (), init=jax.nn.initializers.ones)

    def f():
        with mh.intercept_methods(lambda nf, a, kw, c: nf(*a, **kw)):
            return B()()

    assert sorted(mh.transform(f).init(0)) == ["~/B_0/__call__/a", "~/B_0/__call__/b"]


# (3) init/apply show the wrapped function's parameters ---------------------------


def _f(x, y=2, *, z):
    return x


def _names(fn):
    return [(p.name, p.kind.name, p.default) for p in inspect.signature(fn).parameters.values()]


def _no_annotations(fn):
    sig = inspect.signature(fn)
    return [(p.name, p.default) for p in sig.parameters.values()]


@pytest.mark.parametrize("stateful", [False, True])
@pytest.mark.parametrize("apply_rng", [False, True])
def test_init_and_apply_signatures_match_dm_haiku(stateful, apply_rng):
    if stateful:
        ours = mh.transform_with_state(_f, apply_rng=apply_rng)
        theirs = hk.transform_with_state(_f)
    else:
        ours = mh.transform(_f, apply_rng=apply_rng)
        theirs = hk.transform(_f)
    if not apply_rng:
        theirs = hk.without_apply_rng(theirs)
    assert _no_annotations(ours.init) == _no_annotations(theirs.init)
    assert _no_annotations(ours.apply) == _no_annotations(theirs.apply)


def test_signature_of_apply_reads_params_state_rng_then_fs_parameters():
    f = mh.transform_with_state(_f, apply_rng=True)
    assert str(inspect.signature(f.apply)) == "(params, state, rng, x, y=2, *, z)"
    assert str(inspect.signature(f.init)) == "(rng, x, y=2, *, z)"


def test_without_state_and_with_empty_state_keep_the_signatures():
    f = mh.without_state(mh.transform_with_state(_f))
    assert str(inspect.signature(f.init)) == "(rng, x, y=2, *, z)"
    assert str(inspect.signature(f.apply)) == "(params, x, y=2, *, z)"
    g = mh.with_empty_state(mh.transform(_f))
    assert str(inspect.signature(g.apply)) == "(params, state, x, y=2, *, z)"


def test_signature_with_positional_only_parameters_stays_valid():
    f = mh.transform(lambda a, /, b: a)
    assert str(inspect.signature(f.apply)) == "(params, a, /, b)"


def test_signature_when_f_uses_the_name_params_keeps_the_generic_one():
    f = mh.transform(lambda params: params)
    assert "args" in inspect.signature(f.apply).parameters
    assert f.apply({}, 3) == 3


# (4) truncated_normal with complex dtypes -----------------------------------------


def _hk_key():
    return hk.transform(lambda: hk.next_rng_key()).apply({}, jax.random.key(7))


@pytest.mark.parametrize(
    ("dtype", "mean"),
    [(jnp.complex64, 1 + 1j), (jnp.complex64, 0.0), (jnp.float32, 0.5)],
)
def test_truncated_normal_gives_dm_haikus_values_for_complex_and_real(dtype, mean):
    def hk_init():
        return hk.initializers.TruncatedNormal(stddev=2.0, mean=mean)((2, 3), dtype)

    theirs = hk.transform(hk_init).apply({}, jax.random.key(7))
    ours = mi.truncated_normal(2.0, mean=mean)(_hk_key(), (2, 3), dtype)
    assert ours.dtype == theirs.dtype == jnp.dtype(dtype)
    np.testing.assert_array_equal(ours, theirs)


def test_truncated_normal_complex_parts_stay_within_the_bounds():
    z = mi.truncated_normal(1.0, mean=0.0, lower=-0.5, upper=0.5)(
        jax.random.key(0), (500,), jnp.complex128 if jax.config.x64_enabled else jnp.complex64
    )
    assert float(jnp.abs(z.real).max()) <= 0.5
    assert float(jnp.abs(z.imag).max()) <= 0.5
    assert float(jnp.abs(z.imag).max()) > 0  # the imaginary part is drawn too


def test_truncated_normal_complex_mean_with_real_dtype_is_an_error():
    init = mi.truncated_normal(1.0, mean=1j)
    with pytest.raises(InitializerError) as e:
        init(jax.random.key(0), (2,), jnp.float32)
    assert isinstance(e.value, ValueError)
    assert str(e.value) == (
        "truncated_normal: mean 1j is complex but the parameter's dtype float32 is "
        "real; pass a real mean, or create the parameter with a complex dtype."
    )


def test_truncated_normal_complex_mean_must_be_finite():
    with pytest.raises(mh.InvalidArgumentError) as e:
        mi.truncated_normal(1.0, mean=complex(0, float("inf")))
    assert str(e.value) == "truncated_normal: mean (imaginary part) must be finite, got inf."


def test_truncated_normal_as_a_parameter_initializer_for_complex():
    f = mh.transform(lambda: mh.get_param("w", (4,), jnp.complex64, init=mi.truncated_normal(1.0)))
    w = f.init(0)["~/w"]
    assert w.dtype == jnp.complex64


# (5) lifted transforms outside a transform ----------------------------------------


@pytest.mark.parametrize(
    ("what", "call"),
    [
        ("vmap", lambda: mh.vmap(lambda x: x)(jnp.ones(2))),
        ("vmap", lambda: mh.vmap(lambda x: x, in_axes=(0, 0))(jnp.ones(2))),
        ("vmap", lambda: mh.vmap(lambda: 1, in_axes=())()),
        ("map", lambda: mh.map(lambda x: x, jnp.ones(2))),
    ],
)
def test_lifted_vmap_and_map_outside_a_transform_are_not_in_transform_errors(what, call):
    with pytest.raises(NotInTransformError) as e:
        call()
    assert str(e.value).startswith(f"{what} must be called inside a function transformed with")
