"""Mixed-precision policies: parsing, casting, precedence, errors, the summary column."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    Module,
    Policy,
    clear_policy,
    get_param,
    get_policy,
    init_shapes,
    intercept_methods,
    param_policies,
    policy_scope,
    set_policy,
    summary,
    transform,
)
from minihaiku.core import _module as core_module

F32, BF16, F16 = np.dtype("float32"), np.dtype(jnp.bfloat16), np.dtype("float16")
MIXED = Policy(F32, BF16, F32)


@pytest.fixture(autouse=True)
def _restore_policies():
    with policy_scope():
        yield


class Dense(Module):
    """Asks for its params in the input's dtype, as minihaiku.layers.Linear does."""

    def __call__(self, x):
        w = get_param("w", (x.shape[-1], 2), x.dtype, init=jax.nn.initializers.ones)
        n = get_param("n", (), jnp.int32, init=jax.nn.initializers.ones)
        return x @ w + n


class Outer(Module):
    def __call__(self, x):
        return Dense()(x) * get_param("s", (), init=jax.nn.initializers.ones)


class SubDense(Dense):
    pass


def _record(seen):
    """A method interceptor that records (module path, first arg's dtype, output dtype)."""

    def interceptor(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        if context.method_name == "__call__":
            seen.append((context.module.module_path, args[0].dtype, out.dtype))
        return out

    return interceptor


def _run(f, x):
    seen = []

    def g(x):
        with intercept_methods(_record(seen)):
            return f(x)

    t = transform(g)
    params = t.init(0, x)
    seen.clear()
    out = t.apply(params, x)
    return params, out, seen


# ---- Policy and its parser ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("params=float32,compute=bfloat16,output=float32", (F32, BF16, F32)),
        ("p=f32,c=bf16,o=f32", (F32, BF16, F32)),
        ("c=f16", (F32, F16, F16)),  # compute follows params, output follows compute
        ("p=bf16", (BF16, BF16, BF16)),
        ("half", (F16, F16, F16)),
        ("p=f32, c=bf16, o=input", (F32, BF16, None)),
        ("full", (F32, F32, F32)),
    ],
)
def test_policy_parse_reads_jmp_style_strings(spec, want):
    p = Policy.parse(spec)
    assert (p.param_dtype, p.compute_dtype, p.output_dtype) == want
    assert Policy.parse(str(p)) == p  # str is parseable and round-trips


def test_policy_str_names_every_dtype():
    assert str(MIXED) == "params=float32,compute=bfloat16,output=float32"
    assert str(Policy("f32", "f32", None)) == "params=float32,compute=float32,output=input"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("c=bf61", "policy 'c=bf61': unknown dtype 'bf61'. Use one of bf16, bfloat16, f16, "),
        ("compute=bfloat16,x=f32", "policy 'compute=bfloat16,x=f32': unknown key 'x'; the keys "),
        ("c=bf16,f32", "policy 'c=bf16,f32': the part 'f32' has no '='. Write it as "),
        ("c=bf16,compute=f32", "policy 'c=bf16,compute=f32' sets compute twice; set it once."),
        ("", 'the policy string is empty. Write it as "params=float32,compute=bfloat16'),
        ("int32", "policy 'int32': unknown dtype 'int32'."),
    ],
)
def test_policy_parse_rejects_bad_strings(spec, message):
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        Policy.parse(spec)


def test_policy_parse_rejects_a_non_string():
    with pytest.raises(InvalidArgumentTypeError, match=r"Policy.parse takes a string, got int\."):
        Policy.parse(16)  # type: ignore[arg-type]


def test_policy_rejects_a_non_float_dtype_and_a_non_dtype():
    with pytest.raises(
        InvalidArgumentError,
        match=r"Policy compute_dtype must be a floating-point dtype, got int32: policies only",
    ):
        Policy(jnp.float32, jnp.int32, None)
    with pytest.raises(
        InvalidArgumentTypeError,
        match=r"Policy param_dtype must be a floating-point dtype such as jnp.bfloat16 or "
        r"'bfloat16', got object",
    ):
        Policy(object(), jnp.float32, None)
    with pytest.raises(
        InvalidArgumentError, match=r"Policy output_dtype='bf61' is not a floating-point dtype"
    ):
        Policy("f32", "f32", "bf61")


