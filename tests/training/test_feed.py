"""Where the minibatches of train(batch_size=) are gathered: on the device, or on the host."""

import jax
import numpy as np
import optax
import pytest

from minihaiku.training import Loss, _feed, mse_loss, quadratic_data, quadratic_model, train
from minihaiku.training._data import ArrayBatches, FullBatch
from minihaiku.training._feed import Feeder

xs, ys = quadratic_data()
model = quadratic_model((8, 1))
params0 = model.init(0, xs)


def feeder(data, parallel=False):
    return Feeder(data, jax.device_put, jax.device_put, parallel)


def test_small_arrays_are_gathered_on_the_device_from_indices():
    feed = feeder(ArrayBatches((xs, ys), 24, seed=5))
    assert feed.gather
    table, idx = feed.fetch(10, 3)
    assert idx.shape == (3, 24) and idx.dtype == np.int32
    # Steps 10-12 of 24-example batches over 128 examples (5 per epoch): epoch 2, batches 0-2.
    perm = np.random.default_rng((5, 2)).permutation(128)
    np.testing.assert_array_equal(np.asarray(idx), perm[:72].reshape(3, 24))
    np.testing.assert_array_equal(np.asarray(table[0]), xs)
    # The final batch is the last step's, gathered on the host.
    last_x, last_y = feed.last((table, idx))
    np.testing.assert_array_equal(np.asarray(last_x), xs[perm[48:72]])
    np.testing.assert_array_equal(np.asarray(last_y), ys[perm[48:72]])


def test_large_arrays_iterators_and_data_parallel_runs_are_stacked_on_the_host(monkeypatch):
    assert not feeder(ArrayBatches((xs, ys), 24, seed=0), parallel=True).gather
    assert not feeder(FullBatch((xs, ys))).gather
    monkeypatch.setattr(_feed, "DEVICE_GATHER_BYTES", xs.nbytes + ys.nbytes - 1)
    feed = feeder(ArrayBatches((xs, ys), 24, seed=0))
    assert not feed.gather
    got_x, _ = feed.fetch(0, 2)
    assert got_x.shape == (2, 24, 1)


def noisy(p, batch, key):
    return mse_loss(model)(p, batch) + 0.01 * jax.random.normal(key)


@pytest.mark.parametrize("loss", [mse_loss(model), Loss(noisy, rng=True)], ids=["plain", "rng"])
def test_gathering_on_the_device_gives_the_results_of_host_stacking(monkeypatch, loss):
    kw = dict(batch_size=24, seed=5, steps_per_dispatch=4, progress=False)
    on_device = train(loss, params0, (xs, ys), optax.adam(1e-2), 11, **kw)
    monkeypatch.setattr(_feed, "DEVICE_GATHER_BYTES", 0)
    on_host = train(loss, params0, (xs, ys), optax.adam(1e-2), 11, **kw)
    np.testing.assert_array_equal(on_device.losses, on_host.losses)
    assert on_device.final_loss == on_host.final_loss
    for k in params0:
        np.testing.assert_array_equal(on_device.params[k], on_host.params[k])


@pytest.mark.parametrize(("n", "batch_size"), [(10, 4), (128, 24), (5, 5)])
@pytest.mark.parametrize(("start", "count"), [(0, 1), (1, 3), (7, 14), (13, 50)])
def test_the_indices_of_a_chunk_are_each_steps_batch_across_epochs(n, batch_size, start, count):
    source = ArrayBatches(np.zeros((n, 1)), batch_size, seed=3)
    per_epoch = n // batch_size
    want = [
        np.random.default_rng((3, s // per_epoch)).permutation(n)[
            (s % per_epoch) * batch_size : (s % per_epoch + 1) * batch_size
        ]
        for s in range(start, start + count)
    ]
    np.testing.assert_array_equal(source.take_indices(start, count), np.stack(want))


@pytest.mark.parametrize("gather", [True, False], ids=["device gather", "host stack"])
def test_a_short_chunk_is_padded_to_the_capacity_with_its_last_batch(monkeypatch, gather):
    if not gather:
        monkeypatch.setattr(_feed, "DEVICE_GATHER_BYTES", 0)
    feed = Feeder(ArrayBatches((xs, ys), 24, seed=5), jax.device_put, jax.device_put, False, 4)
    assert feed.gather == gather
    data = feed.fetch(10, 2)
    perm = np.random.default_rng((5, 2)).permutation(128)  # steps 10-11: epoch 2, batches 0-1
    rows = [perm[:24], perm[24:48], perm[24:48], perm[24:48]]
    got = np.asarray(data[1]) if gather else np.asarray(data[0])
    want = np.stack(rows) if gather else np.stack([xs[r] for r in rows])
    np.testing.assert_array_equal(got, want)
    # The final batch is still the chunk's last real step's.
    np.testing.assert_array_equal(np.asarray(feed.last(data)[0]), xs[perm[24:48]])
    assert feed.fetch(10, 4)[1].shape[0] == 4  # a full chunk is not padded further
