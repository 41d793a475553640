"""lora(): adapters by path, outputs at init, training only adapters, merge, stacks, policies."""

import doctest
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    LoraError,
    LoraModel,
    LoraMultiTransformed,
    LoraTransformed,
    LoraTransformedWithState,
    Module,
    Policy,
    Transformed,
    get_param,
    get_state,
    layer_stack,
    lora,
    multi_transform,
    param_axes,
    policy_scope,
    set_state,
    sharded_init,
    transform,
    transform_with_state,
)
from minihaiku.layers import MLP, Conv2D
from minihaiku.training import train

X = jnp.linspace(-1.0, 1.0, 12).reshape(3, 4)
W0 = "~/MLP_0/__call__/Linear_0/__call__/"
W1 = "~/MLP_0/__call__/Linear_1/__call__/"


def mlp():
    return transform(lambda x: MLP([8, 2])(x))


def test_adapters_sit_next_to_their_weight_with_exact_paths_and_shapes():
    model = lora(mlp(), "*/w", rank=2)
    params = model.init(0, X)
    assert {k: v.shape for k, v in params.items()} == {
        W0 + "w": (4, 8),
        W0 + "w_lora_a": (4, 2),
        W0 + "w_lora_b": (2, 8),
        W0 + "b": (8,),
        W1 + "w": (8, 2),
        W1 + "w_lora_a": (8, 2),
        W1 + "w_lora_b": (2, 2),
        W1 + "b": (2,),
    }
    assert list(params)[:4] == [W0 + "w", W0 + "w_lora_a", W0 + "w_lora_b", W0 + "b"]
    np.testing.assert_array_equal(params[W0 + "w_lora_b"], np.zeros((2, 8)))


def test_the_base_params_are_the_base_models_and_outputs_at_init_are_equal_exactly():
    base = mlp()
    model = lora(base, "*/w", rank=2)
    params = model.init(0, X)
    plain = base.init(0, X)
    for path, value in plain.items():
        np.testing.assert_array_equal(params[path], value, err_msg=path)
    np.testing.assert_array_equal(model.apply(params, X), base.apply(plain, X))
    np.testing.assert_array_equal(jax.jit(model.apply)(params, X), base.apply(plain, X))


def test_adapter_a_is_keyed_by_its_path_and_scaled_by_fan_in():
    # The same rule as every parameter: the value depends on seed and path only.
    small = lora(transform(lambda x: x @ get_param("w", (4, 3))), "~/w", rank=2)
    two = transform(lambda x: x @ get_param("v", (4, 4)) @ get_param("w", (4, 3)))
    big = lora(two, "~/w", rank=2)
    a = small.init(0, X)["~/w_lora_a"]
    np.testing.assert_array_equal(a, big.init(0, X)["~/w_lora_a"])
    key = jax.random.fold_in(jax.random.key(0), _crc("~/w_lora_a"))
    np.testing.assert_allclose(a, jax.random.normal(key, (4, 2)) / 2.0, rtol=1e-6)
    assert not np.array_equal(a, small.init(1, X)["~/w_lora_a"])


def _crc(path):
    import zlib

    return zlib.crc32(path.encode())


def test_the_forward_reads_w_plus_alpha_over_rank_times_a_at_b():
    base = transform(lambda x: x @ get_param("w", (4, 3)))
    model = lora(base, "~/w", rank=2, alpha=6.0)
    assert (model.rank, model.alpha, model.scale) == (2, 6.0, 3.0)
    params = dict(model.init(0, X))
    params["~/w_lora_b"] = jnp.arange(6.0).reshape(2, 3) / 10
    w = params["~/w"] + 3.0 * params["~/w_lora_a"] @ params["~/w_lora_b"]
    np.testing.assert_allclose(model.apply(params, X), X @ w, rtol=1e-6)
    assert lora(base, "~/w", rank=4).scale == 1.0


def test_merge_returns_plain_params_of_the_original_model_with_equal_outputs():
    base = mlp()
    model = lora(base, "*/w", rank=2)
    params = model.init(0, X)
    params = {k: (v + 0.1 if k.endswith("_lora_b") else v) for k, v in params.items()}
    merged = model.merge(params)
    assert list(merged) == list(base.init(0, X))
    w = params[W0 + "w"] + params[W0 + "w_lora_a"] @ params[W0 + "w_lora_b"]
    np.testing.assert_allclose(merged[W0 + "w"], w, rtol=1e-6)
    assert merged[W0 + "b"] is params[W0 + "b"]
    np.testing.assert_allclose(base.apply(merged, X), model.apply(params, X), rtol=1e-5, atol=1e-6)
    assert not np.allclose(base.apply(merged, X), base.apply(base.init(0, X), X))


