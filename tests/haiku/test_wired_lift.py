"""lift, transparent_lift, their _with_state forms and layer_stack, against dm-haiku.

Tree structure, module names, shapes, initial values bit for bit for the same key,
outputs and new state (``run_both``), and keys drawn inside the layers.
"""

import jax
import jax.numpy as jnp
import pytest

import minihaiku.haiku as mhk
from minihaiku.core import InvalidArgumentError

from ._compare import run_both

haiku = pytest.importorskip("haiku")

X = jax.random.normal(jax.random.PRNGKey(1), (2, 3))


def _inner(hk):
    return hk.transform(lambda x: hk.nets.MLP([4, 2])(x))


def _inner_with_state(hk):
    return hk.transform_with_state(lambda x: hk.BatchNorm(True, True, 0.9)(x, is_training=True))


def _lift(hk, x):
    inner = _inner(hk)

    class Outer(hk.Module):
        def __call__(self, x):
            params = hk.lift(inner.init, name="inner")(hk.next_rng_key(), x)
            return inner.apply(params, None, x)

    params = hk.lift(inner.init)(hk.next_rng_key(), x)
    return inner.apply(params, None, x) + Outer()(x) + hk.Linear(2)(x), hk.next_rng_key()


def _lift_twice(hk, x):
    inner = _inner(hk)
    a = hk.lift(inner.init)(hk.next_rng_key(), x)
    b = hk.lift(inner.init)(hk.next_rng_key(), x)
    return inner.apply(a, None, x) - inner.apply(b, None, x)


def _transparent_lift(hk, x):
    inner = _inner(hk)
    return inner.apply(hk.transparent_lift(inner.init)(hk.next_rng_key(), x), None, x)


def _transparent_lift_in_module(hk, x):
    inner = _inner(hk)

    class M(hk.Module):
        def __call__(self, x):
            return inner.apply(hk.transparent_lift(inner.init)(hk.next_rng_key(), x), None, x)

    return M()(x)


def _lift_with_state(hk, x):
    inner = _inner_with_state(hk)
    init, updater = hk.lift_with_state(inner.init, name="bn")
    params, state = init(hk.next_rng_key(), x)
    y, state = inner.apply(params, state, None, x)
    updater.update(state)
    return y


def _transparent_lift_with_state(hk, x):
    inner = _inner_with_state(hk)
    init, updater = hk.transparent_lift_with_state(inner.init)
    params, state = init(hk.next_rng_key(), x)
    y, state = inner.apply(params, state, None, x)
    updater.update(state)
    return y


def _experimental_lift(hk, x):
    inner = _inner(hk)
    return inner.apply(hk.experimental.lift(inner.init)(hk.next_rng_key(), x), None, x)


def _stack(hk, x):
    def layer(h):
        return hk.Linear(3)(h) + jax.random.normal(hk.next_rng_key(), (3,))

    return hk.layer_stack(4)(layer)(x), hk.next_rng_key(), hk.Linear(2, name="after")(x)


def _stack_named_per_layer(hk, x):
    def layer(h, y):
        return hk.Linear(3)(h) * y, h.sum()

    return hk.layer_stack(3, with_per_layer_inputs=True, name="stack")(layer)(x, jnp.arange(3.0))


def _stack_two_args(hk, x):
    return hk.layer_stack(2)(lambda h, g: (hk.Linear(3)(h), g * 2))(x, x)


def _stack_reverse(hk, x):
    def layer(h, reverse=False):
        return hk.nets.MLP([4, 3])(h) * (2.0 if reverse else 1.0)

    stack = hk.layer_stack(3, pass_reverse_to_layer_fn=True, unroll=2)
    return stack(layer)(x, reverse=True)


def _stack_in_module(hk, x):
    class M(hk.Module):
        def __call__(self, x):
            return hk.layer_stack(2)(lambda h: hk.Linear(3)(h))(x)

    return M()(x) + M()(x)


def _stack_with_state(hk, x):
    return hk.layer_stack(2)(lambda h: hk.BatchNorm(True, True, 0.9)(h, is_training=True))(x)


class ByIndex:
    """A transparency map: layer i's ``linear`` is ``linear_i``."""

    def stacked_to_flat(self, stacked_module_name, scan_idx):
        return stacked_module_name.replace("linear", f"linear_{scan_idx}")

    def flat_to_stacked(self, unstacked_module_name):
        base, _, i = unstacked_module_name.rpartition("_")
        return (base, int(i)) if base.endswith("linear") else None


def _stack_transparent(hk, x):
    stack = hk.layer_stack(2, transparent=True, transparency_map=ByIndex())
    return stack(lambda h: hk.Linear(3)(h))(x)


