"""Initial values depend only on seed, path, shape, dtype and initializer."""

import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import Module, get_param, keyless, transform


class Dense(Module):
    def __init__(self, width, name=None):
        super().__init__(name=name)
        self.width = width

    def __call__(self, x):
        return x @ get_param("w", (x.shape[-1], self.width))


def test_adding_a_layer_does_not_change_the_others():
    def small(x):
        return Dense(3, name="a")(x)

    def bigger(x):
        extra = Dense(5, name="before")(x)
        return Dense(3, name="a")(x), extra

    key = jax.random.PRNGKey(11)
    x = jnp.ones((1, 2))
    p1 = transform(small).init(key, x)
    p2 = transform(bigger).init(key, x)
    np.testing.assert_array_equal(p1["~/a/__call__/w"], p2["~/a/__call__/w"])


def test_creation_order_does_not_matter():
    def ab():
        return get_param("a", (4,)), get_param("b", (4,))

    def ba():
        return get_param("b", (4,)), get_param("a", (4,))

    p1 = transform(ab).init(5)
    p2 = transform(ba).init(5)
    for k in ("~/a", "~/b"):
        np.testing.assert_array_equal(p1[k], p2[k])
    assert not np.array_equal(p1["~/a"], p1["~/b"])


def test_value_is_the_initializer_at_the_path_key():
    def init(key, shape, dtype):
        return jax.random.uniform(key, shape, dtype)

    params = transform(lambda: get_param("w", (3,), init=init)).init(9)
    key = jax.random.fold_in(jax.random.PRNGKey(9), zlib.crc32(b"~/w"))
    np.testing.assert_array_equal(params["~/w"], jax.random.uniform(key, (3,), jnp.float32))


def test_different_seeds_differ():
    f = transform(lambda: get_param("w", (8,)))
    assert not np.array_equal(f.init(0)["~/w"], f.init(1)["~/w"])


@pytest.mark.parametrize("partitionable", [False, True])
@pytest.mark.parametrize("seed", [0, 7, 2**31 + 3])
def test_host_key_derivation_equals_jax_fold_in(seed, partitionable):
    from minihaiku.core._keys import derive_key, host_key

    with jax.threefry_partitionable(partitionable):
        for key in (jax.random.PRNGKey(seed), jax.random.key(seed)):
            host = host_key(key)
            assert host is not None
            for salt in (0, 1, 12345, zlib.crc32(b"~/MLP_0/__call__/Linear_0/__call__/w")):
                want = jax.random.key_data(jax.random.fold_in(key, salt))
                got = jax.random.key_data(
                    jnp.asarray(derive_key(key, host, salt))
                    if host[2] is None
                    else derive_key(key, host, salt)
                )
                np.testing.assert_array_equal(got, want)


def test_jitted_and_eager_init_agree():
    f = transform(lambda x: Dense(3)(Dense(4)(x)))
    x = jnp.ones((1, 2))
    eager = f.init(jax.random.PRNGKey(5), x)
    jitted = jax.jit(f.init)(jax.random.PRNGKey(5), x)
    typed = f.init(jax.random.key(5), x)
    for k in eager:
        np.testing.assert_array_equal(eager[k], jitted[k])
        np.testing.assert_array_equal(eager[k], typed[k])


def test_keyless_initializers_get_no_key():
    seen = []

    @keyless
    def zeros(key, shape, dtype):
        seen.append(key)
        return jnp.zeros(shape, dtype)

    transform(lambda: get_param("w", (2,), init=zeros)).init(0)
    assert seen == [None]
