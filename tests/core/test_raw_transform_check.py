"""The raw-transform check (``_trace.py``) reads the Python stack, not JAX's trace state.

JAX calls the user's code back without a new trace in ``jax.tree.map``,
``jax.named_call`` and a custom_jvp/custom_vjp function outside any
transform: creating parameters there is fine. Every tracing transform is an
``UnliftedTransformError`` with the hint for its kind.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import UnliftedTransformError, get_param, next_rng_key, transform
from minihaiku.core._concrete import is_tracer

ONES = jax.nn.initializers.ones
X = jnp.ones(3)


def _param(_=None):
    return get_param("w", (), init=ONES)


def _custom_jvp(x):
    f = jax.custom_jvp(lambda y: y * _param())
    f.defjvp(lambda p, t: (f(*p), t[0]))
    return f(x)


def _custom_vjp(x):
    f = jax.custom_vjp(lambda y: y * _param())
    f.defvjp(lambda y: (f(y), None), lambda _, g: (g,))
    return f(x)


@pytest.mark.parametrize(
    "body",
    [
        lambda x: jax.tree.map(lambda leaf: leaf * _param(), [x])[0],
        lambda x: jax.named_call(lambda y: y * _param(), name="inner")(x),
        _custom_jvp,
        _custom_vjp,
    ],
    ids=["tree.map", "named_call", "custom_jvp", "custom_vjp"],
)
def test_callbacks_without_a_new_trace_may_create_params(body):
    params = transform(body).init(0, X)
    np.testing.assert_array_equal(params["~/w"], 1.0)


@pytest.mark.parametrize(
    ("wrap", "hint"),
    [
        (lambda f: jax.jvp(f, (X,), (X,)), "(jax.grad or jax.jvp; use minihaiku.core.grad"),
        (lambda f: jax.linearize(f, X), "(jax.grad or jax.jvp; use minihaiku.core.grad"),
        (lambda f: jax.eval_shape(f, X), "(jax.jit, lax.scan, lax.cond"),
        (lambda f: jax.checkpoint(f)(X), "(jax.jit, lax.scan, lax.cond"),
        (lambda f: jax.lax.cond(True, f, f, X), "(jax.jit, lax.scan, lax.cond"),
        (lambda f: jax.lax.while_loop(lambda c: False, f, X), "(jax.jit, lax.scan, lax.cond"),
        (lambda f: jnp.vectorize(f)(X), "(jax.vmap; use minihaiku.core.vmap)"),
        (lambda f: jax.vmap(jax.jit(f))(X), "(jax.jit, lax.scan, lax.cond"),  # innermost
        (lambda f: jax.jit(jax.vmap(f))(X), "(jax.vmap; use minihaiku.core.vmap)"),
    ],
)
def test_every_tracing_transform_is_an_error_with_its_kind(wrap, hint):
    with pytest.raises(UnliftedTransformError) as e:
        transform(lambda: wrap(lambda y: y * _param())).init(0)
    assert str(e.value).startswith(
        f"creating parameter '~/w' inside a raw JAX transform that was applied inside the "
        f"transformed function {hint}"
    )


def test_init_under_an_outer_jit_or_vmap_is_fine():
    f = transform(lambda x: x * _param() + jax.random.uniform(next_rng_key()))
    ref = f.init(0, X)
    np.testing.assert_array_equal(jax.jit(f.init)(0, X)["~/w"], ref["~/w"])
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    assert jax.vmap(f.init, (0, None))(keys, X)["~/w"].shape == (2,)


def test_is_tracer_tells_traced_arrays_and_keys_from_concrete_ones():
    seen = []
    jax.vmap(lambda x, k: seen.extend([is_tracer(x), is_tracer(k)]))(
        jnp.ones(2), jax.random.split(jax.random.key(0))
    )
    jax.jit(lambda x: seen.append(is_tracer(x)))(1.0)
    assert seen == [True, True, True]
    concrete = [jnp.ones(2), jax.random.key(0), jax.random.PRNGKey(0), np.ones(2), 1.0, None]
    assert [is_tracer(v) for v in concrete] == [False] * 6
