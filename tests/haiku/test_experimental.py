"""dm-haiku's remaining names: config, testing, summaries, key sequence state, left-out names.

Differential: each program runs with dm-haiku and with minihaiku.haiku.
"""

import importlib
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.haiku as mhk
from minihaiku.core import InvalidArgumentError
from minihaiku.haiku._left_out import LeftOutError

haiku = pytest.importorskip("haiku")
jmp = pytest.importorskip("jmp")

K = jax.random.PRNGKey(0)

#: The names left out, as docs/haiku.md lists them (at most five).
LEFT_OUT = [
    ("", "to_dot"),
    ("experimental", "to_dot"),
    ("experimental", "abstract_to_dot"),
    ("experimental", "flax"),
    ("experimental", "jaxpr_info"),
]


@pytest.mark.parametrize(
    "sub",
    ["", ".experimental", ".data_structures", ".initializers", ".mixed_precision", ".nets", ".pad"],
)
def test_every_dm_haiku_name_is_there(sub):
    theirs = importlib.import_module("haiku" + sub).__all__
    ours = importlib.import_module("minihaiku.haiku" + sub)
    missing = sorted(set(theirs) - set(ours.__all__))
    assert missing == []
    for name in ours.__all__:
        assert hasattr(ours, name), name


# --- eval_summary and tabulate -----------------------------------------------------------


def _block(hk):
    class Block(hk.Module):
        def __call__(self, x, is_training=True):
            x = hk.Linear(300, name="lin")(x)
            x = hk.BatchNorm(True, True, 0.9)(x, is_training)
            return self.head(x), {"hidden": x}

        def head(self, x):
            return hk.Linear(2)(x)

    return lambda x: Block()(x, is_training=True)


def _mlp(hk):
    return lambda x: hk.nets.MLP([3, 2])(x)


def _conv(hk):
    return lambda x: hk.nets.MLP([3], activate_final=True, name="enc")(
        hk.LayerNorm(-1, True, True)(hk.Conv1D(2, 3, padding="VALID")(x))
    )


PROGRAMS = [(_block, (1, 4)), (_mlp, (1, 4)), (_conv, (2, 5, 3))]


def _summary(calls):
    return [
        (
            c.module_details.module.module_name,
            c.module_details.method_name,
            repr(c.args_spec),
            repr(c.kwargs_spec),
            repr(c.output_spec),
            repr(c.module_details.params),
            repr(c.module_details.state),
            [(d.module.module_name, d.method_name) for d in c.call_stack],
        )
        for c in calls
    ]


@pytest.mark.parametrize(("program", "shape"), PROGRAMS)
def test_eval_summary_matches_dm_haiku(program, shape):
    x = jnp.ones(shape)
    want = _summary(haiku.experimental.eval_summary(program(haiku))(x))
    got = _summary(mhk.experimental.eval_summary(program(mhk))(x))
    assert got == want


def test_eval_summary_takes_a_transformed_pair():
    x = jnp.ones((1, 4))
    want = _summary(haiku.experimental.eval_summary(haiku.transform(_mlp(haiku)))(x))
    got = _summary(mhk.experimental.eval_summary(mhk.transform(_mlp(mhk)))(x))
    assert got == want
    f = mhk.transform_with_state(_block(mhk))
    assert len(mhk.experimental.eval_summary(f)(x)) == 7


@pytest.mark.parametrize(("program", "shape"), PROGRAMS)
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"filters": ("has_params",)},
        {"columns": ("module", "input", "params_size"), "filters": None},
        {"columns": ("owned_params", "output", "params_bytes", "config")},
    ],
)
def test_tabulate_writes_dm_haikus_table(program, shape, kwargs):
    x = jnp.ones(shape)
    want = haiku.experimental.tabulate(program(haiku), **kwargs)(x)
    got = mhk.experimental.tabulate(program(mhk), **kwargs)(x)
    assert got == want


def test_tabulate_config_column_follows_module_auto_repr():
    x = jnp.ones((1, 4))
    cols = {"columns": ("module", "config")}
    with mhk.config.context(module_auto_repr=False):
        table = mhk.experimental.tabulate(_mlp(mhk), **cols)(x)
    # hk layers built with the flag off have object's repr, as dm-haiku's
    # (<haiku._src.basic.Linear object at 0x...>); hk.nets.MLP's is core's.
    assert "MLP(mlp)" in table and "<minihaiku.haiku._layers.Linear object at 0x" in table
    assert "MLP(output_sizes=[3, 2])" in mhk.experimental.tabulate(_mlp(mhk), **cols)(x)


