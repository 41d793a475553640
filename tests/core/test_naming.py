"""Module naming, scopes, paths and weight tying."""

import jax
import jax.numpy as jnp
import pytest

from minihaiku.core import (
    DuplicateNameError,
    InvalidNameError,
    Module,
    ModuleConstructionError,
    NotInTransformError,
    get_param,
    module_method,
    transform,
)

ones = jax.nn.initializers.ones
x3 = jnp.ones((2, 3))


class Dense(Module):
    def __init__(self, width, name=None):
        super().__init__(name=name)
        self.width = width

    def __call__(self, x):
        w = get_param("w", (x.shape[-1], self.width), init=ones)
        return x @ w


def names(f, *args):
    return sorted(transform(f).init(0, *args))


def test_auto_names_count_per_class_in_one_scope():
    def f(x):
        Dense(2)(x)
        Dense(2)(x)

        class Other(Dense):
            pass

        Other(2)(x)

    assert names(f, x3) == [
        "~/Dense_0/__call__/w",
        "~/Dense_1/__call__/w",
        "~/Other_0/__call__/w",
    ]


def test_counters_are_per_enclosing_scope():
    class Block(Module):
        def __call__(self, x):
            return Dense(3)(Dense(3)(x))

    def f(x):
        return Block()(Block()(x))

    assert names(f, x3) == [
        "~/Block_0/__call__/Dense_0/__call__/w",
        "~/Block_0/__call__/Dense_1/__call__/w",
        "~/Block_1/__call__/Dense_0/__call__/w",
        "~/Block_1/__call__/Dense_1/__call__/w",
    ]


def test_explicit_names_and_auto_names_skip_taken_ones():
    def f(x):
        Dense(2, name="Dense_0")(x)
        Dense(2)(x)
        Dense(2, name="head")(x)

    assert names(f, x3) == [
        "~/Dense_0/__call__/w",
        "~/Dense_1/__call__/w",
        "~/head/__call__/w",
    ]


def test_duplicate_explicit_name_in_one_scope_is_an_error():
    def f(x):
        Dense(2, name="enc")(x)
        Dense(2, name="enc")(x)

    with pytest.raises(DuplicateNameError) as e:
        transform(f).init(0, x3)
    assert str(e.value) == (
        "a module named 'enc' already exists in scope '~' (constructing Dense). "
        "Give each module in one scope its own name, or call the existing "
        "instance again to share its parameters."
    )
    assert isinstance(e.value, ValueError)


def test_same_explicit_name_in_different_scopes_is_fine():
    class Block(Module):
        def __call__(self, x):
            return Dense(3, name="proj")(x)

    assert names(lambda x: Block()(Block()(x)), x3) == [
        "~/Block_0/__call__/proj/__call__/w",
        "~/Block_1/__call__/proj/__call__/w",
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "a/b",
            "module name 'a/b' contains '/' (in ~). Names are one path component: use a "
            "non-empty name without '/', such as 'w' or 'encoder'; nest modules to build "
            "longer paths.",
        ),
        (
            "",
            "module name '' empty (in ~). Names are one path component: use a non-empty "
            "name without '/', such as 'w' or 'encoder'; nest modules to build longer paths.",
        ),
        (3, "module name must be a string, got int 3 (in ~). Pass a name such as 'w'."),
    ],
)
def test_invalid_module_names(name, message):
    with pytest.raises(InvalidNameError) as e:
        transform(lambda x: Dense(2, name=name)(x)).init(0, x3)
    assert str(e.value) == message


@pytest.mark.parametrize("name", ["a/b", "", None, 1.5])
def test_invalid_parameter_names(name):
    class Bad(Module):
        def __call__(self):
            return get_param(name, ())

    with pytest.raises(InvalidNameError, match=r"\(in ~/Bad_0/__call__\)"):
        transform(lambda: Bad()()).init(0)


def test_tying_the_same_instance_called_from_two_parents_shares_params():
    class Parent(Module):
        def __init__(self, shared, name=None):
            super().__init__(name=name)
            self.shared = shared

        def __call__(self, x):
            return self.shared(x) + Dense(3)(x)

    def f(x):
        shared = Dense(3, name="tied")
        a = Parent(shared, name="a")(x)
        b = Parent(shared, name="b")(x)
        return a, b

    params = transform(f).init(0, x3)
    assert sorted(params) == [
        "~/a/__call__/Dense_0/__call__/w",
        "~/b/__call__/Dense_0/__call__/w",
        "~/tied/__call__/w",
    ]
    # apply reads the tied weight once for both parents.
    new = dict(params, **{"~/tied/__call__/w": jnp.full((3, 3), 2.0)})
    a, b = transform(f).apply(new, x3)
    assert float(a[0, 0]) == float(b[0, 0]) == 3 * 2.0 + 3 * 1.0


