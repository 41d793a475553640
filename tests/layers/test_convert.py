"""from_haiku / to_haiku: dm-haiku checkpoints into minihaiku params and state, and errors."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    InvalidArgumentTypeError,
    MinihaikuError,
    Module,
    get_param,
    get_state,
    set_state,
    transform,
    transform_with_state,
)
from minihaiku.layers import (
    LSTM,
    MLP,
    Conv2D,
    ConversionError,
    Linear,
    dynamic_unroll,
    from_haiku,
    max_pool,
    to_haiku,
)

hk = pytest.importorskip("haiku")

X = jax.random.normal(jax.random.key(3), (2, 5))
XS = jax.random.normal(jax.random.key(4), (6, 2, 5))


def assert_same_values(a, b):
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]), err_msg=k)


def hk_mlp(x):
    return hk.nets.MLP([8, 4, 2])(x)


def mh_mlp(x):
    return MLP([8, 4, 2])(x)


def test_mlp_checkpoint_fills_the_params_and_gives_dm_haikus_outputs():
    hk_f = hk.without_apply_rng(hk.transform(hk_mlp))
    hk_params = hk_f.init(jax.random.key(0), X)
    f = transform(mh_mlp)
    params = from_haiku(hk_params, f.init(0, X))
    expected = {
        f"~/MLP_0/__call__/Linear_{i}/__call__/{leaf}": hk_params[f"mlp/~/linear_{i}"][leaf]
        for i in range(3)
        for leaf in ("w", "b")
    }
    assert_same_values(params, expected)
    np.testing.assert_allclose(f.apply(params, X), hk_f.apply(hk_params, X), rtol=1e-6)


def test_lstm_with_a_head_checkpoint():
    def hk_fn(xs):
        core = hk.LSTM(7)
        out, _ = hk.dynamic_unroll(core, xs, core.initial_state(2))
        return hk.Linear(3)(out)

    def mh_fn(xs):
        core = LSTM(7)
        out, _ = dynamic_unroll(core, xs, core.initial_state(2))
        return Linear(3)(out)

    hk_f = hk.without_apply_rng(hk.transform(hk_fn))
    hk_params = hk_f.init(jax.random.key(0), XS)
    assert list(hk_params) == ["lstm/linear", "linear"]
    f = transform(mh_fn)
    params = from_haiku(hk_params, f.init(0, XS))
    assert_same_values(
        params,
        {
            "~/LSTM_0/__call__/Linear_0/__call__/w": hk_params["lstm/linear"]["w"],
            "~/LSTM_0/__call__/Linear_0/__call__/b": hk_params["lstm/linear"]["b"],
            "~/Linear_0/__call__/w": hk_params["linear"]["w"],
            "~/Linear_0/__call__/b": hk_params["linear"]["b"],
        },
    )
    np.testing.assert_allclose(f.apply(params, XS), hk_f.apply(hk_params, XS), rtol=1e-5)


class HkCounter(hk.Module if hk else object):
    def __call__(self, x):
        n = hk.get_state("n", [], init=jnp.zeros)
        hk.set_state("n", n + 1)
        return x * hk.get_parameter("scale", [x.shape[-1]], init=jnp.ones) + n


class Counter(Module):
    def __call__(self, x):
        n = get_state("n", ())
        set_state("n", n + 1)
        return x * get_param("scale", (x.shape[-1],), init="ones") + n


def test_state_converts_the_same_way():
    hk_f = hk.without_apply_rng(hk.transform_with_state(lambda x: HkCounter()(hk.Linear(3)(x))))
    hk_params, hk_state = hk_f.init(jax.random.key(0), X)
    _, hk_state = hk_f.apply(hk_params, hk_state, X)  # n = 1
    f = transform_with_state(lambda x: Counter()(Linear(3)(x)))
    params, state = f.init(0, X)
    params = from_haiku(hk_params, params)
    state = from_haiku(hk_state, state)
    assert_same_values(state, {"~/Counter_0/__call__/n": hk_state["hk_counter"]["n"]})
    out, state = f.apply(params, state, X)
    hk_out, _ = hk_f.apply(hk_params, hk_state, X)
    np.testing.assert_allclose(out, hk_out, rtol=1e-6)
    assert state["~/Counter_0/__call__/n"] == 2


def test_to_haiku_is_the_inverse():
    hk_params = hk.transform(hk_mlp).init(jax.random.key(0), X)
    params = transform(mh_mlp).init(1, X)
    back = to_haiku(params, hk_params)
    assert list(back) == list(hk_params)
    assert list(back["mlp/~/linear_0"]) == ["w", "b"]
    np.testing.assert_array_equal(
        back["mlp/~/linear_2"]["w"], params["~/MLP_0/__call__/Linear_2/__call__/w"]
    )
    assert_same_values(from_haiku(back, params), params)


def test_values_are_not_shared_with_the_inputs():
    hk_params = {"linear": {"w": np.ones((5, 2), np.float32), "b": np.zeros(2, np.float32)}}
    params = transform(lambda x: Linear(2)(x)).init(0, X)
    out = from_haiku(hk_params, params)
    assert all(isinstance(v, jax.Array) for v in out.values())
    assert out is not params and params["~/Linear_0/__call__/w"].shape == (5, 2)


# ---- errors -------------------------------------------------------------------------------


def test_conversion_error_is_a_minihaiku_value_error():
    assert issubclass(ConversionError, MinihaikuError) and issubclass(ConversionError, ValueError)


def test_module_count_mismatch():
    hk_params = hk.transform(hk_mlp).init(jax.random.key(0), X)
    params = transform(lambda x: MLP([8, 2])(x)).init(0, X)
    with pytest.raises(
        ConversionError,
        match=r"from_haiku: the dm-haiku haiku_params have 3 modules but the minihaiku params "
        r"have 2\. dm-haiku: \['mlp/~/linear_0', 'mlp/~/linear_1', 'mlp/~/linear_2'\]; "
        r"minihaiku: \['~/MLP_0/__call__/Linear_0/__call__', '~/MLP_0/__call__/Linear_1/"
        r"__call__'\]\. Build the same architecture on both sides",
    ):
        from_haiku(hk_params, params)


def test_leaf_name_mismatch():
    hk_params = hk.transform(hk_mlp).init(jax.random.key(0), X)
    params = transform(lambda x: MLP([8, 4, 2], with_bias=False)(x)).init(0, X)
    with pytest.raises(
        ConversionError,
        match=r"from_haiku: module #0 does not match: dm-haiku 'mlp/~/linear_0' has the leaves "
        r"\['b', 'w'\] but minihaiku '~/MLP_0/__call__/Linear_0/__call__' has \['w'\]\. "
        r"Check that both models create their layers in the same order with the same options "
        r"\(e\.g\. with_bias\)\. \(Both dicts are in alphabetical order: if one went through "
        r"jax\.jit or tree_map, which sort dict keys, it is not in the creation order the "
        r"pairing relies on\.\)$",
    ):
        from_haiku(hk_params, params)


def test_shape_mismatch():
    hk_params = hk.transform(hk_mlp).init(jax.random.key(0), X)
    params = transform(lambda x: MLP([8, 5, 2])(x)).init(0, X)
    with pytest.raises(
        ConversionError,
        match=r"from_haiku: module #1 does not match: dm-haiku 'mlp/~/linear_1/w' has shape "
        r"\(8, 4\) but minihaiku '~/MLP_0/__call__/Linear_1/__call__/w' has shape \(8, 5\)\. "
        r"Build both models with the same sizes",
    ):
        from_haiku(hk_params, params)


def test_a_sorted_dict_in_the_wrong_order_names_the_cause():
    def hk_fn(x):
        return hk.Linear(2, name="a_head")(hk.Linear(4, name="z_body")(x))

    hk_params = jax.jit(hk.transform(hk_fn).init)(jax.random.key(0), X)
    assert list(hk_params) == ["a_head", "z_body"]
    params = transform(lambda x: Linear(2)(Linear(4)(x))).init(0, X)  # Linear_1 made first
    assert next(iter(params)).startswith("~/Linear_1")
    with pytest.raises(
        ConversionError,
        match=r"module #0 does not match: dm-haiku 'a_head/w' has shape \(4, 2\) but minihaiku "
        r"'~/Linear_1/__call__/w' has shape \(5, 4\)\..* Note: the dm-haiku modules are in "
        r"alphabetical order, which is what jax\.jit, jax\.tree_util\.tree_map and optax give "
        r"back .* pass order= with the module names in creation order",
    ):
        from_haiku(hk_params, params)
    # in creation order it converts, and order= puts it in creation order
    creation = {"z_body": hk_params["z_body"], "a_head": hk_params["a_head"]}
    expected = from_haiku(creation, params)
    assert_same_values(from_haiku(hk_params, params, order=["z_body", "a_head"]), expected)
    assert_same_values(from_haiku(hk_params, params, order=creation), expected)


def test_order_must_name_each_module_once():
    hk_params = {"a": {"w": jnp.ones((5, 2))}, "b": {"w": jnp.ones((2, 2))}}
    params = transform(lambda x: Linear(2, False)(Linear(2, False)(x))).init(0, X)
    with pytest.raises(
        ConversionError,
        match=r"from_haiku: order must name each dm-haiku module once; not in the dict: "
        r"\['c'\], not in order: \['b'\]\. Pass the names \(or the dict\) an un-jitted init",
    ):
        from_haiku(hk_params, params, order=["a", "c"])
    with pytest.raises(ConversionError, match=r"not in order: \[\], and some names repeat"):
        from_haiku(hk_params, params, order=["a", "b", "a"])
    with pytest.raises(
        InvalidArgumentTypeError,
        match=r"from_haiku: order must be the dm-haiku module names in creation order \(a "
        r"list, or an un-jitted init's dict\), got str 'ab'",
    ):
        from_haiku(hk_params, params, order="ab")


def test_a_jitted_minihaiku_init_gets_a_hint_too():
    hk_params = {"b": {"w": jnp.ones((5, 3))}, "a": {"w": jnp.ones((3, 4))}}
    params = jax.jit(transform(lambda x: Linear(4, False)(Linear(3, False)(x))).init)(
        jax.random.key(0), X
    )
    with pytest.raises(
        ConversionError,
        match=r"module #0 does not match: .*Note: the minihaiku modules are in alphabetical "
        r"order; if the minihaiku params went through jax\.jit, eval_shape or tree_map",
    ):
        from_haiku(hk_params, params)


def test_arguments_in_the_wrong_layout():
    hk_params = {"linear": {"w": jnp.ones((5, 2))}}
    params = {"~/Linear_0/__call__/w": jnp.ones((5, 2))}
    for name, call in [
        ("from_haiku", lambda h, p: from_haiku(h, p)),
        ("to_haiku", lambda h, p: to_haiku(p, h)),
    ]:
        with pytest.raises(
            InvalidArgumentTypeError,
            match=rf"{name}: haiku_params must be dm-haiku's nested mapping \{{module_name: "
            r"\{leaf: array\}\}, but '~/Linear_0/__call__/w' holds a ArrayImpl\. Pass the dict "
            r"dm-haiku's init returned \(not minihaiku's flat one\)\.",
        ):
            call(params, params)
        with pytest.raises(
            InvalidArgumentTypeError,
            match=rf"{name}: haiku_params must be dm-haiku's nested mapping .*, got list\.",
        ):
            call([], params)
        with pytest.raises(
            InvalidArgumentTypeError,
            match=rf"{name}: params must be minihaiku's flat mapping from path to array, but "
            r"entry 'linear' holds a dict\. Pass what minihaiku's init returned",
        ):
            call(hk_params, hk_params)
        with pytest.raises(
            InvalidArgumentTypeError,
            match=rf"{name}: params must be minihaiku's flat mapping from path to array \(what "
            r"init returned\), got tuple\.",
        ):
            call(hk_params, ())


def test_leaf_name_mismatch_after_matching_modules():
    hk_params = {"z": {"w": jnp.ones((5, 4)), "b": jnp.ones(4)}, "a": {"w": jnp.ones((4, 2))}}
    params = transform(lambda x: Linear(2)(Linear(4)(x))).init(0, X)
    with pytest.raises(
        ConversionError,
        match=r"from_haiku: module #1 does not match: dm-haiku 'a' has the leaves \['w'\] but "
        r"minihaiku '~/Linear_0/__call__' has \['b', 'w'\]\. The modules before it matched; "
        r"check that both models create their layers in the same order with the same "
        r"options \(e\.g\. with_bias\)\.$",
    ):
        from_haiku(hk_params, params)


def test_conv_net_checkpoint():
    def make(lib):
        def fn(images):
            x = jax.nn.relu(lib.Conv2D(8, 3)(images))
            x = lib.max_pool(x, window_shape=(1, 2, 2, 1), strides=(1, 2, 2, 1), padding="SAME")
            x = jax.nn.relu(lib.Conv2D(4, (3, 3), stride=2, padding="VALID")(x))
            return lib.Linear(10)(x.reshape(x.shape[0], -1))

        return fn

    class MH:
        Conv2D = Conv2D
        Linear = Linear
        max_pool = staticmethod(max_pool)

    images = jax.random.normal(jax.random.key(5), (2, 12, 12, 3))
    hk_f = hk.without_apply_rng(hk.transform(make(hk)))
    hk_params = hk_f.init(jax.random.key(0), images)
    assert list(hk_params) == ["conv2_d", "conv2_d_1", "linear"]
    f = transform(make(MH))
    params = from_haiku(hk_params, f.init(0, images))
    assert_same_values(
        params,
        {
            "~/Conv2D_0/__call__/w": hk_params["conv2_d"]["w"],
            "~/Conv2D_0/__call__/b": hk_params["conv2_d"]["b"],
            "~/Conv2D_1/__call__/w": hk_params["conv2_d_1"]["w"],
            "~/Conv2D_1/__call__/b": hk_params["conv2_d_1"]["b"],
            "~/Linear_0/__call__/w": hk_params["linear"]["w"],
            "~/Linear_0/__call__/b": hk_params["linear"]["b"],
        },
    )
    np.testing.assert_allclose(
        f.apply(params, images), hk_f.apply(hk_params, images), rtol=1e-5, atol=1e-6
    )


def hk_deep_mlp(x):
    return hk.nets.MLP([4] * 12)(x)


def mh_deep_mlp(x):
    return MLP([4] * 12)(x)


def test_a_sorted_dict_with_ten_or_more_equal_modules_is_paired_in_numeric_order():
    x = jnp.ones((2, 4))
    hk_f = hk.without_apply_rng(hk.transform(hk_deep_mlp))
    hk_params = hk_f.init(jax.random.key(0), x)
    tree_mapped = jax.tree_util.tree_map(lambda a: a, hk_params)
    assert list(tree_mapped)[:3] == ["mlp/~/linear_0", "mlp/~/linear_1", "mlp/~/linear_10"]
    f = transform(mh_deep_mlp)
    params = f.init(0, x)
    with pytest.warns(
        UserWarning,
        match=r"^from_haiku: the dm-haiku haiku_params are in alphabetical order \(jax\.jit, "
        r"jax\.tree_util\.tree_map and optax sort dict keys\), which puts 'mlp/~/linear_10' "
        r"before 'mlp/~/linear_2': no creation order does that\. Paired them in numeric "
        r"order instead, which moved \['mlp/~/linear_2', 'mlp/~/linear_3', 'mlp/~/linear_4', "
        r"'mlp/~/linear_5', 'mlp/~/linear_6', 'mlp/~/linear_7', 'mlp/~/linear_8', "
        r"'mlp/~/linear_9'\] and 2 more\. Pass order= with the dm-haiku module names in "
        r"creation order, e.g\. order=<the dict an un-jitted hk\.transform\(f\)\.init "
        r"returned>, to silence this\.$",
    ):
        converted = from_haiku(tree_mapped, params)
    assert_same_values(converted, from_haiku(hk_params, params))
    np.testing.assert_allclose(f.apply(converted, x), hk_f.apply(hk_params, x), rtol=1e-6)
    # to_haiku pairs the same way, and gives the modules back in creation order
    with pytest.warns(
        UserWarning,
        match=r"^to_haiku: the dm-haiku haiku_params are in .*\. Pass haiku_params from an "
        r"un-jitted hk\.transform\(f\)\.init \(creation order\), to silence this\.$",
    ):
        back = to_haiku(converted, tree_mapped)
    assert list(back) == list(hk_params)
    for name in hk_params:
        for leaf in hk_params[name]:
            np.testing.assert_array_equal(back[name][leaf], hk_params[name][leaf])
    # a sorted minihaiku side (jitted init) is put in numeric order too
    jitted = jax.jit(f.init)(jax.random.key(0), x)
    with pytest.warns(
        UserWarning,
        match=r"^from_haiku: the minihaiku params are in .*\. Pass params from an un-jitted "
        r"minihaiku init \(creation order\), to silence this\.$",
    ):
        from_jitted = from_haiku(hk_params, jitted)
    expected = from_haiku(hk_params, params)
    assert_same_values({k: from_jitted[k] for k in expected}, expected)


def test_a_sorted_dict_whose_numeric_order_is_ambiguous_is_refused():
    hk_params = {
        f"linear_{i}": {"w": jnp.ones((5, 5))} for i in ("0", "01", "1", "10", *"23456789")
    }
    params = transform(lambda x: MLP([5] * 12)(x)).init(0, X)
    params = {k: v for k, v in params.items() if k.endswith("/w")}
    with pytest.raises(
        ConversionError,
        match=r"^from_haiku: the dm-haiku haiku_params are in alphabetical order \(jax\.jit, "
        r"jax\.tree_util\.tree_map and optax sort dict keys\), which puts 'linear_10' before "
        r"'linear_2', so they are not in creation order, and their numeric order is "
        r"ambiguous \(numbers with leading zeros or inside names\)\. Pass order= with the "
        r"dm-haiku module names in creation order, e.g\. order=<the dict an un-jitted "
        r"hk\.transform\(f\)\.init returned>\.$",
    ):
        from_haiku(hk_params, params)
    # order= settles it, without a warning
    order = [f"linear_{i}" for i in ("0", "01", "1", *"23456789", "10")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(from_haiku(hk_params, params, order=order)) == 12


def test_a_sorted_dict_in_numeric_order_converts_without_a_warning():
    # 'lstm/linear' before 'lstm_1/linear' and 'linear' before 'linear_1' is sorted and numeric
    hk_params = {
        name: {"w": jnp.ones((5, 5))}
        for name in ("linear", "linear_1", "lstm/linear", "lstm_1/linear")
    }
    params = transform(lambda x: MLP([5] * 4)(x)).init(0, X)
    params = {k: v for k, v in params.items() if k.endswith("/w")}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(from_haiku(hk_params, params)) == 4
