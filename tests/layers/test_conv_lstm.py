"""Conv1DLSTM/Conv2DLSTM/Conv3DLSTM: parity with dm-haiku over an unroll, names, states, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku import layers
from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError, transform
from minihaiku.layers import LSTMState, dynamic_unroll

hk = pytest.importorskip("haiku")

CASES = {
    "1d": ("Conv1DLSTM", "conv1_dlstm", (6,), 3),
    "2d": ("Conv2DLSTM", "conv2_dlstm", (5, 4), (3, 2)),
    "3d": ("Conv3DLSTM", "conv3_dlstm", (2, 3, 3), 2),
}


def unroll(lib, cls, spatial, kernel):
    def f(xs):
        core = getattr(lib, cls)(spatial, 4, kernel)
        return dynamic_unroll_of(lib)(core, xs, core.initial_state(xs.shape[1]))

    return f


def dynamic_unroll_of(lib):
    return hk.dynamic_unroll if lib is hk else dynamic_unroll


@pytest.mark.parametrize("case", list(CASES))
def test_matches_dm_haiku_over_an_unroll(case):
    cls, hk_name, spatial, kernel = CASES[case]
    xs = jax.random.normal(jax.random.key(1), (3, 2, *spatial, 3))  # time, batch, ..., channels
    hk_f = hk.without_apply_rng(hk.transform(unroll(hk, cls, spatial, kernel)))
    hk_params = hk_f.init(jax.random.key(0), xs)
    f = transform(unroll(layers, cls, spatial, kernel))
    own = f.init(0, xs)
    params = {}
    for sub in ("input_to_hidden", "hidden_to_hidden"):
        for leaf in ("w", "b"):
            # a nonzero bias, so that the gate order matters
            value = hk_params[f"{hk_name}/{sub}"][leaf] + (0.3 if leaf == "b" else 0.0)
            hk_params[f"{hk_name}/{sub}"][leaf] = value
            params[f"~/{cls}_0/__call__/{sub}/__call__/{leaf}"] = value
    assert {k: v.shape for k, v in own.items()} == {k: v.shape for k, v in params.items()}
    hk_out, hk_state = hk_f.apply(hk_params, xs)
    out, state = f.apply(params, xs)
    assert isinstance(state, LSTMState)
    np.testing.assert_allclose(out, hk_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state.cell, hk_state.cell, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state.hidden, hk_state.hidden, rtol=1e-5, atol=1e-6)


def test_initial_state_shapes_are_dm_haikus():
    ours = jax.tree_util.tree_map(jnp.shape, transform(lambda: _states(layers)).apply({}))
    theirs = jax.tree_util.tree_map(jnp.shape, hk.transform(lambda: _states(hk)).apply({}, None))
    assert (
        ours
        == theirs
        == (
            LSTMState((2, 5, 5, 4), (2, 5, 5, 4)),
            LSTMState((5, 5, 4), (5, 5, 4)),
        )
    )


def _states(lib):
    core = lib.Conv2DLSTM((5, 5), 4, 3)
    return tuple(core.initial_state(2)), tuple(core.initial_state(None))


def test_errors():
    with pytest.raises(InvalidArgumentTypeError, match=r"input_shape must be the 2 spatial sizes"):
        transform(lambda: layers.Conv2DLSTM((5, 5, 3), 4, 3)).init(0)
    with pytest.raises(InvalidArgumentError, match="output_channels"):
        transform(lambda: layers.Conv1DLSTM((5,), 0, 3)).init(0)
    with pytest.raises(InvalidArgumentTypeError, match="kernel_shape"):
        transform(lambda: layers.Conv1DLSTM((5,), 2, (3, 3))).init(0)


def test_input_of_another_spatial_shape_is_refused():
    def f(x):
        core = layers.Conv2DLSTM((5, 5), 2, 3)
        return core(x, core.initial_state(1))

    with pytest.raises(
        InvalidArgumentError,
        match=r"Conv2DLSTM_0: the input must have the spatial shape input_shape=\(5, 5\)",
    ):
        transform(f).init(0, jnp.ones((1, 4, 5, 3)))