def test_policy_casts_only_floating_arrays():
    tree = {"f": jnp.ones(2), "i": jnp.arange(2), "py": 1.5, "np": np.ones(2, np.float32)}
    out = MIXED.cast_to_compute(tree)
    assert out["f"].dtype == BF16 and out["np"].dtype == BF16
    assert out["i"].dtype == jnp.int32 and out["py"] == 1.5
    assert Policy(F32, F32, None).cast_to_output(jnp.ones(2), BF16).dtype == BF16
    assert Policy(F32, F32, None).cast_to_output(jnp.ones(2, BF16)).dtype == BF16


# ---- semantics of a module call -------------------------------------------------------------


def test_a_policy_casts_inputs_params_and_outputs_and_keeps_params_float32():
    set_policy(Dense, MIXED)
    x = jnp.ones((1, 3))
    params, out, seen = _run(lambda x: Dense()(x), x)
    # Dense asks for "w" in its (bf16) input's dtype: the policy stores it float32.
    assert params["~/Dense_0/__call__/w"].dtype == F32
    assert params["~/Dense_0/__call__/n"].dtype == jnp.int32  # non-float: untouched
    assert seen == [("~/Dense_0", BF16, BF16)]  # inside the policy: bf16 in, bf16 out
    assert out.dtype == F32  # the caller gets the output dtype
    np.testing.assert_array_equal(out, [[4.0, 4.0]])


def test_the_computation_runs_in_the_compute_dtype():
    set_policy(Dense, MIXED)
    t = transform(lambda x: Dense()(x))
    x = jnp.ones((1, 3))
    params = t.init(0, x)
    jaxpr = jax.make_jaxpr(t.apply)(params, x)
    dots = [e for e in jaxpr.eqns if e.primitive.name == "dot_general"]
    assert [tuple(v.aval.dtype for v in e.invars) for e in dots] == [(BF16, BF16)]


def test_output_none_gives_back_the_input_dtype():
    set_policy(Dense, Policy(F32, F32, None))
    _, out, seen = _run(lambda x: Dense()(x), jnp.ones((1, 3), BF16))
    assert seen == [("~/Dense_0", F32, F32)] and out.dtype == BF16


def test_a_nested_module_without_a_policy_reads_params_in_the_outer_compute_dtype():
    set_policy(Outer, MIXED)
    params, out, seen = _run(lambda x: Outer()(x), jnp.ones((1, 3)))
    assert {k: v.dtype for k, v in params.items() if k.endswith(("w", "s"))} == {
        "~/Outer_0/__call__/Dense_0/__call__/w": F32,
        "~/Outer_0/__call__/s": F32,
    }
    assert seen == [("~/Outer_0/__call__/Dense_0", BF16, BF16), ("~/Outer_0", BF16, BF16)]
    assert out.dtype == F32


def test_an_inner_policy_replaces_the_outer_one_inside_its_module():
    set_policy(Outer, MIXED)
    set_policy(Dense, Policy(F32, F32, None))  # as the norm layers: float32 inside
    t = transform(lambda x: Outer()(x))
    x = jnp.ones((1, 3))
    params = t.init(0, x)
    jaxpr = jax.make_jaxpr(t.apply)(params, x)
    dots = [e for e in jaxpr.eqns if e.primitive.name == "dot_general"]
    # the inner float32 policy reads w as float32, not the outer bf16 value cast back
    assert [tuple(v.aval.dtype for v in e.invars) for e in dots] == [(F32, F32)]
    _, out, seen = _run(lambda x: Outer()(x), x)
    # (the recorder runs inside the policy: it sees Dense's float32 before the cast back
    # to its bf16 input's dtype, which Outer then computes in)
    assert seen == [("~/Outer_0/__call__/Dense_0", F32, F32), ("~/Outer_0", BF16, BF16)]
    assert out.dtype == F32


class WithHelper(Module):
    def helper(self, x):
        return x * get_param("h", (), init=jax.nn.initializers.ones)

    def __call__(self, x):
        y = self.helper(x)
        assert y.dtype == BF16  # not cast to the output dtype between the two methods
        return y