def test_tabulate_long_config_is_one_argument_a_line_as_dm_haikus():
    def f(hk):
        return lambda x: hk.Conv2D(64, 7, stride=2, with_bias=False, name="initial_conv")(x)

    x = jnp.ones((1, 8, 8, 3))
    cols = {"columns": ("module", "config")}
    want = haiku.experimental.tabulate(f(haiku), **cols)(x)
    assert mhk.experimental.tabulate(f(mhk), **cols)(x) == want
    assert "|     output_channels=64," in want


@pytest.mark.parametrize(
    "kwargs", [{"columns": ("modul",)}, {"filters": ("has_out",)}, {"columns": "module"}]
)
def test_tabulate_refuses_unknown_columns_and_filters_with_a_value_error(kwargs):
    with pytest.raises(ValueError):
        haiku.experimental.tabulate(_mlp(haiku), **kwargs)(jnp.ones((1, 4)))
    with pytest.raises(InvalidArgumentError, match="tabulate"):
        mhk.experimental.tabulate(_mlp(mhk), **kwargs)(jnp.ones((1, 4)))


def test_tabulate_refuses_other_table_formats_saying_what_to_use():
    with pytest.raises(InvalidArgumentError, match=r"tablefmt': 'grid'.*eval_summary"):
        mhk.experimental.tabulate(_mlp(mhk), tabulate_kwargs={"tablefmt": "html"})


@pytest.mark.parametrize(
    "dtype",
    [
        jnp.float32,
        jnp.bfloat16,
        jnp.float16,
        jnp.int32,
        jnp.int8,
        jnp.uint8,
        jnp.bool_,
        np.complex64,
    ],
)
def test_array_spec_matches_dm_haikus(dtype):
    theirs = haiku.experimental.ArraySpec((2, 3), dtype)
    ours = mhk.experimental.ArraySpec((2, 3), dtype)
    assert repr(ours) == repr(theirs)
    assert ours.size == theirs.size == 6
    assert mhk.experimental.ArraySpec.from_array(jnp.ones((2, 3), dtype)) == ours
    assert mhk.experimental.ArraySpec((), jnp.float32).size == 1


def test_module_details_of_reads_the_params_so_far():
    def f(hk):
        def run(x):
            mod = hk.nets.MLP([3, 2])
            mod(x)
            d = hk.experimental.ModuleDetails.of(mod, "__call__")
            return repr(d.params), d.method_name

        return run

    x = jnp.ones((1, 4))
    want = haiku.transform(f(haiku))
    theirs = want.apply(want.init(K, x), None, x)
    ours_t = mhk.transform(f(mhk))
    assert ours_t.apply(ours_t.init(K, x), None, x) == theirs


# --- the key sequence: state, reserve size --------------------------------------------------


def _keys_program(hk, ex):
    def f(x):
        a = hk.next_rng_key()
        saved = ex.maybe_get_rng_sequence_state()
        b = hk.next_rng_key()
        ex.replace_rng_sequence_state(saved)
        c = hk.next_rng_key()
        ex.replace_rng_sequence_state((jax.random.PRNGKey(5), (jax.random.PRNGKey(6),)))
        d = hk.next_rng_keys(2)
        return hk.nets.MLP([3, 2])(x), a, b, c, d, saved

    return f


@pytest.mark.parametrize("size", [1, 3])
@pytest.mark.parametrize("where", ["", "experimental"])
def test_rng_sequence_state_round_trips_with_dm_haikus_keys(size, where):
    x = jnp.ones((1, 2))
    out = {}
    for lib in (haiku, mhk):
        ex = getattr(lib, where) if where else lib
        with lib.config.context(rng_reserve_size=size):
            f = lib.transform(_keys_program(lib, ex))
            params = f.init(K, x)
            out[lib] = (params, f.apply(params, K, x))
    want, got = jax.tree.leaves(out[haiku]), jax.tree.leaves(out[mhk])
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)
    _, (_, _, b, c, *_) = out[mhk]
    np.testing.assert_array_equal(b, c)  # the replaced state gives b again


