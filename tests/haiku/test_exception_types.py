"""The same failures: each misuse raises, in minihaiku.haiku, an instance of dm-haiku's type.

Every misuse runs once with dm-haiku and once with minihaiku.haiku; minihaiku's
exception must be an instance of the exception class dm-haiku raised, or (where
dm-haiku raises its own class) of the built-in type that class derives from.
"""

import jax
import jax.numpy as jnp
import pytest

import minihaiku.haiku as mhk
from minihaiku.core import (
    MinihaikuError,
    MissingParameterError,
    NotInTransformError,
    StateNotAllowedError,
    UnliftedTransformError,
)

haiku = pytest.importorskip("haiku")

K = jax.random.PRNGKey(0)
X = jnp.ones((1, 3))


def _init(hk, f, *args):
    return hk.transform(f).init(K, *args)


def _apply_wrong_shape(hk):
    f = hk.transform(lambda x: hk.Linear(2)(x))
    params = f.init(K, X)
    params = {"linear": {"w": jnp.ones((4, 2)), "b": params["linear"]["b"]}}
    return f.apply(params, None, X)


def _shape_mismatch(hk):
    hk.get_parameter("w", [2], init=jnp.zeros)
    hk.get_parameter("w", [3], init=jnp.zeros)


def _missing_state(hk):
    # (with an init, dm-haiku creates the entry in apply; minihaiku refuses: docs/haiku.md)
    f = hk.transform_with_state(lambda: hk.get_state("s", [1]))
    return f.apply({}, {}, None)


#: name -> misuse(hk). Each raises in both libraries.
MISUSES = {
    "get_parameter outside transform": lambda hk: hk.get_parameter("w", [1], init=jnp.zeros),
    "get_state outside transform": lambda hk: hk.get_state("s", [1], init=jnp.zeros),
    "set_state outside transform": lambda hk: hk.set_state("s", 1),
    "next_rng_key outside transform": lambda hk: hk.next_rng_key(),
    "reserve_rng_keys outside transform": lambda hk: hk.reserve_rng_keys(2),
    "module built outside transform": lambda hk: hk.Linear(2),
    "lifted vmap outside transform": lambda hk: hk.vmap(lambda x: x, split_rng=False)(X),
    "get_params outside transform": lambda hk: hk.get_params(),
    "with_rng outside transform": lambda hk: hk.with_rng(K).__enter__(),
    "name_scope outside transform": lambda hk: hk.name_scope("a").__enter__(),
    "custom_creator outside transform": lambda hk: hk.custom_creator(lambda n, *a: n).__enter__(),
    "next_rng_key, apply without rng": lambda hk: hk.transform(hk.next_rng_key).apply({}, None),
    "next_rng_key, init with rng=None": lambda hk: hk.transform(hk.next_rng_key).init(None),
    "random initializer, rng=None": lambda hk: hk.transform(lambda x: hk.Linear(2)(x)).init(
        None, X
    ),
    "init with a string key": lambda hk: hk.transform(lambda x: hk.Linear(2)(x)).init("k", X),
    "PRNGSequence of a string": lambda hk: hk.PRNGSequence("x"),
    "get_parameter twice, other shape": lambda hk: _init(hk, lambda: _shape_mismatch(hk)),
    "get_parameter without init": lambda hk: _init(hk, lambda: hk.get_parameter("w", [2])),
    "apply, param of another shape": _apply_wrong_shape,
    "apply, param missing": lambda hk: hk.transform(lambda x: hk.Linear(2)(x)).apply({}, None, X),
    "apply, state missing": _missing_state,
    "params not a mapping": lambda hk: hk.transform(lambda x: hk.Linear(2)(x)).apply(3, None, X),
    "get_state under transform": lambda hk: _init(
        hk, lambda: hk.get_state("s", [1], init=jnp.zeros)
    ),
    "set_state under transform": lambda hk: _init(hk, lambda: hk.set_state("s", 1.0)),
    "module name not an identifier": lambda hk: _init(hk, lambda: hk.Linear(2, name="a-b")),
    "name_scope with a leading /": lambda hk: _init(hk, lambda: hk.name_scope("/a").__enter__()),
    "VarianceScaling scale < 0": lambda hk: hk.initializers.VarianceScaling(-1.0),
    "VarianceScaling mode": lambda hk: hk.initializers.VarianceScaling(1.0, mode="bad"),
    "VarianceScaling distribution": lambda hk: hk.initializers.VarianceScaling(
        1.0, distribution="bad"
    ),
    "Orthogonal of a vector": lambda hk: _init(
        hk, lambda: hk.get_parameter("w", [3], init=hk.initializers.Orthogonal())
    ),
    "Conv2D on a vector": lambda hk: _init(hk, lambda: hk.Conv2D(2, 3)(jnp.ones((3,)))),
    "Linear on a scalar": lambda hk: _init(hk, lambda: hk.Linear(2)(jnp.ones(()))),
    "BatchNorm without is_training": lambda hk: hk.transform_with_state(
        lambda: hk.BatchNorm(True, True, 0.9)(X)
    ).init(K),
    "dropout rate above 1": lambda hk: _init(hk, lambda: hk.dropout(hk.next_rng_key(), 2.0, X)),
    "MLP dropout without rng": lambda hk: _init(hk, lambda: hk.nets.MLP([2])(X, dropout_rate=0.5)),
    "multi_transform, no pair": lambda hk: hk.multi_transform(lambda: 3).init(K),
    "apply given an rng it takes not": lambda hk: hk.without_apply_rng(
        hk.transform(lambda x: hk.Linear(2)(x))
    ).apply({}, K, X),
}