def test_a_method_called_by_another_method_of_the_module_stays_in_the_compute_dtype():
    set_policy(WithHelper, MIXED)
    params, out, seen = _run(lambda x: WithHelper()(x), jnp.ones((1, 3)))
    assert seen == [("~/WithHelper_0", BF16, BF16)]
    assert out.dtype == F32 and params["~/WithHelper_0/helper/h"].dtype == F32


def test_a_bf16_param_dtype_stores_float_params_in_bf16():
    set_policy(Dense, "p=bf16,c=bf16,o=f32")
    params, out, _ = _run(lambda x: Dense()(x), jnp.ones((1, 3)))
    assert params["~/Dense_0/__call__/w"].dtype == BF16
    assert params["~/Dense_0/__call__/n"].dtype == jnp.int32
    assert out.dtype == F32


# ---- precedence -----------------------------------------------------------------------------


def _policy_of_each(f, x):
    return {path.rsplit("/", 1)[0]: p for path, p in param_policies(transform(f), x).items()}


def test_precedence_instance_over_pattern_over_class():
    a, b, c = Policy.parse("c=bf16"), Policy.parse("c=f16"), Policy.parse("f32")
    set_policy(Dense, a)
    set_policy("*/Dense_1", b)

    def f(x):
        y = Dense()(x) + Dense()(x)  # Dense_0: the class's; Dense_1: the pattern's
        d = Dense()
        set_policy(d, c)
        set_policy("*/Dense_2", b)  # a pattern loses to the instance's policy
        return y + d(x)

    assert _policy_of_each(f, jnp.ones((1, 3))) == {
        "~/Dense_0/__call__": a,
        "~/Dense_1/__call__": b,
        "~/Dense_2/__call__": c,
    }


def test_the_longest_matching_pattern_wins():
    short, long = Policy.parse("c=bf16"), Policy.parse("c=f16")
    set_policy("~/Outer_0/*", short)
    set_policy("~/Outer_0/*/Dense_0", long)
    assert get_policy("~/Outer_0/__call__/Dense_0") == long
    assert get_policy("~/Outer_0/__call__/Other_0") == short
    assert get_policy("~/Outer_0/*") == short  # the pattern itself
    assert get_policy("~/Elsewhere_0") is None


def test_the_nearest_class_in_the_mro_wins():
    general, special = Policy.parse("c=bf16"), Policy.parse("c=f16")
    set_policy(Module, general)
    set_policy(Dense, special)
    assert get_policy(SubDense) == special
    assert get_policy(Outer) == general
    clear_policy(Dense)
    assert get_policy(SubDense) == general


def test_a_library_default_beats_a_users_global_policy_but_not_a_class_policy():
    norm, user = Policy(F32, F32, None), MIXED
    set_policy(Dense, norm, default=True)
    assert get_policy(Dense) == norm  # visible, though inactive alone
    assert core_module.GLOBAL_METHOD_INTERCEPTORS == []  # defaults alone intercept nothing
    set_policy(Module, user)
    assert get_policy(Dense) == norm and get_policy(SubDense) == norm
    assert get_policy(Outer) == user
    set_policy(SubDense, user)
    assert get_policy(SubDense) == user
    set_policy(Dense, user)  # the user's class policy replaces the default
    assert get_policy(Dense) == user
    clear_policy(Dense)
    assert get_policy(Dense) == norm
    clear_policy(Dense, default=True)
    assert get_policy(Dense) == user


def test_an_instance_policy_is_reported_for_that_instance():
    seen = []

    def f(x):
        d = Dense()
        set_policy(d, MIXED)
        seen.append(get_policy(d))
        clear_policy(d)
        seen.append(get_policy(d))
        return d(x)

    transform(f).init(0, jnp.ones((1, 3)))
    assert seen == [MIXED, None]


# ---- cost when unused; scope; errors --------------------------------------------------------