def test_calling_a_module_twice_reuses_submodules_created_in_call():
    class Net(Module):
        def __call__(self, x):
            return Dense(3)(x)

    def f(x):
        net = Net()
        return net(net(x))

    assert names(f, x3) == ["~/Net_0/__call__/Dense_0/__call__/w"]


def test_method_calling_method_does_not_repeat_the_module():
    class Two(Module):
        def __call__(self, x):
            return self.helper(x) * get_param("s", (), init=ones)

        def helper(self, x):
            return x * get_param("h", (), init=ones)

        def _private(self, x):
            return x * get_param("p", (), init=ones)

        def encode(self, x):
            return self._private(x)

    def f(x):
        t = Two()
        return t(x) + t.encode(x) + t.helper(x)

    assert names(f, x3) == [
        "~/Two_0/__call__/s",
        "~/Two_0/_private/p",
        "~/Two_0/helper/h",
    ]


def test_super_call_stays_in_the_same_scope():
    class Base(Module):
        def __call__(self, x):
            return Dense(3)(x)

    class Child(Base):
        def __call__(self, x):
            return super().__call__(Dense(3)(x))

    assert names(lambda x: Child()(x), x3) == [
        "~/Child_0/__call__/Dense_0/__call__/w",
        "~/Child_0/__call__/Dense_1/__call__/w",
    ]


def test_submodules_built_in_init_nest_under_the_module():
    class Model(Module):
        def __init__(self, name=None):
            super().__init__(name=name)
            self.enc = Dense(3)
            self.dec = Dense(3)

        def __call__(self, x):
            return self.dec(self.enc(x))

    class Outer(Module):
        def __call__(self, x):
            return Model()(x)

    assert names(lambda x: Outer()(x) + Dense(3)(x), x3) == [
        "~/Dense_0/__call__/w",
        "~/Outer_0/__call__/Model_0/Dense_0/__call__/w",
        "~/Outer_0/__call__/Model_0/Dense_1/__call__/w",
    ]


def test_module_method_is_idempotent_and_optional():
    def method(self, x):
        return x * get_param("k", (), init=ones)

    once = module_method(method)
    assert module_method(once) is once

    class A(Module):
        __call__ = module_method(module_method(method))

    class B(Module):
        __call__ = method

    assert names(lambda x: A()(x) + B()(x), x3) == ["~/A_0/method/k", "~/B_0/__call__/k"]


def test_name_and_module_path_properties():
    seen = {}

    def f(x):
        d = Dense(2, name="d")
        seen["name"], seen["path"], seen["repr"] = d.name, d.module_path, repr(d)
        return d(x)

    transform(f).init(0, x3)
    assert seen == {"name": "d", "path": "~/d", "repr": "Dense(~/d)"}


def test_skipping_super_init_is_an_error_at_construction():
    class Forgot(Module):
        def __init__(self, width):
            self.width = width

        def __call__(self, x):
            return x

    with pytest.raises(ModuleConstructionError) as e:
        transform(lambda x: Forgot(2)(x)).init(0, x3)
    assert str(e.value) == (
        "test_skipping_super_init_is_an_error_at_construction.<locals>.Forgot.__init__ "
        "did not call super().__init__(). Call super().__init__(name=name) first thing "
        "in __init__ so that the module gets its name and scope."
    )
    assert isinstance(e.value, TypeError)


def test_constructing_a_module_outside_transform_is_an_error():
    with pytest.raises(NotInTransformError) as e:
        Dense(2)
    assert str(e.value).startswith(
        "constructing Dense must be called inside a function transformed with "
        "minihaiku.core.transform"
    )
    assert isinstance(e.value, RuntimeError)


def test_calling_an_escaped_module_outside_transform_is_an_error():
    box = []
    transform(lambda x: box.append(Dense(2)) or box[0](x)).init(0, x3)
    with pytest.raises(NotInTransformError) as e:
        box[0](x3)
    assert str(e.value) == (
        "Dense.__call__ was called outside a transformed function. Modules are used "
        "inside the function given to minihaiku.core.transform, while its init or "
        "apply runs."
    )


def test_properties_staticmethods_and_classmethods_are_not_wrapped():
    class M(Module):
        @property
        def size(self):
            return 3

        @staticmethod
        def double(v):
            return 2 * v

        @classmethod
        def make(cls):
            return cls()

    out = {}

    def f():
        m = M.make()
        out["v"] = (m.size, M.double(2), m.name)

    transform(f).init(0)
    assert out["v"] == (3, 4, "M_0")