def _raised(misuse, hk):
    with pytest.raises(Exception) as info:
        misuse(hk)
    return info.value


def _builtin_bases(cls):
    return [b for b in cls.__mro__ if b.__module__ == "builtins" and b not in (object,)]


def test_there_are_enough_misuses():
    assert len(MISUSES) >= 20


@pytest.mark.parametrize("name", list(MISUSES))
def test_minihaikus_exception_is_an_instance_of_dm_haikus(name):
    theirs = _raised(MISUSES[name], haiku)
    ours = _raised(MISUSES[name], mhk)
    want = type(theirs)
    if want.__module__ != "builtins":  # dm-haiku's own class: its nearest built-in base
        want = _builtin_bases(want)[0]
    assert isinstance(ours, want), (name, type(theirs), type(ours), ours)


def test_minihaikus_own_errors_keep_their_old_bases_and_message():
    """The added built-in bases keep old ``except`` clauses working."""
    with pytest.raises(NotInTransformError) as info:
        mhk.get_parameter("w", [1], init=jnp.zeros)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, ValueError)
    assert isinstance(info.value, MinihaikuError)
    assert "get_param must be called inside a function transformed" in str(info.value)
    assert issubclass(MissingParameterError, KeyError) and issubclass(
        MissingParameterError, ValueError
    )
    assert issubclass(StateNotAllowedError, RuntimeError) and issubclass(
        StateNotAllowedError, ValueError
    )
    assert issubclass(UnliftedTransformError, RuntimeError) and issubclass(
        UnliftedTransformError, ValueError
    )


def test_a_missing_param_message_is_not_a_repr():
    """``MissingParameterError`` stays a KeyError whose ``str`` is the message itself."""
    err = _raised(MISUSES["apply, param missing"], mhk)
    assert isinstance(err, MissingParameterError)
    assert str(err).startswith("parameter 'linear/w'") or "'linear" in str(err)
    assert not str(err).startswith('"')


def test_check_jax_usage_errors_are_value_errors_as_dm_haikus():
    def f(xs):
        return jax.vmap(lambda x: mhk.Linear(2)(x))(xs)

    with pytest.raises(ValueError, match="raw JAX transform"):
        mhk.transform(f).init(K, jnp.ones((4, 1, 3)))
