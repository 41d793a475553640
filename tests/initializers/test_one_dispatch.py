"""normal, zeros, ones and variance_scaling in one dispatch each: the eager jax code's values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core._keys import Keys, path_salt
from minihaiku.initializers import normal, ones, variance_scaling, zeros


def _keys():
    typed = jax.random.key(3)
    raw = jax.random.PRNGKey(3)
    host = Keys(raw).param_key(path_salt("~/linear/w"))  # a path key made on the host
    assert isinstance(host, np.ndarray)
    return {"typed": typed, "raw": raw, "host": host}


@pytest.mark.parametrize("kind", ["typed", "raw", "host"])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16, jnp.complex64])
@pytest.mark.parametrize(("stddev", "mean"), [(1.0, 0.0), (0.02, 0.5), (3.0, -1.0)])
def test_normal_equals_the_eager_draw(kind, dtype, stddev, mean):
    key = _keys()[kind]
    got = normal(stddev, mean)(key, (5, 7), dtype)
    want = jax.random.normal(key, (5, 7), dtype)
    if stddev != 1.0:
        want = stddev * want
    if mean != 0.0:
        want = want + mean
    assert got.dtype == jnp.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want.astype(dtype)))


@pytest.mark.parametrize(("make", "fill"), [(zeros, 0), (ones, 1)])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.int32, jnp.bfloat16, jnp.bool_, "float16"])
def test_zeros_and_ones_are_fresh_arrays_of_the_value(make, fill, dtype):
    a = make()(None, (2, 3), dtype)
    b = make()(None, [2, 3], dtype)  # a list shape hits the same cached program
    assert a.shape == (2, 3)
    assert a.dtype == jnp.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(a), np.full((2, 3), fill, jnp.dtype(dtype)))
    assert a is not b
    assert a.unsafe_buffer_pointer() != b.unsafe_buffer_pointer()  # donating both is safe


@pytest.mark.parametrize(("make", "eager"), [(zeros, jnp.zeros), (ones, jnp.ones)])
def test_zeros_and_ones_without_a_dtype_are_jnp_s(make, eager):
    got, want = make()(None, (3,), None), eager((3,), None)
    assert got.dtype == want.dtype == jnp.float32
    assert got.weak_type == want.weak_type


def test_a_bad_dtype_or_shape_is_reported_as_before():
    for make in (zeros, ones):
        with pytest.raises(TypeError, match="not-a-dtype"):
            make()(None, (2,), "not-a-dtype")
        with pytest.raises(TypeError, match="Shapes must be 1D sequences of concrete values"):
            make()(None, ([2],), jnp.float32)  # unhashable: the uncached path reports it


@pytest.mark.parametrize("kind", ["typed", "raw", "host"])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize(
    ("scale", "shape", "in_axis", "out_axis"),
    [
        (1.0, (256, 256), -2, -1),
        (2.0, (3, 3, 16, 32), -2, -1),
        (0.1, (7, 5), -2, -1),
        (1.0 / 3.0, (4, 6, 10), 0, 2),
        (1e-4, (2, 3, 5, 7), -1, 0),
    ],
)
def test_variance_scaling_truncated_normal_equals_jax_nn(
    kind, mode, scale, shape, in_axis, out_axis
):
    key = _keys()[kind]
    got = variance_scaling(scale, mode, "truncated_normal", in_axis, out_axis)(
        key, shape, jnp.float32
    )
    want = jax.nn.initializers.variance_scaling(
        scale, mode, "truncated_normal", in_axis=in_axis, out_axis=out_axis
    )(key, shape, jnp.float32)
    assert got.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
