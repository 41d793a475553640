"""Bias: parameter shapes and outputs as dm-haiku's, multiplier, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku import layers
from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError, transform

hk = pytest.importorskip("haiku")

X = jax.random.normal(jax.random.key(0), (2, 3, 4, 5))


@pytest.mark.parametrize(
    ("kwargs", "shape"),
    [
        ({}, (3, 4, 5)),
        ({"bias_dims": [-1]}, (5,)),
        ({"bias_dims": [1]}, (3, 1, 1)),
        ({"bias_dims": [1, 3]}, (3, 1, 5)),
        ({"bias_dims": [-2]}, (4, 1)),
        ({"bias_dims": []}, ()),
        ({"output_size": (3, 4, 5), "bias_dims": [2]}, (4, 1)),
    ],
)
def test_shapes_and_outputs_match_dm_haiku(kwargs, shape):
    init = hk.initializers.RandomNormal()
    hk_f = hk.transform(lambda x: hk.Bias(b_init=init, **kwargs)(x, multiplier=0.5))
    hk_params = hk_f.init(jax.random.key(1), X)
    b = hk_params["bias"]["b"]
    assert b.shape == shape
    f = transform(lambda x: layers.Bias(**kwargs)(x, multiplier=0.5))
    assert {k: v.shape for k, v in f.init(0, X).items()} == {"~/Bias_0/__call__/b": shape}
    out = f.apply({"~/Bias_0/__call__/b": b}, X)
    np.testing.assert_allclose(out, hk_f.apply(hk_params, None, X), rtol=1e-6)
    np.testing.assert_allclose(out, X + 0.5 * b, rtol=1e-6)


def test_default_b_init_is_zeros_in_the_input_dtype():
    x = X.astype(jnp.bfloat16)
    f = transform(lambda x: layers.Bias()(x))
    params = f.init(0, x)
    assert params["~/Bias_0/__call__/b"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(params["~/Bias_0/__call__/b"], 0)


def test_errors():
    def init(**kwargs):
        return transform(lambda x: layers.Bias(**kwargs)(x)).init(0, X)

    with pytest.raises(InvalidArgumentError, match=r"across the minibatch dimension \(axis 0"):
        init(bias_dims=[0])
    with pytest.raises(InvalidArgumentError, match=r"input's shape must be \(-1, 5\)"):
        init(output_size=[5])
    with pytest.raises(InvalidArgumentError, match="bias_dims"):
        init(bias_dims=[4])
    with pytest.raises(InvalidArgumentTypeError, match="bias_dims must be a sequence of ints"):
        init(bias_dims=-1)
    with pytest.raises(InvalidArgumentError, match="rank >= 2"):
        transform(lambda x: layers.Bias()(x)).init(0, jnp.ones(3))
    with pytest.raises(ValueError):  # dm-haiku raises ValueError here too
        hk.transform(lambda x: hk.Bias(bias_dims=[0])(x)).init(jax.random.key(0), X)
    with pytest.raises(ValueError):
        init(bias_dims=[0])
