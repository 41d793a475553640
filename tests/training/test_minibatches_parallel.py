"""Minibatches over 8 forced CPU devices give the numbers of one device."""

import textwrap

import numpy as np
import optax
import pytest

from minihaiku.training import quadratic_data, quadratic_model, train

EIGHT_DEVICES = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np, optax
    from minihaiku.training import quadratic_data, quadratic_model, train
    xs, ys = quadratic_data()
    model = quadratic_model()
    r = train(model, model.init(0, xs), (xs, ys), optax.adam(1e-3), 12, batch_size=32,
              steps_per_dispatch=5, progress=False)
    json.dump({"devices": jax.device_count(), "losses": r.losses.tolist(),
               "params": {k: np.asarray(v).ravel().tolist() for k, v in r.params.items()}},
              sys.stdout)
    """
)


@pytest.mark.multiprocess
def test_minibatches_split_over_eight_devices_give_the_numbers_of_one(eight_devices_run):
    out = eight_devices_run("-c", EIGHT_DEVICES)
    assert out["devices"] == 8
    xs, ys = quadratic_data()
    model = quadratic_model()
    want = train(
        model,
        model.init(0, xs),
        (xs, ys),
        optax.adam(1e-3),
        12,
        batch_size=32,
        steps_per_dispatch=5,
        progress=False,
        data_parallel=False,
    )
    np.testing.assert_allclose(out["losses"], want.losses, rtol=1e-5)
    for k, v in want.params.items():
        np.testing.assert_allclose(out["params"][k], np.asarray(v).ravel(), rtol=1e-4, atol=1e-6)
