"""truncated_normal draws with jax.random directly: the same bits as through jax.nn's."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.initializers import truncated_normal


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16, jnp.complex64])
@pytest.mark.parametrize(("stddev", "mean"), [(1.0, 0.0), (0.02, 0.5), (3.0, -1.0)])
def test_values_equal_jax_nn_truncated_normal_scaled(dtype, stddev, mean):
    key = jax.random.PRNGKey(7)
    got = truncated_normal(stddev, mean)(key, (5, 7), dtype)
    unit = jax.nn.initializers.truncated_normal(1.0)
    if jnp.issubdtype(dtype, jnp.complexfloating):
        z = unit(key, (2, 5, 7), jnp.float32)
        want = (mean + stddev * jax.lax.complex(z[0], z[1])).astype(dtype)
    else:
        want = (mean + stddev * unit(key, (5, 7), dtype)).astype(dtype)
    assert got.dtype == jnp.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
