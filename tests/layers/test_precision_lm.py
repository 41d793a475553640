"""A bfloat16 compute policy on a small transformer LM (Embed, MultiHeadAttention, LayerNorm, MLP).

The model is bench/precision.py's ``TinyLM`` (loaded by path), so the test
and the benchmark train the same thing. Tolerance: bfloat16 keeps 8 bits of
mantissa (relative rounding 2**-9, about 0.2%); on this model the loss under
the bf16 policy stays within 0.01 (absolute; the loss starts near 3.8) of
the float32 loss at every one of 20 adam steps, and so does the final loss.
"""

import importlib.util
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from minihaiku.core import (
    Module,
    Policy,
    get_policy,
    init_shapes,
    intercept_methods,
    param_policies,
    policy_scope,
    set_policy,
    summary,
    transform,
)
from minihaiku.core import _module as core_module
from minihaiku.layers import BatchNorm, GroupNorm, LayerNorm, Linear, RMSNorm
from minihaiku.training import softmax_cross_entropy, train

_spec = importlib.util.spec_from_file_location(
    "bench_precision", Path(__file__).parents[2] / "bench" / "precision.py"
)
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

F32, BF16 = np.dtype("float32"), np.dtype(jnp.bfloat16)
MIXED = Policy.parse(bench.BF16_POLICY)
NORM = Policy(F32, F32, None)
TOLERANCE = 0.01
VOCAB = 32


@pytest.fixture(autouse=True)
def _restore_policies():
    with policy_scope():
        yield


@pytest.fixture(scope="module")
def lm():
    model = bench.make_lm(VOCAB, 32, 4, 2)
    data = bench.lm_data(VOCAB, 8, 16)
    return model, data, model.init(0, data[0])


def test_the_bf16_policy_keeps_params_float32_and_their_initial_values(lm):
    model, (x, _), params = lm
    set_policy(bench.TinyLM, MIXED)
    mixed = model.init(0, x)
    assert {v.dtype for v in mixed.values()} == {F32}
    for path, value in params.items():
        np.testing.assert_array_equal(mixed[path], value, err_msg=path)


def test_the_bf16_loss_is_the_float32_loss_within_tolerance_for_20_steps(lm):
    model, data, params = lm
    loss = softmax_cross_entropy(model)
    f32 = train(loss, params, data, optax.adam(3e-3), 20, progress=False)
    set_policy(bench.TinyLM, MIXED)
    bf16 = train(loss, params, data, optax.adam(3e-3), 20, progress=False)
    assert f32.losses[0] == pytest.approx(np.log(VOCAB), abs=0.5)  # a real LM loss
    assert f32.final_loss < 0.5 * f32.losses[0]  # it trained
    np.testing.assert_allclose(bf16.losses, f32.losses, atol=TOLERANCE, rtol=0)
    assert abs(bf16.final_loss - f32.final_loss) < TOLERANCE
    assert {v.dtype for v in bf16.params.values()} == {F32}
    assert not np.array_equal(bf16.losses, f32.losses)  # bf16 really ran


def test_the_layers_compute_in_bf16_and_the_layer_norms_in_float32(lm):
    model, (x, _), params = lm
    set_policy(bench.TinyLM, MIXED)
    seen = {}

    def record(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        if context.method_name == "__call__" and hasattr(args[0], "dtype"):
            seen.setdefault(type(context.module).__name__, set()).add(args[0].dtype)
        return out

    def f(tokens):
        with intercept_methods(record):
            return bench.TinyLM(VOCAB, 32, 4, 2)(tokens)

    logits = transform(f).apply(params, x)
    assert logits.dtype == F32  # the policy's output dtype
    assert seen["LayerNorm"] == {F32}
    assert seen["MultiHeadAttention"] == seen["MLP"] == seen["Linear"] == {BF16}
    assert seen["Embed"] == {np.dtype(np.int32)}  # tokens are never cast
    policies = param_policies(model, x)
    norm = {p for path, p in policies.items() if "LayerNorm" in path.rsplit("/", 3)[-3]}
    rest = {p for path, p in policies.items() if "LayerNorm" not in path.rsplit("/", 3)[-3]}
    assert norm == {NORM} and rest == {MIXED}


def test_the_summary_shows_the_policy_of_each_parameter(lm):
    model, (x, _), _ = lm
    set_policy(bench.TinyLM, MIXED)
    text = summary(init_shapes(model, x), param_policies(model, x))
    rows = [line.split() for line in text.splitlines()[2:-2]]
    by_name = {([s for s in r[0].split("/") if s != "__call__"][-1], r[1]): r[-1] for r in rows}
    assert by_name[("LayerNorm_0", "scale")] == "params=float32,compute=float32,output=input"
    assert by_name[("Embed_0", "embeddings")] == "params=float32,compute=bfloat16,output=float32"
    assert len(rows) == len(init_shapes(model, x))


@pytest.mark.parametrize("norm", [BatchNorm, GroupNorm, LayerNorm, RMSNorm])
def test_each_norm_layer_keeps_float32_under_a_global_bf16_policy(norm):
    set_policy(Module, MIXED)
    assert get_policy(norm) == NORM
    assert get_policy(Linear) == MIXED


def test_a_user_policy_on_the_norm_class_instance_or_path_replaces_the_default():
    set_policy(Module, MIXED)

    def f(x):
        a = LayerNorm(-1, True, True, name="a")(x)
        b_norm = LayerNorm(-1, True, True, name="b")
        set_policy(b_norm, MIXED)
        return a + b_norm(x) + LayerNorm(-1, True, True, name="c")(x)

    t = transform(f)
    x = jnp.ones((2, 4))
    set_policy("~/c", "bf16")
    policies = param_policies(t, x)
    assert policies["~/a/__call__/scale"] == NORM
    assert policies["~/b/__call__/scale"] == MIXED
    assert policies["~/c/__call__/scale"] == Policy.parse("bf16")
    assert t.init(0, x)["~/c/__call__/scale"].dtype == BF16  # that policy's param dtype
    set_policy(LayerNorm, MIXED)
    assert param_policies(t, x)["~/a/__call__/scale"] == MIXED


def test_without_a_user_policy_the_norm_defaults_cast_nothing():
    t = transform(lambda x: LayerNorm(-1, True, True)(x))
    x = jnp.ones((2, 4), BF16)
    params = t.init(0, x)
    assert {v.dtype for v in params.values()} == {BF16}  # LayerNorm's own choice
    assert t.apply(params, x).dtype == BF16
    assert core_module.GLOBAL_METHOD_INTERCEPTORS == []  # module calls are not intercepted
