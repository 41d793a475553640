"""A resume that would change the batch order is refused, unless allowed (issue 19, item 3)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from minihaiku.training import CheckpointError, Loss, train

xs = np.linspace(-1, 1, 12, dtype=np.float32)[:, None]
ys = 3 * xs
params0 = {"w": jnp.zeros((1, 1))}


def loss(p, batch):
    x, y = batch
    return jnp.mean((x @ p["w"] - y) ** 2)


def noisy(p, batch, key):
    x, y = batch
    return jnp.mean((x @ p["w"] - y) ** 2) + 0.0 * jax.random.normal(key)


def first_run(tmp_path, data=(xs, ys), the_loss=loss, **kw):
    return train(
        the_loss, params0, data, optax.sgd(0.1), 4, checkpoint_dir=tmp_path, progress=False, **kw
    )


def resume(tmp_path, data=(xs, ys), the_loss=loss, steps=6, **kw):
    return train(
        the_loss,
        params0,
        data,
        optax.sgd(0.1),
        steps,
        checkpoint_dir=tmp_path,
        resume=True,
        progress=False,
        **kw,
    )


def refusal(tmp_path, old, new):
    return (
        f"the checkpoint of step 4 in {tmp_path} was trained on {old}, this run on {new}: "
        "the resumed run would not see the batches of an uninterrupted run. Pass the data, "
        "batch_size and seed of the run that wrote the checkpoint, or "
        "allow_order_change=True to continue on the new order."
    )


MINI_4_SEED_0 = "minibatches (batch_size=4 of 12 examples, seed=0)"


def test_resuming_with_another_batch_size_is_refused_naming_both(tmp_path):
    first_run(tmp_path, batch_size=4)
    with pytest.raises(CheckpointError) as e:
        resume(tmp_path, batch_size=3)
    assert isinstance(e.value, ValueError)
    assert str(e.value) == refusal(
        tmp_path, MINI_4_SEED_0, "minibatches (batch_size=3 of 12 examples, seed=0)"
    )


def test_resuming_with_another_seed_is_refused(tmp_path):
    first_run(tmp_path, batch_size=4)
    with pytest.raises(CheckpointError) as e:
        resume(tmp_path, batch_size=4, seed=1)
    assert str(e.value) == refusal(
        tmp_path, MINI_4_SEED_0, "minibatches (batch_size=4 of 12 examples, seed=1)"
    )


def test_resuming_with_more_examples_is_refused(tmp_path):
    first_run(tmp_path, batch_size=4)
    with pytest.raises(CheckpointError) as e:
        resume(tmp_path, (np.concatenate([xs, xs]), np.concatenate([ys, ys])), batch_size=4)
    assert str(e.value) == refusal(
        tmp_path, MINI_4_SEED_0, "minibatches (batch_size=4 of 24 examples, seed=0)"
    )


def test_resuming_a_minibatch_run_as_a_full_batch_run_is_refused_and_back(tmp_path):
    first_run(tmp_path, batch_size=4)
    with pytest.raises(CheckpointError) as e:
        resume(tmp_path)
    assert str(e.value) == refusal(tmp_path, MINI_4_SEED_0, "one full batch (no batch_size)")
    other = tmp_path / "other"
    first_run(other)
    with pytest.raises(CheckpointError) as e:
        resume(other, batch_size=4)
    assert str(e.value) == refusal(other, "one full batch (no batch_size)", MINI_4_SEED_0)


def test_resuming_an_iterator_run_on_arrays_is_refused(tmp_path):
    first_run(tmp_path, iter([(xs[:4], ys[:4])] * 4))
    with pytest.raises(CheckpointError) as e:
        resume(tmp_path, batch_size=4)
    old = "an iterator of batches (no batch_size)"
    assert str(e.value) == refusal(tmp_path, old, MINI_4_SEED_0)


def test_the_seed_of_a_loss_that_takes_a_key_is_recorded_too(tmp_path):
    keyed = Loss(noisy, rng=True)
    first_run(tmp_path, the_loss=keyed)
    with pytest.raises(CheckpointError) as e:
        resume(tmp_path, the_loss=keyed, seed=5)
    assert str(e.value) == refusal(
        tmp_path, "one full batch (no batch_size, seed=0)", "one full batch (no batch_size, seed=5)"
    )
    assert resume(tmp_path, the_loss=keyed).step == 6


def test_the_same_arguments_resume_and_give_the_uninterrupted_run(tmp_path):
    first_run(tmp_path, batch_size=4, seed=2)
    r = resume(tmp_path, batch_size=4, seed=2)
    whole = train(loss, params0, (xs, ys), optax.sgd(0.1), 6, batch_size=4, seed=2, progress=False)
    assert r.resumed_from == 4
    np.testing.assert_array_equal(r.losses, whole.losses)


def test_allow_order_change_continues_and_records_the_new_order(tmp_path):
    first_run(tmp_path, batch_size=4)
    r = resume(tmp_path, batch_size=3, allow_order_change=True)
    assert r.resumed_from == 4 and r.step == 6
    # The step-6 checkpoint records batch_size=3: resuming it with 3 needs no flag, with 4 does.
    assert resume(tmp_path, batch_size=3, steps=8).resumed_from == 6
    with pytest.raises(CheckpointError, match=r"^the checkpoint of step 8 in .* \(batch_size=3 "):
        resume(tmp_path, batch_size=4, steps=10)


def test_a_checkpoint_written_before_the_order_was_recorded_resumes_unchecked(tmp_path):
    first_run(tmp_path, batch_size=4)
    meta_file = tmp_path / "4" / "meta" / "metadata"
    meta = json.loads(meta_file.read_text())
    del meta["order"]  # as written by minihaiku-training before the record
    meta_file.write_text(json.dumps(meta))
    r = resume(tmp_path, batch_size=3)
    assert r.resumed_from == 4 and r.step == 6
