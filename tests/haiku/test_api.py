"""minihaiku.haiku's names have dm-haiku's signatures and raise dm-haiku's error types."""

import inspect

import jax
import jax.numpy as jnp
import pytest

import minihaiku.haiku as mhk
from minihaiku.core import DuplicateNameError, InvalidArgumentError, InvalidNameError

haiku = pytest.importorskip("haiku")

# Same values for these defaults even where the objects differ (jax.nn.relu is one object).
_SKIP = {
    "__version__",
    "experimental",
    "initializers",
    "nets",
    "pad",
    "data_structures",
    "mixed_precision",
}


# Contexts handed to creators/getters/setters: users read their fields, never build them.
# dm-haiku's constructors also take ``lifted_prefix_name`` (MethodContext: ``orig_class``),
# not there yet.
#: Made by lift_with_state / transparent_lift_with_state, never by users (methods: test below).
_MADE_BY_LIFT = {"LiftWithStateUpdater"}
_BUILT_BY_THE_LIBRARY = {"GetterContext", "SetterContext", "MethodContext", "ParamContext"}


def test_contexts_have_dm_haikus_fields():
    for name, extra in (("GetterContext", ["original_init"]), ("SetterContext", [])):
        for field in ["full_name", "module", "original_dtype", "original_shape", *extra]:
            assert field in inspect.signature(getattr(mhk, name)).parameters, (name, field)
        for prop in ("module_name", "name"):
            assert hasattr(getattr(mhk, name), prop), (name, prop)


def test_the_lift_updater_has_dm_haikus_methods():
    for method in ("update", "ignore_update"):
        ours = inspect.signature(getattr(mhk.LiftWithStateUpdater, method))
        theirs = inspect.signature(getattr(haiku.LiftWithStateUpdater, method))
        assert list(ours.parameters) == list(theirs.parameters), method


#: Parameters dm-haiku shows through from JAX that newer JAX releases removed:
#: ``hk.remat`` has ``jax.checkpoint``'s signature, whose deprecated ``concrete``
#: is there up to JAX 0.10 and gone in 0.12.
_GONE_FROM_JAX = {"remat": ("concrete",)}


def _params(obj):
    """(name, kind, default) of each parameter, leaving out minihaiku's extra keyword-only ones."""
    out = []
    for p in inspect.signature(obj).parameters.values():
        out.append((p.name, p.kind, p.default))
    return out


def _shared_names():
    names = []
    for name in mhk.__all__:
        if name not in _SKIP and hasattr(haiku, name):
            names.append(("", name))
    for sub in (
        "experimental",
        "initializers",
        "nets",
        "pad",
        "data_structures",
        "mixed_precision",
    ):
        for name in getattr(mhk, sub).__all__:
            if name != "Initializer" and hasattr(getattr(haiku, sub), name):
                names.append((sub, name))
    return names


@pytest.mark.parametrize(("sub", "name"), _shared_names())
def test_every_shared_name_has_dm_haikus_signature(sub, name):
    ours = getattr(getattr(mhk, sub) if sub else mhk, name)
    theirs = getattr(getattr(haiku, sub) if sub else haiku, name)
    if name in _BUILT_BY_THE_LIBRARY:
        pytest.skip(f"{name}: built by the library, not by users (fields: test below)")
    if name in _MADE_BY_LIFT:
        pytest.skip(f"{name}: made by lift_with_state, not by users (methods: test below)")
    try:
        want = _params(theirs)
    except (ValueError, TypeError):
        pytest.skip(f"{name}: dm-haiku's has no signature (not callable)")
    want = [p for p in want if p[0] not in _GONE_FROM_JAX.get(name, ())]
    got = _params(ours)
    extra = [p for p in got[len(want) :] if p[1] is inspect.Parameter.KEYWORD_ONLY]
    assert len(extra) == len(got) - len(want) and all(
        p[2] is not inspect.Parameter.empty for p in extra
    ), f"{name}: extra parameters {got[len(want) :]} must be keyword-only with defaults"
    got = got[: len(want)]
    assert [(n, k) for n, k, _ in got] == [(n, k) for n, k, _ in want], name
    for (n, _, a), (_, _, b) in zip(got, want, strict=True):
        if type(b) is object:  # a sentinel (cond's operand): one of its own
            assert type(a) is object, (name, n)
        elif isinstance(b, type) or callable(b):
            assert a is b or a == b or getattr(a, "__name__", a) == getattr(b, "__name__", b), n
        else:
            assert a == b, (name, n)


def test_the_package_covers_the_names_of_the_brief():
    for name in (
        "transform",
        "transform_with_state",
        "without_apply_rng",
        "Transformed",
        "TransformedWithState",
        "Module",
        "get_parameter",
        "get_state",
        "set_state",
        "next_rng_key",
        "next_rng_keys",
        "maybe_next_rng_key",
        "reserve_rng_keys",
        "PRNGSequence",
        "with_empty_state",
        "multi_transform",
        "multi_transform_with_state",
        "running_init",
        "name_scope",
        "Linear",
    ):
        assert name in mhk.__all__ and hasattr(haiku, name), name
    assert sorted(mhk.initializers.__all__) == sorted(haiku.initializers.__all__)


def _init(hk, f, *args):
    return hk.transform(f).init(jax.random.PRNGKey(0), *args)


