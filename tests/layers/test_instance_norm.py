"""InstanceNorm: parity with dm-haiku (channels last and first), shapes, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku import layers
from minihaiku.core import InvalidArgumentError, Module, Policy, policy_scope, set_policy, transform

hk = pytest.importorskip("haiku")

X = jax.random.normal(jax.random.key(2), (2, 4, 5, 3)) * 3.0 + 1.0


@pytest.mark.parametrize(
    ("kwargs", "x", "param_shape"),
    [
        ({}, X, (3,)),
        ({"data_format": "channels_first"}, X, (1, 4, 1, 1)),
        ({"data_format": "NCHW", "eps": 0.5}, X, (1, 4, 1, 1)),
        ({"data_format": "NWC"}, X[:, 0], (3,)),
    ],
)
def test_matches_dm_haiku(kwargs, x, param_shape):
    hk_f = hk.without_apply_rng(hk.transform(lambda x: hk.InstanceNorm(True, True, **kwargs)(x)))
    hk_params = hk_f.init(jax.random.key(0), x)
    leaves = hk_params["instance_norm"]
    scale = 1.0 + 0.1 * jnp.arange(leaves["scale"].size).reshape(param_shape)
    offset = -0.2 * jnp.arange(leaves["offset"].size).reshape(param_shape)
    hk_params = {"instance_norm": {"scale": scale, "offset": offset}}
    f = transform(lambda x: layers.InstanceNorm(True, True, **kwargs)(x))
    own = f.init(0, x)
    params = {"~/InstanceNorm_0/__call__/scale": scale, "~/InstanceNorm_0/__call__/offset": offset}
    assert {k: v.shape for k, v in own.items()} == {k: param_shape for k in params}
    np.testing.assert_allclose(f.apply(params, x), hk_f.apply(hk_params, x), rtol=1e-5, atol=1e-5)


def test_without_parameters_normalizes_each_example_and_channel():
    f = transform(lambda x: layers.InstanceNorm(False, False)(x))
    out = f.apply(f.init(0, X), X)
    np.testing.assert_allclose(out.mean(axis=(1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.var(axis=(1, 2)), 1.0, atol=1e-3)
    assert f.init(0, X) == {}


def test_scale_and_offset_at_call_time():
    f = transform(lambda x: layers.InstanceNorm(False, False)(x, scale=2.0, offset=1.0))
    g = transform(lambda x: layers.InstanceNorm(False, False)(x))
    np.testing.assert_allclose(f.apply({}, X), 2.0 * g.apply({}, X) + 1.0, rtol=1e-5)


def test_errors():
    with pytest.raises(
        InvalidArgumentError, match="InstanceNorm ~/InstanceNorm_0: unknown data_format 'HWC'"
    ):
        transform(lambda x: layers.InstanceNorm(True, True, data_format="HWC")(x)).init(0, X)
    with pytest.raises(InvalidArgumentError, match="cannot set scale_init when create_scale=False"):
        transform(lambda x: layers.InstanceNorm(False, True, scale_init="ones")(x)).init(0, X)


def test_keeps_float32_under_a_global_bf16_policy_as_layer_norm():
    x = X.astype(jnp.bfloat16)
    with policy_scope():
        set_policy(Module, Policy("float32", "bfloat16", "bfloat16"))
        f = transform(lambda x: layers.InstanceNorm(True, True)(x))
        params = f.init(0, x)
        jaxpr = jax.make_jaxpr(f.apply)(params, x)
        out = f.apply(params, x)
    assert out.dtype == jnp.bfloat16
    # the statistics run in float32 (the norms' library default), not bfloat16
    # (under a bf16 policy on InstanceNorm itself this rsqrt is bfloat16)
    (rsqrt,) = [e for e in jaxpr.eqns if e.primitive.name == "rsqrt"]
    assert rsqrt.invars[0].aval.dtype == jnp.float32
