"""Bad inputs to core get one clear MinihaikuError naming what and where (issues 9 and 13)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    InitializerError,
    InvalidArgumentTypeError,
    MinihaikuError,
    MissingParameterError,
    Module,
    ParameterShapeError,
    RngError,
    get_param,
    transform,
)

ACCEPTED = (
    "expects a single PRNG key (jax.random.key(0) or jax.random.PRNGKey(0)) or an int "
    "seed in [-2**31, 2**32)"
)


def f():
    return get_param("w", (2,))


@pytest.mark.parametrize("seed", [2**32, 2**66, 2**70, -(2**31) - 1])
def test_a_seed_out_of_range_is_an_rng_error(seed):
    with pytest.raises(RngError) as e:
        transform(f).init(seed)
    assert str(e.value) == (
        f"init {ACCEPTED}, got the int {seed}, which is out of range: JAX keeps only "
        "32 bits of a seed, so it would give the same key as another seed. Reduce it, "
        "e.g. seed % 2**32."
    )


@pytest.mark.parametrize("seed", [0, 2**32 - 1, -(2**31), np.int64(5)])
def test_seeds_in_range_work(seed):
    assert transform(f).init(seed)["~/w"].shape == (2,)


def test_a_batch_of_typed_keys_is_an_rng_error():
    keys = jax.random.split(jax.random.key(0), 4)
    with pytest.raises(RngError) as e:
        transform(f).init(keys)
    assert str(e.value) == (
        f"init {ACCEPTED}, got a batch of 4 keys (shape (4,)). Pass one key, e.g. "
        "keys[0], or map over the keys with jax.vmap."
    )


def test_a_batch_of_raw_keys_is_an_rng_error():
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    with pytest.raises(RngError) as e:
        transform(f, apply_rng=True).apply({}, keys)
    assert str(e.value) == (
        f"apply {ACCEPTED}, got a batch of raw keys (ArrayImpl of shape (3, 2) and "
        "dtype uint32). Pass one key, e.g. keys[0], or map over the keys with jax.vmap."
    )


def test_a_raw_key_of_the_wrong_shape_is_an_rng_error():
    with pytest.raises(RngError) as e:
        transform(f).init(np.zeros(3, np.uint32))
    assert str(e.value) == (
        f"init {ACCEPTED}, got ndarray of shape (3,) and dtype uint32: a raw key of the "
        "default PRNG has shape (2,). Make one with jax.random.PRNGKey(seed)."
    )


def test_a_dtype_that_is_a_list_names_the_parameter():
    with pytest.raises(InvalidArgumentTypeError) as e:
        transform(lambda: get_param("w", (2,), dtype=["float32"])).init(0)
    assert str(e.value) == (
        "dtype for '~/w' is list ['float32'], which is not a dtype; pass a dtype such "
        "as jnp.float32 or 'float32'."
    )


def test_an_initializer_returning_a_shape_dtype_struct():
    def init(key, shape, dtype):
        return jax.ShapeDtypeStruct(shape, dtype)

    with pytest.raises(InitializerError) as e:
        transform(lambda: get_param("w", (2,), init=init)).init(0)
    assert str(e.value).startswith("initializer test_an_initializer_returning_a_shape")
    assert str(e.value).endswith(
        "returned a ShapeDtypeStruct, not an array, for parameter '~/w'. An initializer "
        "must return an array (jax or numpy) of the shape and dtype it is given."
    )


@pytest.mark.parametrize("haiku_style", [jnp.zeros, jnp.ones, lambda shape, dtype: 0])
def test_a_dm_haiku_style_initializer_says_how_to_wrap_it(haiku_style):
    class Layer(Module):
        def __call__(self):
            return get_param("w", (2,), init=haiku_style)

    with pytest.raises(InitializerError) as e:
        transform(lambda: Layer()()).init(0)
    message = str(e.value)
    assert "for parameter '~/Layer_0/__call__/w': TypeError: " in message
    assert message.endswith(
        "minihaiku calls initializers as init(key, shape, dtype). A function of (shape, "
        "dtype) such as jnp.zeros (a dm-haiku habit) must be wrapped: init=lambda key, "
        "shape, dtype: jnp.zeros(shape, dtype); or pass jax.nn.initializers.zeros, or "
        "the name 'zeros'."
    )
    assert isinstance(e.value.__cause__, TypeError)


def test_a_shape_no_device_can_hold_is_refused_before_xla_sees_it():
    class Big(Module):
        def __call__(self):
            return get_param("w", (99999999999, 128))

    with pytest.raises(ParameterShapeError) as e:
        transform(lambda: Big()()).init(0)
    message = str(e.value)
    assert message.startswith(
        "parameter '~/Big_0/__call__/w' of shape (99999999999, 128) and dtype float32 "
        "needs 47,683.7 GiB, more than the device's memory ("
    )
    assert message.endswith(
        "GiB). Check the sizes given to the module that creates it (a size that is far "
        "too large, or a typo)."
    )


def test_apply_with_keys_that_are_not_strings_says_so():
    params = {0: jnp.zeros(2), "~/v": jnp.zeros(2)}
    with pytest.raises(MissingParameterError) as e:
        transform(f).apply(params)
    assert str(e.value) == (
        "parameter '~/w' is not in the parameter given to apply (2 entries). Nearest "
        "existing names: ['~/v']. The mapping also has 1 key(s) that are not path "
        "strings, e.g. 0 (int): keys must be the path strings init returned. apply never "
        "creates parameters: run init with the same function to get a mapping that holds "
        "it, and check that module names and order match."
    )


def test_every_error_core_raises_here_is_a_minihaiku_error():
    for bad in (
        lambda: transform(f).init(2**70),
        lambda: transform(lambda: get_param("w", (2,), dtype=["x"])).init(0),
        lambda: transform(lambda: get_param("w", (2,), init=jnp.zeros)).init(0),
        lambda: transform(f).apply({1: 2}),
    ):
        with pytest.raises(MinihaikuError):
            bad()


def test_a_plugin_registering_a_name_that_is_not_a_string():
    from minihaiku.core import InvalidArgumentTypeError, Registry, hookimpl

    class Plugin:
        @hookimpl
        def minihaiku_register_initializers(self, register):
            register(3, lambda: None)

    with pytest.raises(InvalidArgumentTypeError) as e:
        Registry().register_plugin(Plugin(), name="numbers")
    assert str(e.value) == (
        "plugin 'numbers' registered an initializer under 3; names must be non-empty "
        "strings: call register('my_init', factory)."
    )
