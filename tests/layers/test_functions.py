"""expand_apply, one_hot, multinomial, get_channel_index and pad.create, as dm-haiku's."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku import layers
from minihaiku.core import InvalidArgumentError, NotCallableError

hk = pytest.importorskip("haiku")


@pytest.mark.parametrize("axis", [0, -1])
def test_expand_apply_matches_dm_haiku(axis):
    def f(a, b):
        return {"sum": a + b.sum(), "shape": jnp.zeros(a.shape)}

    a, b = jnp.arange(6.0).reshape(2, 3), jnp.ones(4)
    ours = layers.expand_apply(f, axis)(a, b=b)
    theirs = hk.expand_apply(f, axis)(a, b=b)
    assert jax.tree_util.tree_map(jnp.shape, ours) == jax.tree_util.tree_map(jnp.shape, theirs)
    np.testing.assert_array_equal(ours["sum"], theirs["sum"])


def test_expand_apply_errors():
    with pytest.raises(InvalidArgumentError, match="expand_apply: axis must be 0 or -1"):
        layers.expand_apply(lambda x: x, axis=1)
    with pytest.raises(NotCallableError, match="expand_apply"):
        layers.expand_apply(3)


def test_one_hot_matches_dm_haiku():
    x = jnp.array([[0, 2], [3, 1]])
    for dtype in (jnp.float32, jnp.int32):
        ours, theirs = layers.one_hot(x, 3, dtype), hk.one_hot(x, 3, dtype)
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("shape", [(5,), (2, 5), (2, 3, 5)])
def test_multinomial_draws_dm_haikus_samples(shape):
    key = jax.random.key(3)
    logits = jax.random.normal(jax.random.key(4), shape)
    ours, theirs = layers.multinomial(key, logits, 4), hk.multinomial(key, logits, 4)
    assert ours.shape == (*shape[:-1], 4)
    np.testing.assert_array_equal(ours, theirs)


def test_multinomial_error():
    with pytest.raises(InvalidArgumentError, match="num_samples"):
        layers.multinomial(jax.random.key(0), jnp.zeros(3), 0)


def test_get_channel_index_matches_dm_haiku():
    for fmt in ("NCHW", "NHWC", "NCW", "NDHWC", "channels_first", "channels_last", "BTHWD"):
        assert layers.get_channel_index(fmt) == hk.get_channel_index(fmt)
    with pytest.raises(InvalidArgumentError, match="get_channel_index: unknown data_format"):
        layers.get_channel_index("HWNC")


def test_pad_create_is_create_from_padfn():
    assert layers.pad.create is layers.pad.create_from_padfn
    assert list(layers.pad.create(layers.pad.causal, 3, 2, 2)) == list(
        hk.pad.create(hk.pad.causal, 3, 2, 2)
    )
