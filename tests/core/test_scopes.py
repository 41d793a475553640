"""Naming semantics of the second core pass: scopes, properties, method_scopes, dataclasses."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    Module,
    ModuleConstructionError,
    NotInTransformError,
    get_param,
    get_state,
    module_method,
    set_state,
    to_nested,
    transform,
    transform_with_state,
    transparent,
)

ones = jax.nn.initializers.ones


class Scale(Module):
    """A leaf module with one scalar parameter ``w``."""

    def __call__(self, x):
        return x * get_param("w", (), init=ones)


# --- outside any module ------------------------------------------------------


def test_params_and_state_outside_any_module_live_at_the_root():
    def f():
        get_param("w", (), init=ones)
        get_state("s", (), init=ones)
        set_state("t", jnp.zeros(2))

    params, state = transform_with_state(f).init(0)
    assert list(params) == ["~/w"]
    assert list(state) == ["~/s", "~/t"]


def test_to_nested_of_root_params_has_one_root_named_tilde():
    def f():
        get_param("w", (2,), init=ones)
        get_param("b", (), init=ones)

    nested = to_nested(transform(f).init(0))
    assert list(nested) == ["~"]
    assert sorted(nested["~"]) == ["b", "w"]
    np.testing.assert_array_equal(nested["~"]["w"], np.ones(2))


def test_root_params_match_dm_haiku_nested_layout():
    hk = pytest.importorskip("haiku")

    def f():
        get_param("w", (2,), init=ones)

    def g():
        hk.get_parameter("w", (2,), init=jnp.ones)

    ours = to_nested(transform(f).init(0))
    theirs = hk.transform(g).init(jax.random.PRNGKey(0))
    assert jax.tree_util.tree_structure(ours) == jax.tree_util.tree_structure(
        {k: dict(v) for k, v in theirs.items()}
    )


# --- properties ----------------------------------------------------------------


class WithProperty(Module):
    @property
    def prop(self):
        return get_param("w", (), init=ones)

    def __call__(self, x):
        return x * self.prop


def test_property_getter_is_wrapped_like_a_method():
    assert list(transform(lambda: WithProperty().prop).init(0)) == ["~/WithProperty_0/prop/w"]


def test_property_read_from_a_method_gets_its_own_scope():
    # A property is a method scope of its own, even when a method reads it.
    params = transform(lambda x: WithProperty()(x)).init(0, 1.0)
    assert list(params) == ["~/WithProperty_0/prop/w"]


def test_property_outside_transform_raises_not_in_transform():
    m = object.__new__(WithProperty)
    with pytest.raises(NotInTransformError, match=r"WithProperty\.prop was called outside"):
        m.prop


# --- method_scopes=False: weight tying ----------------------------------------


class TiedEmbed(Module, method_scopes=False):
    """An Embed-like module: lookup, attend and a property share one table."""

    def __init__(self, vocab, dim, name=None):
        super().__init__(name=name)
        self.vocab, self.dim = vocab, dim

    @property
    def embeddings(self):
        return get_param("embeddings", (self.vocab, self.dim), init=jax.nn.initializers.normal(1.0))

    def __call__(self, ids):
        return self.embeddings[ids]

    def attend(self, h):
        return h @ get_param("embeddings", (self.vocab, self.dim)).T


def test_method_scopes_false_shares_one_parameter_across_methods_and_property():
    def f(ids, h):
        e = TiedEmbed(5, 3)
        return e(ids), e.attend(h), e.embeddings

    t = transform(f)
    ids, h = jnp.array([0, 3]), jnp.ones((1, 3))
    params = t.init(0, ids, h)
    assert list(params) == ["~/TiedEmbed_0/embeddings"]
    table = params["~/TiedEmbed_0/embeddings"]
    looked, logits, emb = t.apply(params, ids, h)
    np.testing.assert_allclose(looked, table[ids])
    np.testing.assert_allclose(logits, h @ table.T, rtol=1e-6)
    np.testing.assert_array_equal(emb, table)


def test_gradients_of_a_tied_parameter_add_up_over_its_uses():
    ids, h = jnp.array([1, 1, 4]), jnp.arange(3.0).reshape(1, 3)

    def f(ids, h):
        e = TiedEmbed(5, 3)
        return jnp.sum(e(ids)) + jnp.sum(e.attend(h))

    t = transform(f)
    params = t.init(0, ids, h)
    grads = jax.grad(lambda p: t.apply(p, ids, h))(params)
    # lookup: row i gets (count of i in ids) ones; attend: every row gets h.
    expected = np.zeros((5, 3), np.float32)
    for i in [1, 1, 4]:
        expected[i] += 1.0
    expected += np.arange(3.0)
    np.testing.assert_allclose(grads["~/TiedEmbed_0/embeddings"], expected)


class Holder(Module, method_scopes=False):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.first = Scale()

    def __call__(self, x):
        return Scale()(self.first(x))


def test_method_scopes_false_submodules_from_init_and_method_do_not_collide():
    # Parameters of the module itself live at module level; submodules built in
    # a method live under the method (dm-haiku: holder/~/scale), those built in
    # __init__ under the module.
    params = transform(lambda x: Holder()(x)).init(0, 1.0)
    assert list(params) == [
        "~/Holder_0/Scale_0/__call__/w",
        "~/Holder_0/__call__/Scale_0/__call__/w",
    ]


def test_method_scopes_false_calling_the_method_twice_reuses_names_and_params():
    def f(x):
        h = Holder()
        return h(h(x))

    t = transform(f)
    params = t.init(0, 2.0)
    assert list(params) == [
        "~/Holder_0/Scale_0/__call__/w",
        "~/Holder_0/__call__/Scale_0/__call__/w",
    ]
    params = {k: jnp.float32(3.0) for k in params}
    # two calls, each through two scales of 3: 2 * 3**4
    np.testing.assert_allclose(t.apply(params, 2.0), 162.0)


def test_method_scopes_true_keeps_the_seed_names():
    class Seedy(Module):
        def __init__(self, name=None):
            super().__init__(name=name)
            self.first = Scale()

        def __call__(self, x):
            return Scale()(self.first(x))

    params = transform(lambda x: Seedy()(x)).init(0, 1.0)
    assert list(params) == [
        "~/Seedy_0/Scale_0/__call__/w",
        "~/Seedy_0/__call__/Scale_0/__call__/w",
    ]


# --- transparent ----------------------------------------------------------------


class Transp(Module):
    @transparent
    def weight(self):
        return get_param("w", (), init=ones)

    def __call__(self, x):
        return x * self.weight()

    def other(self, x):
        return x + self.weight()


def test_transparent_called_from_a_method_uses_the_callers_scope():
    def f(x):
        m = Transp()
        return m(x), m.other(x)

    assert list(transform(f).init(0, 1.0)) == ["~/Transp_0/__call__/w", "~/Transp_0/other/w"]


def test_transparent_called_from_outside_lives_at_module_level():
    assert list(transform(lambda: Transp().weight()).init(0)) == ["~/Transp_0/w"]


def test_transparent_on_an_already_wrapped_function_raises():
    def helper(self):
        return None

    with pytest.raises(
        ModuleConstructionError,
        match=r"transparent must be applied to the plain function, got the already "
        r"wrapped '.*helper'.*put @transparent below @module_method",
    ):
        transparent(module_method(helper))


def test_transparent_below_module_method_works():
    class M(Module):
        @module_method
        @transparent
        def weight(self):
            return get_param("w", (), init=ones)

        def __call__(self):
            return self.weight()

    assert list(transform(lambda: M()()).init(0)) == ["~/M_0/__call__/w"]


# --- inheritance ------------------------------------------------------------------


def test_subclasses_inherit_method_scopes_false():
    class Base(Module, method_scopes=False):
        def __call__(self, x):
            return x * get_param("w", (), init=ones)

    class Child(Base):
        def extra(self, x):
            return x + get_param("b", (), init=ones)

    def f(x):
        c = Child()
        return c.extra(c(x))

    assert list(transform(f).init(0, 1.0)) == ["~/Child_0/w", "~/Child_0/b"]


def test_subclass_can_turn_method_scopes_back_on():
    class Base(Module, method_scopes=False):
        def __call__(self, x):
            return x * get_param("w", (), init=ones)

    class Child(Base, method_scopes=True):
        pass

    assert list(transform(lambda x: Child()(x)).init(0, 1.0)) == ["~/Child_0/__call__/w"]


def test_default_names_are_unchanged_for_nested_modules():
    class MLP(Module):
        def __call__(self, x):
            x = Scale()(x)
            return Scale()(x)

    def f(x):
        return MLP()(MLP(name="top")(x))

    assert list(transform(f).init(0, 1.0)) == [
        "~/top/__call__/Scale_0/__call__/w",
        "~/top/__call__/Scale_1/__call__/w",
        "~/MLP_0/__call__/Scale_0/__call__/w",
        "~/MLP_0/__call__/Scale_1/__call__/w",
    ]


# --- dataclass modules ------------------------------------------------------------


@dataclasses.dataclass
class Block(Module):
    width: int
    name: str | None = None

    def __call__(self, x):
        return x * get_param("w", (self.width,), init=ones)


def test_dataclass_module_needs_no_post_init_and_takes_auto_names():
    def f(x):
        return Block(2)(x), Block(3)(x), Block(2, name="named")(x)

    params = transform(f).init(0, 1.0)
    assert {k: v.shape for k, v in params.items()} == {
        "~/Block_0/__call__/w": (2,),
        "~/Block_1/__call__/w": (3,),
        "~/named/__call__/w": (2,),
    }


def test_dataclass_module_name_property_is_the_unique_name():
    def f():
        b = Block(2)
        return b.name, b.module_path, Block(1, name="x").name

    # plain python values come back from init's function via a closure
    out = []
    transform(lambda: out.append(f())).init(0)
    assert out == [("Block_0", "~/Block_0", "x")]


def test_dataclass_module_name_matches_dm_haiku_unique_name():
    hk = pytest.importorskip("haiku")

    @dataclasses.dataclass
    class HkBlock(hk.Module):
        width: int
        name: str | None = None

    seen = []
    hk.transform(lambda: seen.append((HkBlock(2).name, HkBlock(1, name="x").name))).init(
        jax.random.PRNGKey(0)
    )
    # dm-haiku: `.name` of a dataclass module is its unique name, never None.
    assert seen == [("hk_block", "x")]


def test_dataclass_user_post_init_nests_submodules_under_the_module():
    @dataclasses.dataclass
    class Outer(Module):
        width: int
        name: str | None = None

        def __post_init__(self):
            self.inner = Scale()

        def __call__(self, x):
            return self.inner(x)

    assert list(transform(lambda x: Outer(2)(x)).init(0, 1.0)) == ["~/Outer_0/Scale_0/__call__/w"]


def test_frozen_dataclass_module_works():
    @dataclasses.dataclass(frozen=True)
    class Frozen(Module):
        width: int
        name: str | None = None

        def __call__(self, x):
            return x * get_param("w", (self.width,), init=ones)

    def f(x):
        return Frozen(2)(x) + Frozen(2, name="z")(x)

    t = transform(f)
    params = t.init(0, 1.0)
    assert list(params) == ["~/Frozen_0/__call__/w", "~/z/__call__/w"]
    np.testing.assert_array_equal(t.apply(params, 1.0), [2.0, 2.0])


def test_constructing_a_dataclass_module_outside_transform_raises():
    with pytest.raises(
        NotInTransformError,
        match=r"^constructing Block must be called inside a function transformed with "
        r"minihaiku\.core\.transform",
    ):
        Block(2)


# --- more method-scope rules ----------------------------------------------------------


def test_super_call_reenters_the_same_method_scope():
    class Base(Module):
        def __call__(self, x):
            return x * get_param("w", (), init=ones)

    class Child(Base):
        def __call__(self, x):
            return super().__call__(x) + get_param("b", (), init=ones)

    assert list(transform(lambda x: Child()(x)).init(0, 1.0)) == [
        "~/Child_0/__call__/w",
        "~/Child_0/__call__/b",
    ]


def test_a_method_called_by_another_method_gets_its_own_scope_without_repeating_the_module():
    class Two(Module):
        def helper(self, x):
            return x * get_param("h", (), init=ones)

        def __call__(self, x):
            return self.helper(x) * get_param("w", (), init=ones)

    assert list(transform(lambda x: Two()(x)).init(0, 1.0)) == [
        "~/Two_0/helper/h",
        "~/Two_0/__call__/w",
    ]


def test_method_scopes_false_property_calling_a_method_stays_at_module_level():
    class Q(Module, method_scopes=False):
        @property
        def prop(self):
            return self.weight()

        def weight(self):
            return get_param("w", (), init=ones)

    assert list(transform(lambda: Q().prop).init(0)) == ["~/Q_0/w"]


def test_method_scopes_false_submodules_of_two_methods_do_not_share_params():
    class R(Module, method_scopes=False):
        def a(self, x):
            return Scale()(x)

        def b(self, x):
            return Scale()(x)

    def f(x):
        r = R()
        return r.a(x), r.b(x), r.a(x)

    assert len(transform(f).init(0, 1.0)) == 2


def test_dataclass_module_with_a_required_name_field():
    @dataclasses.dataclass
    class Req(Module):
        width: int
        name: str

        def __call__(self):
            return get_param("w", (self.width,), init=ones)

    assert list(transform(lambda: Req(2, "x")()).init(0)) == ["~/x/__call__/w"]


def test_dataclass_module_subclass_and_super_call():
    @dataclasses.dataclass
    class Deep(Block):
        depth: int = 2

        def __call__(self, x):
            return super().__call__(x) * self.depth

    t = transform(lambda x: (Deep(2)(x), Deep(3, name="q", depth=3)(x)))
    params = t.init(0, 1.0)
    assert list(params) == ["~/Deep_0/__call__/w", "~/q/__call__/w"]
    a, b = t.apply(params, 1.0)
    np.testing.assert_array_equal(a, [2.0, 2.0])
    np.testing.assert_array_equal(b, [3.0, 3.0, 3.0])


def test_dataclass_modules_with_the_same_given_name_raise_duplicate_name():
    from minihaiku.core import DuplicateNameError

    with pytest.raises(
        DuplicateNameError,
        match=r"^a module named 'x' already exists in scope '~' \(constructing Block\)\. "
        r"Give each module in one scope its own name",
    ):
        transform(lambda: (Block(2, name="x"), Block(2, name="x"))).init(0)