def _stack_experimental(hk, x):
    return hk.experimental.layer_stack(2)(lambda h: hk.Linear(3)(h))(x)


PROGRAMS = {
    "lift": _lift,
    "lift_twice": _lift_twice,
    "transparent_lift": _transparent_lift,
    "transparent_lift_in_module": _transparent_lift_in_module,
    "lift_with_state": _lift_with_state,
    "transparent_lift_with_state": _transparent_lift_with_state,
    "experimental_lift": _experimental_lift,
    "layer_stack": _stack,
    "layer_stack_named_per_layer": _stack_named_per_layer,
    "layer_stack_two_args": _stack_two_args,
    "layer_stack_reverse": _stack_reverse,
    "layer_stack_in_module": _stack_in_module,
    "layer_stack_with_state": _stack_with_state,
    "layer_stack_transparent": _stack_transparent,
    "layer_stack_experimental": _stack_experimental,
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_matches_dm_haiku(name):
    run_both(haiku, mhk, PROGRAMS[name], X)


def test_names_are_dm_haikus():
    params = run_both(haiku, mhk, _lift, X)[0]
    assert sorted(params) == [
        "lifted/mlp/~/linear_0",
        "lifted/mlp/~/linear_1",
        "linear",
        "outer/inner/mlp/~/linear_0",
        "outer/inner/mlp/~/linear_1",
    ]
    params = run_both(haiku, mhk, _stack_in_module, X)[0]
    assert sorted(params) == [
        "m/__layer_stack_no_per_layer/linear",
        "m_1/__layer_stack_no_per_layer/linear",
    ]
    assert params["m/__layer_stack_no_per_layer/linear"]["w"].shape == (2, 3, 3)


def test_transparent_without_a_map_is_a_value_error_in_both(hk):
    with pytest.raises(ValueError):
        hk.layer_stack(2, transparent=True)


def test_transparent_without_a_map_says_what_to_do():
    with pytest.raises(InvalidArgumentError) as e:
        mhk.layer_stack(2, transparent=True)
    assert str(e.value) == (
        "layer_stack(transparent=True) needs a transparency_map: it says which module "
        "name each layer's copy of a module gets. Pass transparency_map=<a "
        "LayerStackTransparencyMapping>, or transparent=False."
    )


def test_a_layer_with_varargs_is_refused_without_per_layer_inputs():
    with pytest.raises(InvalidArgumentError, match="takes \\*args"):
        mhk.layer_stack(2)(lambda *hs: hs)


@pytest.mark.parametrize("n", [0, -1])
def test_num_layers_must_be_positive(n):
    with pytest.raises(InvalidArgumentError, match=f"num_layers must be >= 1, got {n}"):
        mhk.layer_stack(n)


def test_a_per_layer_input_without_the_layer_axis_is_refused():
    f = mhk.transform(
        lambda x: mhk.layer_stack(3, with_per_layer_inputs=True)(lambda h, y: (h, y))(x, x)
    )
    with pytest.raises(InvalidArgumentError, match="leading axis of size 3"):
        f.init(jax.random.PRNGKey(0), X)


def test_lifting_a_flat_init_under_the_haiku_scheme_says_what_it_expects():
    import minihaiku.core as core

    flat = core.transform(lambda: core.get_param("w", (), init="ones"))

    def f():
        return mhk.lift(flat.init)(mhk.next_rng_key())

    with pytest.raises(core.InvalidParamsError) as e:
        mhk.transform(f).init(jax.random.PRNGKey(0))
    message = str(e.value)
    assert message.startswith("lift: the lifted init returned a ")
    assert message.endswith(
        ", not a mapping, for '~/w'; under the haiku scheme lift expects the nested "
        "{module_name: {name: array}} mapping a minihaiku.haiku init returns. Lift the "
        "init of minihaiku.haiku.transform(f)."
    )


class _SameName:
    def stacked_to_flat(self, stacked_module_name, scan_idx):
        return stacked_module_name

    def flat_to_stacked(self, unstacked_module_name):
        return (unstacked_module_name, 0)


def test_a_transparency_map_giving_two_layers_one_name_is_refused():
    stack = mhk.layer_stack(2, transparent=True, transparency_map=_SameName())
    f = mhk.transform(lambda x: stack(lambda h: mhk.Linear(3)(h))(x))
    with pytest.raises(InvalidArgumentError) as e:
        f.init(jax.random.PRNGKey(0), X)
    assert str(e.value) == (
        "layer_stack: the transparency_map gives layer 1 of 'linear' the name 'linear', "
        "which another module of the stack has already. Make stacked_to_flat return a "
        "different name for each module and index."
    )