def test_training_with_frozen_base_changes_only_adapters_and_keeps_optimizer_state_small():
    base = mlp()
    model = lora(base, "*/w", rank=2)
    params = model.init(0, X)
    y = jnp.sin(X[:, :2])
    result = train(model, params, (X, y), optax.adam(1e-2), 20, frozen=model.base, progress=False)
    adapters = sorted(k for k in params if k.endswith(("_lora_a", "_lora_b")))
    adam_state = result.opt_state[0]
    assert sorted(adam_state.mu) == adapters == sorted(adam_state.nu)
    for path in params:
        if model.base(path):
            assert np.array_equal(result.params[path], params[path]), path  # bit for bit
            assert result.params[path].dtype == params[path].dtype
    assert not np.array_equal(result.params[W0 + "w_lora_b"], params[W0 + "w_lora_b"])
    assert result.final_loss < result.losses[0]


def test_the_filters_split_base_and_adapters():
    assert LoraModel.base("~/w") and not LoraModel.base("~/w_lora_a")
    assert LoraModel.adapters("~/w_lora_b") and not LoraModel.adapters("~/w")


def test_inside_layer_stack_each_layer_gets_its_own_adapters():
    def deep(x):
        layer = lambda h: jnp.tanh(h @ get_param("w", (4, 4), axes=("embed", "mlp")))
        return layer_stack(3)(layer)(x)

    base = transform(deep)
    model = lora(base, "~/w", rank=2)
    params = model.init(0, X)
    assert {k: v.shape for k, v in params.items()} == {
        "~/w": (3, 4, 4),
        "~/w_lora_a": (3, 4, 2),
        "~/w_lora_b": (3, 2, 4),
    }
    assert not np.array_equal(params["~/w_lora_a"][0], params["~/w_lora_a"][1])
    np.testing.assert_array_equal(model.apply(params, X), base.apply({"~/w": params["~/w"]}, X))
    # A nonzero b in layer 1 only: the forward equals a hand-written loop.
    b = params["~/w_lora_b"].at[1].set(0.5)
    params = {**params, "~/w_lora_b": b}
    h = X
    for i in range(3):
        h = jnp.tanh(h @ (params["~/w"][i] + params["~/w_lora_a"][i] @ b[i]))
    np.testing.assert_allclose(model.apply(params, X), h, rtol=1e-5, atol=1e-6)
    assert param_axes(model, X) == {
        "~/w": ("layers", "embed", "mlp"),
        "~/w_lora_a": ("layers", "embed", None),
        "~/w_lora_b": ("layers", None, "mlp"),
    }


def test_adapters_inherit_the_axes_annotation():
    def f(x):
        return x @ get_param("w", (4, 6), axes=("embed", "mlp")) + get_param("c", (6,))

    model = lora(transform(f), "~/w", rank=3)
    assert param_axes(model, X) == {
        "~/w": ("embed", "mlp"),
        "~/w_lora_a": ("embed", None),
        "~/w_lora_b": (None, "mlp"),
        "~/c": None,
    }


def test_conv_kernels_get_adapters_over_their_last_two_axes():
    base = transform(lambda x: Conv2D(5, 3)(x))
    model = lora(base, "*/w", rank=2)
    x = jnp.ones((1, 6, 6, 3))
    params = model.init(0, x)
    path = "~/Conv2D_0/__call__/w"
    assert params[path + "_lora_a"].shape == (3, 3, 3, 2)
    assert params[path + "_lora_b"].shape == (3, 3, 2, 5)
    plain = model.merge(params)
    np.testing.assert_array_equal(model.apply(params, x), base.apply(plain, x))


class Dense(Module):
    """Asks for its weight in the input's dtype, as minihaiku.layers.Linear does."""

    def __call__(self, x):
        return x @ get_param("w", (x.shape[-1], 3), x.dtype)