def test_rng_sequence_state_without_a_key():
    f = mhk.transform(mhk.maybe_get_rng_sequence_state)
    assert f.apply({}, None) is None
    g = mhk.transform(lambda: mhk.replace_rng_sequence_state((K, ())))
    with pytest.raises(
        ValueError, match="replace_rng_sequence_state needs the transform to have a key"
    ):
        g.apply({}, None)
    with pytest.raises(ValueError):
        haiku.transform(lambda: haiku.replace_rng_sequence_state((K, ()))).apply({}, None)


def test_rng_sequence_state_under_the_seed_scheme_says_to_use_hk_transform():
    import minihaiku.core as core

    f = core.transform(mhk.maybe_get_rng_sequence_state, apply_rng=True)
    with pytest.raises(InvalidArgumentError, match="seed scheme"):
        f.apply({}, K)


def test_rng_reserve_size_changes_init_values_as_dm_haiku():
    x = jnp.ones((1, 3))
    for size in (2, 5):
        assert haiku.experimental.rng_reserve_size(size) == 1
        want = haiku.transform(_mlp(haiku)).init(K, x)
        haiku.experimental.rng_reserve_size(1)
        assert mhk.experimental.rng_reserve_size(size) == 1
        got = mhk.transform(_mlp(mhk)).init(K, x)
        assert mhk.experimental.rng_reserve_size(1) == size
        jax.tree.map(np.testing.assert_array_equal, got, want)
    default = mhk.transform(_mlp(mhk)).init(K, x)
    assert not np.array_equal(default["mlp/~/linear_1"]["w"], got["mlp/~/linear_1"]["w"])


def test_rng_reserve_size_must_be_positive():
    with pytest.raises(InvalidArgumentError, match="rng_reserve_size"):
        mhk.experimental.rng_reserve_size(0)
    assert mhk.config.get_config().rng_reserve_size == 1


# --- config ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["context", "set"])
def test_config_functions_have_dm_haikus_signatures(name):
    theirs = inspect.signature(getattr(haiku.config, name)).parameters
    ours = inspect.signature(getattr(mhk.config, name)).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == [
        (p.name, p.kind, p.default) for p in theirs.values()
    ]


def test_config_context_restores_every_flag():
    before = mhk.config.get_config()
    saved = (before.check_jax_usage, before.module_auto_repr, before.rng_reserve_size)
    with mhk.config.context(check_jax_usage=True, module_auto_repr=False, rng_reserve_size=4):
        now = mhk.config.get_config()
        assert (now.check_jax_usage, now.module_auto_repr, now.rng_reserve_size) == (True, False, 4)
    after = mhk.config.get_config()
    assert (after.check_jax_usage, after.module_auto_repr, after.rng_reserve_size) == saved


def _read_under_raw_vmap(hk):
    def f(xs):  # init creates the params outside the raw vmap, apply reads them inside
        if xs.ndim == 2:
            return hk.Linear(2)(xs)
        return jax.vmap(lambda x: hk.Linear(2)(x))(xs)

    f = hk.transform(f)
    params = f.init(K, jnp.ones((1, 3)))
    return f.apply(params, None, jnp.ones((4, 1, 3)))


@pytest.mark.parametrize("how", ["config", "experimental"])
def test_check_jax_usage_makes_reads_under_raw_vmap_value_errors_as_dm_haikus(how):
    for lib in (haiku, mhk):
        _read_under_raw_vmap(lib)  # allowed by default in both
    with haiku.config.context(check_jax_usage=True), pytest.raises(ValueError):
        _read_under_raw_vmap(haiku)
    if how == "config":
        with (
            mhk.config.context(check_jax_usage=True),
            pytest.raises(ValueError, match="raw JAX transform"),
        ):
            _read_under_raw_vmap(mhk)
    else:
        assert mhk.experimental.check_jax_usage() is False
        try:
            with pytest.raises(ValueError, match="raw JAX transform"):
                _read_under_raw_vmap(mhk)
        finally:
            assert mhk.experimental.check_jax_usage(False) is True
    _read_under_raw_vmap(mhk)


def test_module_auto_repr_returns_the_previous_value():
    assert mhk.experimental.module_auto_repr(False) is True
    assert mhk.experimental.module_auto_repr(True) is False


# --- testing ---------------------------------------------------------------------------------


