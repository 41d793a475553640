"""Parameter and method interceptors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    MethodContext,
    NotInTransformError,
    intercept_methods,
    intercept_params,
    transform,
)
from minihaiku.layers import MLP, Linear

x = jnp.ones((2, 3))


def test_param_interceptor_casts_to_bf16_without_changing_params():
    seen = []

    def f(x):
        def to_bf16(path, value):
            seen.append(path)
            return value.astype(jnp.bfloat16)

        with intercept_params(to_bf16):
            return Linear(2)(x.astype(jnp.bfloat16))

    t = transform(f)
    params = t.init(0, jnp.ones((2, 3), jnp.float32))
    # Linear makes params in the input's dtype: bf16 input -> bf16 params; so cast back
    params = t.init(0, x)
    assert {v.dtype for v in params.values()} == {jnp.dtype(jnp.bfloat16)}
    seen.clear()
    out = t.apply(params, x)
    assert out.dtype == jnp.bfloat16
    assert seen == ["~/Linear_0/__call__/w", "~/Linear_0/__call__/b"]


def test_param_interceptor_casting_float32_params_for_compute():
    def f(x):
        lin = Linear(2)
        lin(x)  # create float32 params
        with intercept_params(lambda p, v: v.astype(jnp.bfloat16)):
            return lin(x.astype(jnp.bfloat16))

    t = transform(f)
    params = t.init(0, x)
    assert params["~/Linear_0/__call__/w"].dtype == jnp.float32
    assert t.apply(params, x).dtype == jnp.bfloat16


def test_stop_gradient_interceptor_freezes_selected_params():
    def f(x):
        def freeze_w(path, value):
            return jax.lax.stop_gradient(value) if path.endswith("/w") else value

        with intercept_params(freeze_w):
            return jnp.sum(Linear(2)(x))

    t = transform(f)
    params = t.init(0, x)
    g = jax.grad(t.apply)(params, x)
    np.testing.assert_array_equal(g["~/Linear_0/__call__/w"], np.zeros((3, 2)))
    np.testing.assert_array_equal(g["~/Linear_0/__call__/b"], [2.0, 2.0])


def test_counting_reads_and_nesting_order():
    order = []

    def f(x):
        mlp = MLP([4, 4, 1])
        with (
            intercept_params(lambda p, v: order.append("outer") or v + 1),
            intercept_params(lambda p, v: order.append("inner") or v * 2),
        ):
            return mlp(x)

    t = transform(f)
    params = {k: jnp.zeros_like(v) for k, v in t.init(0, x).items()}
    order.clear()
    out = t.apply(params, x)
    assert order[:2] == ["outer", "inner"] and len(order) == 12
    # (0 + 1) * 2 = 2 for every parameter.
    h = jax.nn.relu(x @ jnp.full((3, 4), 2.0) + 2.0)
    h = jax.nn.relu(h @ jnp.full((4, 4), 2.0) + 2.0)
    np.testing.assert_allclose(out, h @ jnp.full((4, 1), 2.0) + 2.0)


def test_method_interceptor_sees_every_call_and_may_change_results():
    log = []

    def interceptor(next_fun, args, kwargs, context):
        assert isinstance(context, MethodContext)
        out = next_fun(*args, **kwargs)
        shape = None if context.method_name == "__init__" else out.shape
        log.append((context.module.module_path, context.method_name, shape))
        if context.module.name == "Linear_1" and shape is not None:
            return out * 0
        return out

    def f(x):
        with intercept_methods(interceptor):
            return MLP([4, 1], name="mlp")(x)

    t = transform(f)
    params = t.init(0, x)
    log.clear()
    out = t.apply(params, x)
    # __init__ is intercepted too (as in dm-haiku), logged here once it returned.
    assert log == [
        ("~/mlp", "__init__", None),
        ("~/mlp/__call__/Linear_0", "__init__", None),
        ("~/mlp/__call__/Linear_0", "__call__", (2, 4)),
        ("~/mlp/__call__/Linear_1", "__init__", None),
        ("~/mlp/__call__/Linear_1", "__call__", (2, 1)),
        ("~/mlp", "__call__", (2, 1)),
    ]
    np.testing.assert_array_equal(out, np.zeros((2, 1)))


def test_method_interceptor_can_change_arguments():
    def double_input(next_fun, args, kwargs, context):
        return next_fun(args[0] * 2, *args[1:], **kwargs)

    def f(x):
        lin = Linear(1, w_init="ones", b_init="zeros")
        with intercept_methods(double_input):
            return lin(x)

    assert transform(f).apply(transform(f).init(0, x), x).tolist() == [[6.0], [6.0]]


@pytest.mark.parametrize("ctx", [intercept_params, intercept_methods])
def test_interceptors_outside_transform(ctx):
    with pytest.raises(NotInTransformError) as e, ctx(lambda *a: None):
        pass
    assert str(e.value).startswith(f"{ctx.__name__} must be called inside a function transformed")