def test_under_a_precision_policy_adapters_take_the_param_dtype_and_compute_in_bf16():
    base = transform(lambda x: Dense()(x))
    model = lora(base, "*/w", rank=2)
    with policy_scope(Dense, Policy("float32", "bfloat16", "float32")):
        params = model.init(0, X)
        out = model.apply(params, X)
        want = base.apply(base.init(0, X), X)
    assert {str(v.dtype) for v in params.values()} == {"float32"}
    assert out.dtype == jnp.float32
    np.testing.assert_array_equal(out, want)
    with policy_scope(Dense, Policy("bfloat16", "bfloat16", "bfloat16")):
        params = model.init(0, X)
        assert {str(v.dtype) for v in params.values()} == {"bfloat16"}
        path = "~/Dense_0/__call__/w"
        params = {**params, path + "_lora_b": params[path + "_lora_b"] + 1}
        merged = model.merge(params)
        assert merged[path].dtype == jnp.bfloat16
        assert model.apply(params, X).dtype == jnp.bfloat16


def test_transform_with_state_keeps_its_state():
    def f(x):
        n = get_state("n", (), jnp.int32)
        set_state("n", n + 1)
        return x @ get_param("w", (4, 2))

    base = transform_with_state(f)
    model = lora(base, "~/w", rank=1)
    assert isinstance(model, LoraTransformedWithState)
    params, state = model.init(0, X)
    assert sorted(params) == ["~/w", "~/w_lora_a", "~/w_lora_b"]
    out, state = model.apply(params, state, X)
    np.testing.assert_array_equal(out, X @ params["~/w"])
    assert int(state["~/n"]) == 1


def test_multi_transform_wraps_every_entry_point():
    def template():
        w = lambda: get_param("w", (4, 2))
        return (lambda x: x @ w()), {"forward": lambda x: x @ w(), "weight": lambda: w()}

    model = lora(multi_transform(template), "~/w", rank=1)
    assert isinstance(model, LoraMultiTransformed)
    params = model.init(0, X)
    params = {**params, "~/w_lora_b": params["~/w_lora_b"] + 1.0}
    merged = model.merge(params)
    np.testing.assert_allclose(model.apply["weight"](params), merged["~/w"], rtol=1e-6)
    np.testing.assert_allclose(model.apply["forward"](params, X), X @ merged["~/w"], rtol=1e-6)


def test_the_result_is_still_a_transformed_pair():
    model = lora(mlp(), "*/w", rank=1)
    assert isinstance(model, LoraTransformed) and isinstance(model, Transformed)
    init, apply = model
    assert init is model.init and apply is model.apply


def test_where_takes_lists_and_predicates():
    params = lora(mlp(), [W0 + "w"], rank=1).init(0, X)
    assert W0 + "w_lora_a" in params and W1 + "w_lora_a" not in params
    params = lora(mlp(), lambda path, value: value.shape == (8, 2), rank=1).init(0, X)
    assert W1 + "w_lora_a" in params and W0 + "w_lora_a" not in params


# --- errors ---------------------------------------------------------------------------------


def test_where_matching_nothing_is_an_error_naming_the_filter():
    with pytest.raises(
        LoraError,
        match=re.escape(
            "lora: where='*/kernel' matches no parameter of the model (4 parameters, e.g. "
            f"['{W0}w', '{W0}b', '{W1}w']). Pass a glob that matches weight paths, such as "
            "'*/w', a list of globs, or a predicate (path, value) -> bool."
        ),
    ):
        lora(mlp(), "*/kernel", rank=1).init(0, X)
    assert issubclass(LoraError, ValueError) and issubclass(LoraError, InvalidArgumentError)


def test_a_one_dimensional_param_is_an_error_naming_its_path():
    with pytest.raises(
        LoraError,
        match=re.escape(
            f"lora: parameter '{W0}b' (matched by where='*') has shape (8,); LoRA adapts "
            "2-D weights and conv kernels (over their last two axes). Narrow where='*' to "
            "leave it out, e.g. '*/w'."
        ),
    ):
        lora(mlp(), "*", rank=1).init(0, X)


def test_a_non_float_param_is_an_error_naming_its_path():
    f = transform(lambda: get_param("table", (4, 4), jnp.int32, init=jax.nn.initializers.zeros))
    with pytest.raises(
        LoraError,
        match=re.escape(
            "lora: parameter '~/table' (matched by where='~/table') has dtype int32; LoRA "
            "adapts floating-point weights only. Narrow where='~/table' to leave it out, "
            "e.g. '*/w'."
        ),
    ):
        lora(f, "~/table", rank=1).init(0)