def test_transform_and_run_has_dm_haikus_signature():
    theirs = inspect.signature(haiku.testing.transform_and_run).parameters
    ours = inspect.signature(mhk.testing.transform_and_run).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == [
        (p.name, p.kind, p.default) for p in theirs.values()
    ]


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"seed": 3}, {"jax_transform": jax.jit}, {"map_rng": lambda k: jax.random.fold_in(k, 1)}],
)
def test_transform_and_run_gives_dm_haikus_outputs(kwargs):
    def f(hk):
        def run(x):
            y = hk.nets.MLP([4, 2])(x)
            return hk.BatchNorm(True, True, 0.9)(y, is_training=True), hk.next_rng_key()

        return run

    x = jnp.ones((2, 3))
    want = haiku.testing.transform_and_run(f(haiku), **kwargs)(x)
    got = mhk.testing.transform_and_run(f(mhk), **kwargs)(x)
    jax.tree.map(np.testing.assert_array_equal, got, want)


def test_transform_and_run_as_a_decorator_and_without_apply():
    @mhk.testing.transform_and_run(seed=None)
    def shape(x):
        return mhk.Bias()(x).shape

    assert shape(jnp.ones((1, 2))) == (1, 2)
    assert mhk.testing.transform_and_run(lambda: 3, run_apply=False)() is None
    assert haiku.testing.transform_and_run(lambda: 3, run_apply=False)() is None


# --- mixed_precision.current_policy ------------------------------------------------------------


def _policies_seen(lib, policy):
    out = []

    class Plain(lib.Module):
        def __call__(self, x):
            out.append(lib.mixed_precision.current_policy())
            return x

    class Mixed(lib.Linear):
        def __call__(self, x):
            out.append(lib.mixed_precision.current_policy())
            return super().__call__(x)

    def f(x):
        out.append(lib.mixed_precision.current_policy())
        Plain()(x)
        return Mixed(2)(x)

    with lib.mixed_precision.push_policy(Mixed, policy):
        lib.transform(f).init(K, jnp.ones((1, 3)))
    out.append(lib.mixed_precision.current_policy())
    return out


def test_current_policy_matches_dm_haiku():
    policy = jmp.get_policy("p=f32,c=bf16,o=f32")
    seen = {lib: _policies_seen(lib, policy) for lib in (haiku, mhk)}
    assert seen[mhk] == seen[haiku] == [None, None, policy, None]
    assert seen[mhk][2] is policy


# --- ModuleProtocol, SupportsCall ---------------------------------------------------------------


def test_module_protocols():
    def f():
        lin = mhk.Linear(2)
        return isinstance(lin, mhk.ModuleProtocol), isinstance(lin, mhk.SupportsCall)

    assert mhk.transform(f).apply({}, None) == (True, True)
    assert not isinstance(object(), mhk.SupportsCall)


# --- the left-out names ---------------------------------------------------------------------


def test_at_most_five_names_are_left_out():
    assert len(LEFT_OUT) <= 5
    for sub, name in LEFT_OUT:
        assert name in (getattr(mhk, sub) if sub else mhk).__all__


@pytest.mark.parametrize(("sub", "name"), LEFT_OUT)
def test_each_left_out_name_raises_saying_so_and_what_to_use(sub, name):
    obj = getattr(getattr(mhk, sub) if sub else mhk, name)
    label = f"hk.{sub + '.' if sub else ''}{name}"
    with pytest.raises(LeftOutError) as info:
        if callable(obj) and name.endswith("to_dot"):
            obj(lambda x: x)
        else:
            obj.lift
    err = info.value
    assert isinstance(err, NotImplementedError)
    assert str(err).startswith(f"{label} is left out of minihaiku.haiku: ")
    assert "Use " in str(err) or "port" in str(err)


def test_left_out_modules_answer_dunder_probes_normally():
    assert not hasattr(mhk.experimental.flax, "__wrapped__")
    assert repr(mhk.experimental.jaxpr_info) == "<left out: hk.experimental.jaxpr_info>"
    with pytest.raises(LeftOutError):
        mhk.experimental.flax()


def test_left_out_names_are_listed_in_docs():
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "haiku.md").read_text()
    for sub, name in LEFT_OUT:
        assert f"`hk.{sub + '.' if sub else ''}{name}`" in doc, name


# --- core follows dm-haiku, seen from hk code -----------------------------------------------


