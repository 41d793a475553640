"""quantize / dequantize / quantized: weight-only int8 (and int4) weights by path."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    InvalidArgumentTypeError,
    MinihaikuError,
    Policy,
    QuantizeError,
    dequantize,
    get_state,
    layer_stack,
    policy_scope,
    quantize,
    quantized,
    set_state,
    transform,
    transform_with_state,
    tree_bytes,
)
from minihaiku.layers import MLP, Conv2D, Linear

W = "~/Linear_0/__call__/w"
B = "~/Linear_0/__call__/b"


def _mlp():
    model = transform(lambda x: MLP([32, 10])(x))
    x = jax.random.normal(jax.random.key(1), (5, 16))
    return model, model.init(0, x), x


def test_paths_dtypes_and_shapes_of_the_quantized_params():
    model, params, _ = _mlp()
    q = quantize(params, "*/w")
    assert list(q) == [
        "~/MLP_0/__call__/Linear_0/__call__/w",
        "~/MLP_0/__call__/Linear_0/__call__/w@scale",
        "~/MLP_0/__call__/Linear_0/__call__/b",
        "~/MLP_0/__call__/Linear_1/__call__/w",
        "~/MLP_0/__call__/Linear_1/__call__/w@scale",
        "~/MLP_0/__call__/Linear_1/__call__/b",
    ]
    assert q["~/MLP_0/__call__/Linear_0/__call__/w"].dtype == jnp.int8
    assert q["~/MLP_0/__call__/Linear_0/__call__/w"].shape == (16, 32)
    assert q["~/MLP_0/__call__/Linear_0/__call__/w@scale"].shape == (32,)
    assert q["~/MLP_0/__call__/Linear_0/__call__/w@scale"].dtype == jnp.float32
    assert (
        q["~/MLP_0/__call__/Linear_0/__call__/b"] is params["~/MLP_0/__call__/Linear_0/__call__/b"]
    )


def test_values_and_scales_against_a_hand_computation():
    w = jnp.array([[1.0, -0.5, 0.0], [0.5, 2.0, 0.0]])
    q = quantize({W: w}, W)
    # column maxima 1, 2, 0 -> scales 1/127, 2/127, 1 (an all-zero column)
    np.testing.assert_allclose(q[W + "@scale"], [1 / 127, 2 / 127, 1.0], rtol=1e-7)
    # 0.5 * 127 = 63.5 rounds to even (64); -0.5 / (2/127) = -31.75 -> -32
    np.testing.assert_array_equal(q[W], [[127, -32, 0], [64, 127, 0]])


def test_int4_values_lie_in_minus_7_to_7_and_are_stored_as_int8():
    w = jnp.array([[1.0, -0.5], [0.25, 2.0]])
    q = quantize({W: w}, W, bits=4)  # 0.25 * 7 = 1.75 -> 2; -0.5 * 7 / 2 = -1.75 -> -2
    assert q[W].dtype == jnp.int8
    np.testing.assert_allclose(q[W + "@scale"], [1 / 7, 2 / 7], rtol=1e-7)
    np.testing.assert_array_equal(q[W], [[7, -2], [2, 7]])


@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("shape", [(16, 8), (3, 3, 4, 6), (2, 5, 7)])
def test_dequantized_values_lie_within_half_a_step(shape, bits):
    w = jax.random.normal(jax.random.key(0), shape)
    q = quantize({W: w}, W, bits=bits)
    back = dequantize(q)[W]
    assert back.dtype == w.dtype and back.shape == w.shape
    step = np.asarray(q[W + "@scale"])
    assert np.all(np.abs(np.asarray(back) - np.asarray(w)) <= step / 2 * (1 + 1e-6))
    # the largest magnitude of each output channel is exact
    np.testing.assert_allclose(
        np.abs(back).reshape(-1, shape[-1]).max(0),
        np.abs(w).reshape(-1, shape[-1]).max(0),
        rtol=1e-6,
    )


def test_bfloat16_weights_keep_their_dtype():
    w = jax.random.normal(jax.random.key(0), (4, 3)).astype(jnp.bfloat16)
    q = quantize({W: w}, W)
    assert q[W + "@scale"].dtype == jnp.bfloat16
    assert dequantize(q)[W].dtype == jnp.bfloat16


def test_quantized_apply_reads_dequantized_weights_and_is_close_to_the_float_model():
    model, params, x = _mlp()
    q = quantize(params, "*/w")
    out = quantized(model).apply(q, x)
    np.testing.assert_array_equal(out, model.apply(dequantize(q), x))
    ref = model.apply(params, x)
    assert float(jnp.max(jnp.abs(out - ref))) < 0.02 * float(jnp.max(jnp.abs(ref)))
    assert not np.array_equal(out, ref)  # it really used the int8 values


def test_quantized_apply_takes_float_params_unchanged():
    model, params, x = _mlp()
    np.testing.assert_array_equal(quantized(model).apply(params, x), model.apply(params, x))
    assert quantized(model).init is model.init


def test_under_jit_the_int8_values_are_the_inputs():
    model, params, x = _mlp()
    q = quantize(params, "*/w")
    jaxpr = jax.make_jaxpr(quantized(model).apply)(q, x)
    dtypes = sorted(str(v.aval.dtype) for v in jaxpr.jaxpr.invars)
    assert dtypes == ["float32"] * 5 + ["int8"] * 2  # 2 biases, 2 scales, x; 2 weights
    np.testing.assert_allclose(jax.jit(quantized(model).apply)(q, x), quantized(model).apply(q, x))


def test_params_bytes_shrink_about_4x_for_the_matched_weights():
    model = transform(lambda x: Linear(256)(x))
    params = model.init(0, jnp.ones((1, 256)))
    q = quantize(params, "*/w")
    assert tree_bytes(params) == 256 * 256 * 4 + 256 * 4
    assert tree_bytes(q) == 256 * 256 + 256 * 4 + 256 * 4
    assert tree_bytes({W: params[W]}) / tree_bytes({k: q[k] for k in (W, W + "@scale")}) > 3.9


def test_transform_with_state_threads_the_state():
    def f(x):
        n = get_state("n", (), jnp.int32, init="zeros")
        set_state("n", n + 1)
        return Linear(3)(x)

    model = transform_with_state(f)
    x = jnp.ones((2, 4))
    params, state = model.init(0, x)
    q = quantize(params, "*/w")
    out, state = quantized(model).apply(q, state, x)
    ref, _ = model.apply(dequantize(q), {"~/n": jnp.array(0)}, x)
    np.testing.assert_array_equal(out, ref)
    assert int(state["~/n"]) == 1


def test_inside_layer_stack_the_stacked_weight_is_dequantized_per_layer():
    def f(x):
        return layer_stack(3)(lambda h: jnp.tanh(Linear(4)(h)))(x)

    model = transform(f)
    x = jax.random.normal(jax.random.key(2), (2, 4))
    params = model.init(0, x)
    q = quantize(params, "*/w")
    assert q[W].shape == (3, 4, 4) and q[W + "@scale"].shape == (4,)
    out = quantized(model).apply(q, x)
    np.testing.assert_allclose(out, model.apply(dequantize(q), x), rtol=1e-6)
    np.testing.assert_allclose(out, model.apply(params, x), atol=0.05)


def test_conv_kernels_are_quantized_per_output_channel():
    model = transform(lambda x: Conv2D(6, 3)(x))
    x = jax.random.normal(jax.random.key(0), (1, 5, 5, 2))
    params = model.init(0, x)
    q = quantize(params, "*/w")
    assert q["~/Conv2D_0/__call__/w@scale"].shape == (6,)
    np.testing.assert_allclose(quantized(model).apply(q, x), model.apply(params, x), atol=0.05)


def test_under_a_precision_policy_the_dequantized_weight_is_cast_to_compute():
    model, params, x = _mlp()
    q = quantize(params, "*/w")
    with policy_scope(MLP, Policy(jnp.float32, jnp.bfloat16, jnp.float32)):
        out = quantized(model).apply(q, x)
        ref = model.apply(dequantize(q), x)
    assert out.dtype == jnp.float32
    np.testing.assert_array_equal(out, ref)


def _message(excinfo):
    return str(excinfo.value)


def test_where_matching_nothing_is_an_error_naming_the_params():
    _, params, _ = _mlp()
    with pytest.raises(QuantizeError) as e:
        quantize(params, "*/kernel")
    assert _message(e) == (
        "quantize: `where` ('*/kernel') matches none of the 4 params (e.g. "
        "'~/MLP_0/__call__/Linear_0/__call__/w', '~/MLP_0/__call__/Linear_0/__call__/b', "
        "'~/MLP_0/__call__/Linear_1/__call__/w', '~/MLP_0/__call__/Linear_1/__call__/b'). "
        "Use a glob on those paths, e.g. '*/w'."
    )
    assert isinstance(e.value, MinihaikuError) and isinstance(e.value, ValueError)


def test_a_bias_is_too_small_and_the_error_names_its_path():
    _, params, _ = _mlp()
    with pytest.raises(QuantizeError) as e:
        quantize(params, "*")
    assert _message(e) == (
        "quantize: parameter '~/MLP_0/__call__/Linear_0/__call__/b' has shape (32,): only "
        "parameters with at least 2 dimensions and at least one element (weight "
        "matrices, conv kernels) are quantized, per output channel (the last axis). "
        "Leave biases and norm scales out of `where` (e.g. where='*/w')."
    )


def test_an_empty_weight_is_too_small():
    with pytest.raises(QuantizeError, match=re.escape("'~/w' has shape (0, 3): only")):
        quantize({"~/w": jnp.zeros((0, 3))}, "~/w")


def test_a_non_float_parameter_is_an_error_naming_its_path():
    with pytest.raises(QuantizeError) as e:
        quantize({"~/embed/ids": jnp.zeros((3, 3), jnp.int32)}, "*")
    assert _message(e) == (
        "quantize: parameter '~/embed/ids' has dtype int32: only float parameters can be "
        "quantized. Leave it out of `where` (e.g. where='*/w')."
    )


def test_quantizing_twice_is_an_error():
    q = quantize({W: jnp.ones((2, 2))}, W)
    with pytest.raises(QuantizeError) as e:
        quantize({**q, W: jnp.ones((2, 2))}, W)
    assert _message(e) == (
        "quantize: parameter '~/Linear_0/__call__/w' is already quantized (params hold "
        "'~/Linear_0/__call__/w@scale'). Quantize the float params once."
    )


@pytest.mark.parametrize("bits", [2, 16, 8.0, "8"])
def test_bits_must_be_8_or_4(bits):
    with pytest.raises(QuantizeError) as e:
        quantize({W: jnp.ones((2, 2))}, W, bits=bits)
    assert _message(e) == (
        f"quantize: bits must be 8 or 4, got {bits!r}. Use bits=8 (int8 values) or "
        "bits=4 (values in [-7, 7], still stored as int8)."
    )


def test_a_scale_without_its_weight_is_an_error():
    model, params, x = _mlp()
    q = quantize(params, "*/w")
    del q["~/MLP_0/__call__/Linear_0/__call__/w"]
    with pytest.raises(QuantizeError) as e:
        quantized(model).apply(q, x)
    assert _message(e) == (
        "quantized apply: params hold the scales "
        "'~/MLP_0/__call__/Linear_0/__call__/w@scale' but not the weight "
        "'~/MLP_0/__call__/Linear_0/__call__/w'. Pass every entry that quantize returned."
    )
    with pytest.raises(QuantizeError, match=r"^dequantize: params hold the scales"):
        dequantize(q)


def test_quantized_needs_a_transformed_function():
    with pytest.raises(InvalidArgumentTypeError, match=r"^quantized expects what transform"):
        quantized(lambda x: x)


def test_quantize_needs_a_mapping():
    with pytest.raises(InvalidArgumentTypeError, match=r"^quantize expects the flat"):
        quantize([jnp.ones((2, 2))], "*")