def test_a_rank_larger_than_the_weight_allows_is_an_error_naming_its_path():
    with pytest.raises(
        LoraError,
        match=re.escape(
            f"lora: rank=3 is larger than parameter '{W1}w' (shape (8, 2)) allows: at most "
            "min(8, 2) = 2, the smaller of its last two axes. Pass a smaller rank, or narrow "
            "where to leave it out."
        ),
    ):
        lora(mlp(), "*/w", rank=3).init(0, X)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"rank": 0}, InvalidArgumentError, "lora: rank must be a positive int, got int 0."),
        ({"rank": -2}, InvalidArgumentError, "lora: rank must be a positive int, got int -2."),
        ({"rank": 1.5}, InvalidArgumentError, "lora: rank must be a positive int, got float 1.5."),
        ({"rank": 2, "alpha": 0.0}, InvalidArgumentError, "lora: alpha must be > 0, got 0.0."),
    ],
)
def test_bad_rank_and_alpha_are_refused_at_once(kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        lora(mlp(), "*/w", **kwargs)


def test_a_bad_where_and_a_bad_model_are_refused_at_once():
    with pytest.raises(InvalidArgumentTypeError, match="expected a glob pattern"):
        lora(mlp(), 3, rank=1)
    with pytest.raises(
        InvalidArgumentTypeError,
        match=re.escape(
            "lora expects what transform, transform_with_state or a multi-transform returned, "
            "got function"
        ),
    ):
        lora(lambda x: x, "*/w", rank=1)
    model = lora(mlp(), "*/w", rank=1)
    with pytest.raises(LoraError, match=r"lora: the model already has LoRA adapters\. Merge"):
        lora(model, "*/w", rank=1)


def test_apply_or_merge_without_adapters_is_an_error():
    model = lora(mlp(), "*/w", rank=1)
    plain = mlp().init(0, X)
    with pytest.raises(
        LoraError,
        match=re.escape(
            "lora apply: the params have no LoRA adapters (no path ends in '_lora_a'). Pass "
            "what the LoRA model's init returned (or trained); for plain params use the base "
            "model itself."
        ),
    ):
        model.apply(plain, X)
    params = model.init(0, X)
    del params[W1 + "w_lora_b"]
    with pytest.raises(
        LoraError,
        match=re.escape(
            f"merge: params have the adapter '{W1}w_lora_a' but not '{W1}w_lora_b'. Pass the "
            "params that the LoRA model's init returned (or trained), with every weight and "
            "both adapters."
        ),
    ):
        model.merge(params)


def test_an_existing_param_on_an_adapter_path_is_an_error():
    f = transform(lambda x: x @ get_param("w", (4, 2)) + get_param("w_lora_a", (2,)))
    with pytest.raises(
        LoraError,
        match=re.escape(
            "lora: the model already has a parameter '~/w_lora_a', the path of an adapter of "
            "'~/w'. Rename that parameter, or do not apply lora twice to one model."
        ),
    ):
        lora(f, "~/w", rank=1).init(0, X)


def test_the_docs_page_examples_run():
    page = Path(__file__).parents[2] / "docs" / "surgery.md"
    result = doctest.testfile(
        str(page),
        module_relative=False,
        globs={"jax": jax, "jnp": jnp, "np": np},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        raise_on_error=False,
    )
    assert result.attempted >= 15
    assert result.failed == 0


def test_sharded_init_places_adapters_with_their_weight_and_gives_init_values():
    from jax.sharding import Mesh

    def f(x):
        return x @ get_param("w", (4, 6), axes=("embed", "mlp"))

    model = lora(transform(f), "~/w", rank=2)
    mesh = Mesh(np.array(jax.devices()[:1]).reshape(1, 1), ("data", "model"))
    params = sharded_init(model, mesh, {"mlp": "model", "embed": "data"})(0, X)
    specs = {k: tuple(v.sharding.spec) for k, v in params.items()}
    assert specs == {
        "~/w": ("data", "model"),
        "~/w_lora_a": ("data", None),
        "~/w_lora_b": (None, "model"),
    }
    plain = model.init(0, X)
    for path, value in plain.items():
        np.testing.assert_array_equal(params[path], value, err_msg=path)