def test_no_policy_means_no_interceptor_and_the_same_computation():
    t = transform(lambda x: Outer()(x))
    x = jnp.ones((1, 3))
    params = t.init(0, x)

    def jaxpr():  # a fresh function each time: jax caches traces by function
        return str(jax.make_jaxpr(lambda p, x: t.apply(p, x))(params, x))

    plain = jaxpr()
    with policy_scope(Dense, MIXED):
        assert core_module.GLOBAL_METHOD_INTERCEPTORS != []
        assert "bf16" in jaxpr()
    assert core_module.GLOBAL_METHOD_INTERCEPTORS == []
    assert jaxpr() == plain


def test_policy_scope_restores_what_the_block_set():
    set_policy(Outer, MIXED)
    with policy_scope():
        set_policy(Dense, MIXED)
        clear_policy(Outer)
        set_policy("~/*", MIXED)
    assert get_policy(Dense) is None and get_policy(Outer) == MIXED
    assert get_policy("~/*") is None


def test_policy_scope_keeps_library_defaults_registered_in_the_block():
    norm = Policy(F32, F32, None)
    with policy_scope():
        set_policy(Dense, norm, default=True)  # as a library imported in the block would
        set_policy(Outer, MIXED)
    assert get_policy(Dense) == norm and get_policy(Outer) is None
    clear_policy(Dense, default=True)


@pytest.mark.parametrize(
    ("target", "got"),
    [(len, "builtin_function_or_method"), (int, "int"), (3, "int"), (None, "NoneType")],
)
def test_set_policy_rejects_a_target_that_is_not_a_module(target, got):
    with pytest.raises(
        InvalidArgumentTypeError,
        match=re.escape(
            "set_policy takes a Module subclass, a module instance or a module-path pattern "
            f"(a str such as '~/Model_0/*'), got {got}."
        ),
    ):
        set_policy(target, MIXED)


def test_policy_errors_name_what_to_do():
    with pytest.raises(InvalidArgumentError, match=r"set_policy: the path pattern is empty\."):
        set_policy("", MIXED)
    with pytest.raises(
        InvalidArgumentTypeError,
        match=r"set_policy needs a Policy or a policy string, got NoneType; to remove a "
        r"policy use clear_policy\.",
    ):
        set_policy(Dense, None)  # type: ignore[arg-type]
    with pytest.raises(
        InvalidArgumentError,
        match=r"set_policy\(\.\.\., default=True\) is for a Module class, got a pattern "
        r"'~/\*'",
    ):
        set_policy("~/*", MIXED, default=True)
    with pytest.raises(InvalidArgumentError, match=r"unknown dtype 'bf61'"):
        set_policy(Dense, "c=bf61")
    with (
        pytest.raises(
            InvalidArgumentError, match=r"policy_scope takes both a target and a policy, or neither"
        ),
        policy_scope(Dense),
    ):
        pass
    with pytest.raises(InvalidArgumentTypeError, match=r"clear_policy takes a Module subclass"):
        clear_policy(3.0)  # type: ignore[arg-type]


# ---- summary --------------------------------------------------------------------------------


def test_summary_shows_each_parameters_policy():
    set_policy(Outer, MIXED)
    t = transform(lambda x: Outer()(x) + Dense(name="free")(x))
    x = jnp.ones((1, 3))
    policies = param_policies(t, x)
    assert policies == {
        "~/Outer_0/__call__/Dense_0/__call__/w": MIXED,
        "~/Outer_0/__call__/Dense_0/__call__/n": MIXED,
        "~/Outer_0/__call__/s": MIXED,
        "~/free/__call__/w": None,
        "~/free/__call__/n": None,
    }
    lines = summary(init_shapes(t, x), policies).splitlines()
    assert lines[0].split() == ["scope", "name", "shape", "dtype", "size", "bytes", "policy"]
    rows = {(r.split()[0], r.split()[1]): r.split()[-1] for r in lines[2:-2]}
    assert rows[("~/Outer_0/__call__", "s")] == "params=float32,compute=bfloat16,output=float32"
    assert rows[("~/free/__call__", "w")] == "-"
    assert "policy" not in summary(init_shapes(t, x))  # no column unless asked


def test_summary_rejects_policies_that_are_not_a_mapping():
    with pytest.raises(
        InvalidArgumentTypeError,
        match=r"summary's policies must map paths to policies \(what param_policies returns\), "
        r"got list\.",
    ):
        summary({"~/w": jnp.ones(2)}, [MIXED])
