"""lora on a minihaiku.haiku program: nested params, adapters in their weight's module dict."""

import jax
import jax.numpy as jnp
import numpy as np

import minihaiku.haiku as hk
from minihaiku.core import lora

X = jax.random.normal(jax.random.key(1), (3, 5))


def forward(x):
    return hk.nets.MLP([8, 4])(x)


def test_adapters_sit_next_to_their_weight_and_init_gives_the_base_outputs():
    base = hk.without_apply_rng(hk.transform(forward))
    model = lora(base, "*/w", rank=2)
    params = model.init(jax.random.key(0), X)
    assert list(params) == ["mlp/~/linear_0", "mlp/~/linear_1"]
    assert {k: v.shape for k, v in params["mlp/~/linear_0"].items()} == {
        "w": (5, 8),
        "w_lora_a": (5, 2),
        "w_lora_b": (2, 8),
        "b": (8,),
    }
    base_params = base.init(jax.random.key(0), X)
    np.testing.assert_array_equal(params["mlp/~/linear_1"]["w"], base_params["mlp/~/linear_1"]["w"])
    np.testing.assert_array_equal(model.apply(params, X), base.apply(base_params, X))


def test_merge_folds_into_the_nested_base_layout():
    base = hk.without_apply_rng(hk.transform(forward))
    model = lora(base, ["mlp/~/linear_1/w"], rank=2, alpha=4.0)
    params = model.init(jax.random.key(0), X)
    b = jnp.ones_like(params["mlp/~/linear_1"]["w_lora_b"])
    params = {**params, "mlp/~/linear_1": {**params["mlp/~/linear_1"], "w_lora_b": b}}
    merged = model.merge(params)
    assert {k: list(v) for k, v in merged.items()} == {
        "mlp/~/linear_0": ["w", "b"],
        "mlp/~/linear_1": ["w", "b"],
    }
    inner = params["mlp/~/linear_1"]
    want = inner["w"] + 2.0 * inner["w_lora_a"] @ inner["w_lora_b"]
    np.testing.assert_allclose(merged["mlp/~/linear_1"]["w"], want, rtol=1e-6)
    np.testing.assert_allclose(base.apply(merged, X), model.apply(params, X), rtol=1e-5, atol=1e-6)


def test_training_only_the_adapters_of_nested_params():
    import optax

    from minihaiku.training import mse_loss, train

    y = jnp.ones((3, 4))
    model = lora(hk.without_apply_rng(hk.transform(forward)), "*/w", rank=2)
    params = model.init(jax.random.key(0), X)
    result = train(
        mse_loss(model), params, (X, y), optax.adam(1e-2), 3, frozen=model.base, progress=False
    )
    mu = result.opt_state[0].mu
    assert {k: sorted(v) for k, v in mu.items()} == {
        "mlp/~/linear_0": ["w_lora_a", "w_lora_b"],
        "mlp/~/linear_1": ["w_lora_a", "w_lora_b"],
    }
    for module, inner in params.items():
        for name, value in inner.items():
            changed = not np.array_equal(result.params[module][name], value)
            assert changed == name.endswith("_lora_b") or (name.endswith("_lora_a") and changed)
            if not name.startswith("w_lora"):
                np.testing.assert_array_equal(result.params[module][name], value)
