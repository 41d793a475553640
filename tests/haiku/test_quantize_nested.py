"""quantize / quantized / dequantize on a minihaiku.haiku program's nested params."""

import jax
import numpy as np
import pytest

import minihaiku.haiku as hk
from minihaiku.core import dequantize, quantize, quantized

X = jax.random.normal(jax.random.key(1), (3, 5))


def forward(x):
    return hk.nets.MLP([8, 4])(x)


def test_nested_params_quantize_in_their_module_dicts_and_apply_unchanged():
    model = hk.without_apply_rng(hk.transform(forward))
    params = model.init(jax.random.key(0), X)
    q = quantize(params, "*/w")
    assert {m: {k: str(v.dtype) for k, v in inner.items()} for m, inner in q.items()} == {
        "mlp/~/linear_0": {"w": "int8", "w@scale": "float32", "b": "float32"},
        "mlp/~/linear_1": {"w": "int8", "w@scale": "float32", "b": "float32"},
    }
    back = dequantize(q)
    for m, inner in params.items():
        assert list(back[m]) == list(inner)
        step = q[m]["w@scale"]
        assert np.all(np.abs(back[m]["w"] - inner["w"]) <= step / 2 + 1e-7)
    np.testing.assert_allclose(
        quantized(model).apply(q, X), model.apply(back, X), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(
        jax.jit(quantized(model).apply)(q, X), model.apply(back, X), rtol=1e-6, atol=1e-6
    )


def test_a_nested_params_model_exports_and_loads_with_the_same_outputs(tmp_path):
    from minihaiku.core import ExportError, export, load_exported

    model = hk.without_apply_rng(hk.transform(forward))
    params = model.init(jax.random.key(0), X)
    want = model.apply(params, X)
    embedded = load_exported(export(model, params, X, path=tmp_path / "e.mhx"))
    np.testing.assert_array_equal(embedded(X), want)
    served = load_exported(export(model, params, X, path=tmp_path / "a.mhx", embed_params=False))
    assert sorted(served.header["params"]) == [
        "mlp/~/linear_0/b",
        "mlp/~/linear_0/w",
        "mlp/~/linear_1/b",
        "mlp/~/linear_1/w",
    ]
    np.testing.assert_array_equal(served(params, X), want)
    wrong = {**params, "mlp/~/linear_1": {"w": params["mlp/~/linear_1"]["w"]}}
    with pytest.raises(ExportError, match=r"missing \['mlp/~/linear_1/b'\]"):
        served(wrong, X)
