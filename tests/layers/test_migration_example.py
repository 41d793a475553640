"""The worked example with state of docs/migration.md: a conv net with BatchNorm moves over.

The code below is the page's, line for line (the dm-haiku half and the
minihaiku half), so the page's claims are checked: same outputs after the
move, and the moving averages go on from dm-haiku's.
"""

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from minihaiku.core import transform_with_state
from minihaiku.layers import BatchNorm, Conv2D, Linear, from_haiku


def hk_net(images, is_training):
    x = hk.Conv2D(16, 3)(images)
    x = hk.BatchNorm(create_scale=True, create_offset=True, decay_rate=0.9)(x, is_training)
    x = jax.nn.relu(x)
    return hk.Linear(10)(x.reshape(x.shape[0], -1))


def net(images, is_training):
    x = Conv2D(16, 3)(images)
    x = BatchNorm(create_scale=True, create_offset=True, decay_rate=0.9)(x, is_training)
    x = jax.nn.relu(x)
    return Linear(10)(x.reshape(x.shape[0], -1))


def test_a_conv_net_with_batch_norm_moves_over_with_its_state():
    images = jax.random.normal(jax.random.key(1), (4, 8, 8, 3))
    hk_f = hk.without_apply_rng(hk.transform_with_state(hk_net))
    hk_params, hk_state = hk_f.init(jax.random.key(0), images, True)
    for _ in range(3):  # dm-haiku's run: three training steps' worth of averages
        _, hk_state = hk_f.apply(hk_params, hk_state, images, True)

    f = transform_with_state(net)
    params, state = f.init(0, images, True)  # un-jitted: paths in creation order
    params = from_haiku(hk_params, params)
    state = from_haiku(hk_state, state)
    assert sorted(state) == [
        "~/BatchNorm_0/mean_ema/average",
        "~/BatchNorm_0/mean_ema/counter",
        "~/BatchNorm_0/mean_ema/hidden",
        "~/BatchNorm_0/var_ema/average",
        "~/BatchNorm_0/var_ema/counter",
        "~/BatchNorm_0/var_ema/hidden",
    ]
    np.testing.assert_array_equal(
        state["~/BatchNorm_0/mean_ema/counter"], hk_state["batch_norm/~/mean_ema"]["counter"]
    )
    # Evaluation reads the moved averages; training moves them on as dm-haiku would.
    for is_training in (False, True):
        out, new_state = f.apply(params, state, images, is_training)
        hk_out, hk_new_state = hk_f.apply(hk_params, hk_state, images, is_training)
        np.testing.assert_allclose(out, hk_out, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            new_state["~/BatchNorm_0/var_ema/average"],
            hk_new_state["batch_norm/~/var_ema"]["average"],
            rtol=1e-6,
        )
    assert jnp.asarray(out).shape == (4, 10)