def test_init_and_apply_signatures_match_dm_haiku_including_without_apply_rng():
    def fn(x, y=2):
        return x

    for make in (
        lambda lib: lib.transform(fn),
        lambda lib: lib.transform_with_state(fn),
        lambda lib: lib.without_apply_rng(lib.transform(fn)),
        lambda lib: lib.without_apply_rng(lib.transform_with_state(fn)),
    ):
        want, got = make(haiku), make(mhk)
        for a, b in ((got.init, want.init), (got.apply, want.apply)):
            assert list(inspect.signature(a).parameters) == list(inspect.signature(b).parameters)


def test_cond_with_a_branch_given_twice_traces_it_once_as_dm_haiku():
    for lib in (haiku, mhk):
        traced = []

        def branch(x, traced=traced):
            traced.append(1)
            return x + 1

        def f(x, lib=lib, branch=branch):
            return lib.cond(x.sum() > 0, branch, branch, x)

        lib.transform(f).apply({}, None, jnp.ones(2))
        assert len(traced) == 1, lib.__name__


def test_intercept_methods_sees_each_super_level_as_dm_haiku():
    seen = {}
    for lib in (haiku, mhk):
        names = seen[lib] = []

        class Base(lib.Module):
            def __call__(self, x):
                return x

        class Child(Base):
            def __call__(self, x):
                return super().__call__(x) + 1

        def note(next_fun, args, kwargs, context):
            if context.method_name != "__init__":
                names.append((context.module.module_name, context.method_name))  # noqa: B023
            return next_fun(*args, **kwargs)

        def f(x):
            with lib.intercept_methods(note):  # noqa: B023
                return Child()(x)

        lib.transform(f).apply({}, None, jnp.ones(2))
    assert seen[mhk] == seen[haiku] == [("child", "__call__")] * 2


@pytest.mark.parametrize("dtype", [jnp.complex64, jnp.float32])
def test_truncated_normal_for_complex_dtypes_gives_dm_haikus_values(dtype):
    out = []
    for lib in (haiku, mhk):
        init = lib.initializers.TruncatedNormal()
        f = lib.transform(lambda: lib.get_parameter("w", [5], dtype, init=init))  # noqa: B023
        out.append(f.init(K)["~"]["w"])
    np.testing.assert_array_equal(out[1], out[0])
    assert out[1].dtype == dtype


# --- optimize_rng_use ----------------------------------------------------------------------

_RNG_USES = {
    "random inits": lambda hk: lambda x: hk.nets.MLP([3, 2])(x),
    "next_rng_keys only": lambda hk: lambda x: hk.next_rng_keys(3),
    "key then keys": lambda hk: lambda x: (hk.next_rng_key(), hk.next_rng_keys(3)),
    "keys then key": lambda hk: lambda x: (hk.next_rng_keys(3), hk.next_rng_key()),
    "maybe_next_rng_key": lambda hk: (
        lambda x: (
            hk.next_rng_key(),
            hk.maybe_next_rng_key(),
            hk.next_rng_key(),
        )
    ),
    "dropout and inits": lambda hk: (
        lambda x: (
            hk.dropout(hk.next_rng_key(), 0.5, hk.nets.MLP([3, 2])(x)),
            hk.next_rng_key(),
        )
    ),
    "a hundred keys": lambda hk: lambda x: [hk.next_rng_key() for _ in range(100)],
}


@pytest.mark.parametrize("name", list(_RNG_USES))
def test_optimize_rng_use_gives_dm_haikus_keys_and_values(name):
    x = jnp.ones((1, 2))
    out = {}
    for lib in (haiku, mhk):
        body = lib.experimental.optimize_rng_use(_RNG_USES[name](lib))

        def f(x, lib=lib, body=body):
            return lib.next_rng_key(), body(x), lib.next_rng_key(), lib.Linear(2)(x)

        t = lib.transform(f)
        params = t.init(K, x)
        out[lib] = (params, t.apply(params, K, x), jax.jit(t.apply)(params, K, x))
    want, got = jax.tree.leaves(out[haiku]), jax.tree.leaves(out[mhk])
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


def test_optimize_rng_use_without_a_key_just_runs():
    f = mhk.transform(mhk.experimental.optimize_rng_use(lambda: 3))
    assert f.apply({}, None) == 3
