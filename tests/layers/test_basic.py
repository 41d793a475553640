"""Sequential, Reshape, Flatten, BatchApply, dropout: parity with dm-haiku, errors, lowering."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku import layers
from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    NotCallableError,
    RngError,
    transform,
)

hk = pytest.importorskip("haiku")

x = jax.random.normal(jax.random.PRNGKey(0), (4, 3))


def hk_to_flat(hk_params, names):
    """dm-haiku's nested params as minihaiku's flat ones, module by module (``names``)."""
    return {
        f"{names[m]}/{leaf}": v for m, leaves in hk_params.items() for leaf, v in leaves.items()
    }


def test_sequential_matches_dm_haiku():
    make = lambda m: m.Sequential([m.Linear(5), jax.nn.tanh, m.Linear(2)])
    g = hk.without_apply_rng(hk.transform(lambda x: make(hk)(x)))
    hk_params = g.init(jax.random.PRNGKey(0), x)
    f = transform(lambda x: make(layers)(x))
    params = hk_to_flat(
        hk_params, {"linear": "~/Linear_0/__call__", "linear_1": "~/Linear_1/__call__"}
    )
    assert sorted(params) == sorted(f.init(0, x))
    np.testing.assert_allclose(f.apply(params, x), g.apply(hk_params, x), rtol=1e-6)
    loss = lambda apply: jax.grad(lambda p, x: jnp.sum(apply(p, x) ** 2), argnums=(0, 1))
    (hk_gp, hk_gx), (gp, gx) = loss(g.apply)(hk_params, x), loss(f.apply)(params, x)
    np.testing.assert_allclose(gx, hk_gx, rtol=1e-5, atol=1e-6)
    for k, v in hk_to_flat(
        hk_gp, {"linear": "~/Linear_0/__call__", "linear_1": "~/Linear_1/__call__"}
    ).items():
        np.testing.assert_allclose(gp[k], v, rtol=1e-5, atol=1e-6)


def test_sequential_passes_extra_arguments_to_the_first_layer_only():
    seen = []
    first = lambda v, scale, shift=0.0: v * scale + shift
    second = lambda v: seen.append(v) or v + 1
    out = transform(lambda v: layers.Sequential([first, second])(v, 3.0, shift=1.0)).apply(
        {}, jnp.ones(2)
    )
    np.testing.assert_array_equal(out, [5.0, 5.0])
    np.testing.assert_array_equal(seen[0], [4.0, 4.0])


def test_sequential_rejects_what_is_not_a_list_of_callables():
    with pytest.raises(InvalidArgumentTypeError) as e:
        transform(lambda v: layers.Sequential(3)(v)).init(0, x)
    assert str(e.value) == (
        "Sequential ~/Sequential_0: layers must be an iterable of callables, got int 3. "
        "Pass e.g. [Linear(8), jax.nn.relu]."
    )
    with pytest.raises(NotCallableError) as e:
        transform(lambda v: layers.Sequential([jnp.tanh, "relu"])(v)).init(0, x)
    assert str(e.value) == (
        "Sequential ~/Sequential_0: layers[1] is not callable: str 'relu'. Every layer "
        "must be a module or a function."
    )


@pytest.mark.parametrize(
    ("cls", "args", "shape"),
    [
        ("Reshape", ((-1, 5), 1), (2, 3, 4, 5)),
        ("Reshape", ((-1, 5), 2), (2, 3, 4, 5)),
        ("Reshape", ((-1, 5), 4), (2, 3, 4, 5)),
        ("Reshape", ((-1, 5), -3), (2, 3, 4, 5)),
        ("Reshape", ((-1, 5), -3), (3, 4, 5)),
        ("Reshape", ((6, -1), 1), (2, 3, 4, 5)),
        ("Reshape", ((12, 5), 1), (2, 3, 4, 5)),
        ("Reshape", ((4,), 2), (2, 3)),  # returned unchanged
        ("Flatten", (), (3, 2, 4)),
        ("Flatten", (2,), (3, 2, 4)),
        ("Flatten", (-2,), (2, 4)),
        ("Flatten", (), (3,)),
    ],
)
def test_reshape_and_flatten_match_dm_haiku(cls, args, shape):
    v = jnp.arange(float(np.prod(shape))).reshape(shape)
    ours = transform(lambda v: getattr(layers, cls)(*args)(v)).apply({}, v)
    theirs = hk.without_apply_rng(hk.transform(lambda v: getattr(hk, cls)(*args)(v))).apply({}, v)
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_reshape_errors():
    cases = [
        (lambda: layers.Reshape((-1,), preserve_dims=0), InvalidArgumentError,
         "Reshape ~/Reshape_0: preserve_dims must not be 0. Pass a positive number of "
         "leading axes to keep, or a negative number of trailing axes to reshape."),
        (lambda: layers.Flatten(preserve_dims=0), InvalidArgumentError,
         "Flatten ~/Flatten_0: preserve_dims must not be 0. Pass a positive number of "
         "leading axes to keep, or a negative number of trailing axes to reshape."),
        (lambda: layers.Reshape((-1, -1)), InvalidArgumentError,
         "Reshape ~/Reshape_0: output_shape (-1, -1) has more than one -1; only one size "
         "can be inferred."),
        (lambda: layers.Reshape((2, -3)), InvalidArgumentError,
         "Reshape ~/Reshape_0: output_shape (2, -3) has a negative size other than -1."),
        (lambda: layers.Reshape((2.5, 2)), InvalidArgumentTypeError,
         "Reshape ~/Reshape_0: output_shape must be a sequence of ints, got (2.5, 2). Pass "
         "e.g. output_shape=(-1, 8)."),
        (lambda: layers.Reshape((5, 5)), InvalidArgumentError,
         "Reshape ~/Reshape_0 cannot reshape the axes (3,) of the input of shape (4, 3) to "
         "output_shape (5, 5): the sizes differ (3 vs 25). Check output_shape and "
         "preserve_dims."),
    ]  # fmt: skip
    for make, kind, message in cases:
        with pytest.raises(kind) as e:
            transform(lambda v, make=make: make()(v)).init(0, x)
        assert str(e.value) == message


def test_jitted_flatten_lowers_to_a_plain_reshape():
    v = jnp.ones((2, 3, 4))
    f = transform(lambda v: layers.Flatten()(v))
    body = lambda t: [ln.split("=", 1)[-1].strip() for ln in t.splitlines() if "stablehlo." in ln]
    ours = body(jax.jit(f.apply).lower({}, v).as_text())
    assert ours == body(jax.jit(lambda v: jnp.reshape(v, (2, 12))).lower(v).as_text())
    assert any("stablehlo.reshape" in ln for ln in ours)


def test_batch_apply_matches_dm_haiku():
    v = jax.random.normal(jax.random.PRNGKey(1), (5, 3, 2))
    small = jnp.arange(2.0)  # rank 1 < num_dims: passed unchanged

    def make(m):
        lin = m.Linear(4)
        return lambda a, b: {"y": m.BatchApply(lambda a, b: lin(a) + b)(a, b=b)}

    g = hk.without_apply_rng(hk.transform(lambda a, b: make(hk)(a, b)))
    hk_params = g.init(jax.random.PRNGKey(0), v, small[:1])
    f = transform(lambda a, b: make(layers)(a, b))
    params = hk_to_flat(hk_params, {"linear": "~/Linear_0/__call__"})
    assert sorted(params) == sorted(f.init(0, v, small[:1]))
    out = f.apply(params, v, small[:1])["y"]
    assert out.shape == (5, 3, 4)
    np.testing.assert_allclose(out, g.apply(hk_params, v, small[:1])["y"], rtol=1e-6)


def test_batch_apply_errors():
    with pytest.raises(InvalidArgumentError) as e:
        layers.BatchApply(jnp.tanh, num_dims=3)(jnp.ones((2, 2)), jnp.ones(3))
    assert str(e.value) == (
        "BatchApply needs at least one input with at least num_dims=3 axes to merge, got "
        "inputs of shapes [(2, 2), (3,)]. Lower num_dims or add axes."
    )
    with pytest.raises(InvalidArgumentError, match=r"^BatchApply: num_dims must be a positive"):
        layers.BatchApply(jnp.tanh, num_dims=0)
    with pytest.raises(NotCallableError, match=r"^BatchApply: f must be callable, got int 3"):
        layers.BatchApply(3)


@pytest.mark.parametrize(
    ("rate", "dims"), [(0.1, ()), (0.5, ()), (0.9, (0,)), (0.3, (-1,)), (0.5, (0, 2))]
)
def test_dropout_gives_dm_haikus_mask_for_the_same_key(rate, dims):
    v = jax.random.normal(jax.random.PRNGKey(2), (4, 5, 6))
    key = jax.random.PRNGKey(7)
    ours = layers.dropout(key, rate, v, broadcast_dims=dims)
    theirs = hk.dropout(key, rate, v, broadcast_dims=dims)
    np.testing.assert_array_equal(ours, theirs)
    kept = np.asarray(ours) != 0
    np.testing.assert_allclose(np.asarray(ours)[kept], np.asarray(v)[kept] / (1 - rate), rtol=1e-6)
    for d in dims:  # broadcast axes share the mask
        assert (np.take(kept, [0], axis=d) == kept).all()
    # a traced rate skips the checks and still agrees
    jitted = jax.jit(lambda r: layers.dropout(key, r, v, broadcast_dims=dims))(rate)
    np.testing.assert_allclose(jitted, theirs, rtol=1e-6)


def test_dropout_rate_zero_returns_the_input_itself():
    assert layers.dropout(jax.random.PRNGKey(0), 0.0, x) is x


def test_dropout_errors():
    key = jax.random.PRNGKey(0)
    for rate in (1.0, -0.1):
        with pytest.raises(InvalidArgumentError) as e:
            layers.dropout(key, rate, x)
        assert str(e.value) == (
            f"dropout: rate must be in [0, 1) (the probability of dropping an entry), got {rate!r}."
        )
    with pytest.raises(InvalidArgumentError) as e:
        layers.dropout(key, 0.5, x, broadcast_dims=(2,))
    assert str(e.value) == (
        "dropout: broadcast_dims has 2, which is not an axis of x of shape (4, 3). Give "
        "axes in [-2, 1]."
    )
    with pytest.raises(RngError) as e:
        layers.dropout(None, 0.5, x)
    assert str(e.value) == (
        "dropout: rng is None. Pass a PRNG key, e.g. dropout(next_rng_key(), rate, x) "
        "inside a function transformed with apply_rng=True."
    )