def test_a_numbered_name_used_twice_is_a_value_error(hk):
    def f(x):
        hk.Linear(1, name="linear_3")(x)
        hk.Linear(1, name="linear_3")(x)

    with pytest.raises(ValueError, match="linear_3"):
        _init(hk, f, jnp.ones((1, 2)))


def test_our_duplicate_name_error_says_where_and_what_to_do():
    def f(x):
        mhk.Linear(1, name="linear_3")(x)
        mhk.Linear(1, name="linear_3")(x)

    with pytest.raises(DuplicateNameError) as e:
        _init(mhk, f, jnp.ones((1, 2)))
    assert str(e.value) == (
        "module name 'linear_3' is not unique in '~' (constructing Linear). Give each "
        "module in one scope its own name, or call the existing instance again to share "
        "its parameters."
    )


@pytest.mark.parametrize("bad", ["a/b", "", "1a", "a b"])
def test_a_module_name_that_is_no_identifier_is_a_value_error(hk, bad):
    with pytest.raises(ValueError):
        _init(hk, lambda x: hk.Linear(1, name=bad)(x), jnp.ones((1, 2)))


def test_our_invalid_module_name_error_message():
    with pytest.raises(InvalidNameError) as e:
        _init(mhk, lambda x: mhk.Linear(1, name="a b")(x), jnp.ones((1, 2)))
    assert str(e.value) == (
        "'a b' is not a valid module name (constructing Linear in '~'): under the haiku "
        "scheme a module name must be a Python identifier, e.g. 'encoder' or 'linear_1'."
    )


@pytest.mark.parametrize("bad", ["", "/a"])
def test_a_name_scope_that_is_empty_or_absolute_is_a_value_error(hk, bad):
    def f():
        with hk.name_scope(bad):
            pass

    with pytest.raises(ValueError):
        hk.transform(f).init(None)


def test_get_parameter_without_init_is_a_value_error():
    with pytest.raises(InvalidArgumentError) as e:
        mhk.transform(lambda: mhk.get_parameter("w", [2])).init(None)
    assert isinstance(e.value, ValueError)
    assert str(e.value) == (
        "get_parameter('w'): init is required (dm-haiku's rule). Pass an initializer "
        "such as hk.initializers.TruncatedNormal(0.1) or jnp.zeros."
    )


def test_transform_with_apply_rng_false_says_what_to_use():
    with pytest.raises(InvalidArgumentError, match=r"hk.without_apply_rng\(hk.transform\(f\)\)"):
        mhk.transform(lambda: None, apply_rng=False)


def test_mlp_refuses_rng_without_dropout_and_b_init_without_bias(hk):
    def f(x):
        return hk.nets.MLP([2])(x, rng=jax.random.PRNGKey(0))

    with pytest.raises(ValueError):
        _init(hk, f, jnp.ones((1, 2)))
    with pytest.raises(ValueError):
        _init(hk, lambda x: hk.nets.MLP([2], with_bias=False, b_init=jnp.ones)(x), jnp.ones(2))


def test_current_name_matches(hk):
    seen = []

    class Block(hk.Module):
        def __call__(self):
            seen.append(hk.experimental.current_name())
            with hk.name_scope("inner"):
                seen.append(hk.experimental.current_name())

    def f():
        Block()()

    hk.transform(f).init(None)
    assert seen == ["block", "block/inner"]


def test_name_scope_method_name_places_modules_as_dm_haiku():
    def program(hk):
        def f():
            for method in ("bar", "__init__", "__call__"):
                with hk.name_scope("foo", method_name=method):
                    hk.get_parameter("w", [], init=jnp.ones)
                    hk.Linear(1)(jnp.ones(1))

        return hk.transform(f)

    ref = program(haiku).init(jax.random.PRNGKey(0))
    got = program(mhk).init(jax.random.PRNGKey(0))
    assert (
        list(got)
        == list(ref)
        == [
            "foo",
            "foo/~bar/linear",
            "foo_1",
            "foo_1/~/linear",
            "foo_2",
            "foo_2/linear",
        ]
    )
    assert jax.tree.map(lambda a, b: bool((a == b).all()), ref, got) == jax.tree.map(
        lambda a: True, ref
    )


def test_force_name_and_name_like_match_dm_haiku():
    def program(hk):
        class A(hk.Module):
            def __call__(self, x):
                return hk.Linear(2)(x)

            @hk.name_like("__call__")
            def other(self, x):
                return hk.Linear(2)(x)

            def enc(self, x):
                return hk.Linear(2)(x)

            @hk.name_like("enc")
            def enc2(self, x):
                return hk.Linear(2)(x)

        def f(x):
            a = A()
            shared = hk.Linear(2, name="enc")
            y = shared(x) + hk.Linear(2, name=hk.force_name(shared.module_name))(x)
            with hk.name_scope("inner"):
                y = y + hk.Linear(2, name=hk.force_name("new/thing"))(x)
            return y + a(x) + a.other(x) + a.enc(x) + a.enc2(x)

        return hk.transform(f)

    key = jax.random.PRNGKey(0)
    ref = program(haiku).init(key, jnp.ones((1, 2)))
    got = program(mhk).init(key, jnp.ones((1, 2)))
    assert list(got) == list(ref) == ["enc", "new/thing", "a/linear", "a/~enc/linear"]
    for m in ref:
        for n in ref[m]:
            assert bool((ref[m][n] == got[m][n]).all()), (m, n)
