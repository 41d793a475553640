"""A run whose data or evaluation fails mid-run keeps the steps it finished (issue 19, item 1)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from minihaiku.training import train


def loss(p, batch):
    x, y = batch
    return jnp.mean((p["w"] * x - y) ** 2)


params0 = {"w": jnp.zeros(())}
BATCH = (np.ones(4, np.float32), np.full(4, 2.0, np.float32))


def raising_at(k):
    """Yields batches 0 .. k-1, then raises while producing batch k."""
    for _ in range(k):
        yield BATCH
    raise RuntimeError(f"the loader broke at batch {k}")


def broken(x):
    raise RuntimeError("evaluate broke")


def broken_evaluate(p, batch):
    """Traces (so train's checks pass), fails when it runs."""
    value = loss(p, batch)
    return {"err": jax.pure_callback(broken, jax.ShapeDtypeStruct((), value.dtype), value)}


def steps_saved(directory):
    """The steps of the checkpoints in ``directory`` (orbax names each folder by its step)."""
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit())


@pytest.mark.parametrize("k", [8, 9])
def test_an_iterator_raising_mid_run_keeps_the_finished_chunks_checkpoint(tmp_path, k):
    with pytest.raises(RuntimeError) as e:
        train(
            loss,
            params0,
            raising_at(k),
            optax.sgd(0.1),
            20,
            steps_per_dispatch=2,
            checkpoint_every=2,
            checkpoint_dir=tmp_path,
            progress=False,
        )
    assert str(e.value) == f"the loader broke at batch {k}"  # the original error, unchanged
    assert e.value.__notes__ == [
        f"minihaiku: the data raised this after step 8; the checkpoint of step 8 is in {tmp_path}."
    ]
    assert steps_saved(tmp_path)[-1] == 8
    r = train(
        loss,
        params0,
        iter([BATCH] * 20),
        optax.sgd(0.1),
        10,
        steps_per_dispatch=2,
        checkpoint_every=2,
        checkpoint_dir=tmp_path,
        resume=True,
        progress=False,
    )
    assert r.resumed_from == 8 and r.step == 10
    whole = train(loss, params0, iter([BATCH] * 10), optax.sgd(0.1), 10, progress=False)
    np.testing.assert_array_equal(r.losses, whole.losses)


def test_an_iterator_raising_between_checkpoints_saves_the_step_reached(tmp_path):
    # checkpoint_every=4: steps 0-5 ran when batch 7 failed; step 6 is saved like a dry run's.
    with pytest.raises(RuntimeError) as e:
        train(
            loss,
            params0,
            raising_at(7),
            optax.sgd(0.1),
            20,
            steps_per_dispatch=2,
            checkpoint_every=4,
            checkpoint_dir=tmp_path,
            progress=False,
        )
    assert str(e.value) == "the loader broke at batch 7"
    assert steps_saved(tmp_path) == [4, 6]


def test_an_iterator_raising_before_any_step_saves_nothing(tmp_path):
    with pytest.raises(RuntimeError) as e:
        train(
            loss,
            params0,
            raising_at(1),
            optax.sgd(0.1),
            20,
            steps_per_dispatch=2,
            checkpoint_dir=tmp_path,
            progress=False,
        )
    assert str(e.value) == "the loader broke at batch 1"
    assert not hasattr(e.value, "__notes__")
    assert steps_saved(tmp_path) == []


def test_a_failing_evaluation_at_a_checkpoint_step_keeps_that_checkpoint(tmp_path):
    evaluate = broken_evaluate

    with pytest.raises(Exception, match="evaluate broke"):
        train(
            loss,
            params0,
            BATCH,
            optax.sgd(0.1),
            8,
            steps_per_dispatch=2,
            checkpoint_every=2,
            checkpoint_dir=tmp_path,
            evaluate=evaluate,
            eval_data=BATCH,
            eval_every=2,
            progress=False,
        )
    assert steps_saved(tmp_path) == [2]


def test_a_failing_last_evaluation_keeps_the_final_checkpoint(tmp_path):
    evaluate = broken_evaluate

    with pytest.raises(Exception, match="evaluate broke"):
        train(
            loss,
            params0,
            BATCH,
            optax.sgd(0.1),
            6,
            checkpoint_dir=tmp_path,
            evaluate=evaluate,
            eval_data=BATCH,
            progress=False,
        )
    assert steps_saved(tmp_path) == [6]
