"""Quantized params (int8 values, float scales) through save_params / load_params."""

import json
import struct

import jax
import jax.numpy as jnp
import numpy as np

from minihaiku.core import quantize, quantized, transform, tree_bytes
from minihaiku.layers import MLP
from minihaiku.training import load_params, save_params


def test_int8_weights_and_their_scales_round_trip_exactly(tmp_path):
    model = transform(lambda x: MLP([64, 10])(x))
    x = jax.random.normal(jax.random.key(0), (4, 32))
    params = model.init(0, x)
    q = quantize(params, "*/w")
    path = save_params(tmp_path / "q.safetensors", q)
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    assert header["~/MLP_0/__call__/Linear_0/__call__/w"] == {
        "dtype": "I8",
        "shape": [32, 64],
        "data_offsets": header["~/MLP_0/__call__/Linear_0/__call__/w"]["data_offsets"],
    }
    assert header["~/MLP_0/__call__/Linear_0/__call__/w@scale"]["dtype"] == "F32"
    got = load_params(path, like=q)
    assert list(got) == list(q)
    for k, v in q.items():
        assert got[k].dtype == v.dtype
        np.testing.assert_array_equal(got[k], v)
    np.testing.assert_array_equal(quantized(model).apply(got, x), quantized(model).apply(q, x))
    # the file shrinks with the params: int8 weights, float32 scales and biases
    float_file = save_params(tmp_path / "f.safetensors", params)
    assert tree_bytes(q) == 32 * 64 + 64 * 10 + 4 * (64 + 10) * 2
    assert tree_bytes(params) == 4 * (32 * 64 + 64 * 10 + 64 + 10)
    assert path.stat().st_size < 0.4 * float_file.stat().st_size


def test_bfloat16_scales_round_trip(tmp_path):
    q = quantize({"~/w": jnp.linspace(-1, 1, 12).reshape(3, 4).astype(jnp.bfloat16)}, "~/w")
    got = load_params(save_params(tmp_path / "q.safetensors", q), like=q)
    assert got["~/w@scale"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(got["~/w"], q["~/w"])
