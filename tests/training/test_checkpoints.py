"""Checkpoints: atomic saves, exact resume, clear errors for bad checkpoints."""

import shutil

import numpy as np
import optax
import pytest

from minihaiku.training import (
    CheckpointError,
    NonFiniteLossError,
    quadratic_data,
    quadratic_model,
    train,
)

xs, ys = quadratic_data()
model = quadratic_model()
params0 = model.init(0, xs)


def run(steps, directory, **kw):
    return train(
        model,
        params0,
        (xs, ys),
        optax.adam(1e-3),
        steps,
        checkpoint_dir=directory,
        progress=False,
        **kw,
    )


def test_resume_is_exactly_an_uninterrupted_run(tmp_path):
    whole = run(40, tmp_path / "whole", checkpoint_every=10)
    assert whole.checkpoints == [10, 20, 30, 40]
    first = run(20, tmp_path / "split")
    assert first.checkpoints == [20]
    second = run(40, tmp_path / "split", resume=True)
    assert second.resumed_from == 20 and second.step == 40
    for k in params0:
        np.testing.assert_array_equal(second.params[k], whole.params[k])
    for a, b in zip(
        __import__("jax").tree_util.tree_leaves(second.opt_state),
        __import__("jax").tree_util.tree_leaves(whole.opt_state),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(second.losses, whole.losses)
    assert second.final_loss == whole.final_loss


def test_resuming_at_the_target_step_does_nothing(tmp_path):
    first = run(10, tmp_path)
    again = run(10, tmp_path, resume=True)
    assert again.step == 10 and again.checkpoints == []
    for k in params0:
        np.testing.assert_array_equal(again.params[k], first.params[k])


def test_only_the_newest_checkpoints_are_kept(tmp_path):
    run(50, tmp_path, checkpoint_every=10)
    assert sorted(int(p.name) for p in tmp_path.iterdir() if p.name.isdigit()) == [30, 40, 50]


def test_a_fresh_run_never_overwrites_a_checkpoint(tmp_path):
    run(10, tmp_path)
    with pytest.raises(CheckpointError) as e:
        run(10, tmp_path)
    assert str(e.value) == (
        f"{tmp_path} already holds a checkpoint (step 10). Resume it (resume=True, "
        "--resume), or start the new run in another directory, or delete the old "
        "checkpoints first."
    )


def test_resume_without_a_checkpoint_is_an_error(tmp_path):
    with pytest.raises(CheckpointError) as e:
        run(10, tmp_path / "empty", resume=True)
    assert str(e.value) == (
        f"there is no checkpoint in {tmp_path / 'empty'} to resume from. Run without "
        "resume to start a new run, or point to the directory of an earlier run."
    )


def test_resume_with_another_model_is_a_clear_error(tmp_path):
    run(10, tmp_path)
    other = quadratic_model((64, 1))
    with pytest.raises(CheckpointError) as e:
        train(
            other,
            other.init(0, xs),
            (xs, ys),
            optax.adam(1e-3),
            20,
            checkpoint_dir=tmp_path,
            resume=True,
            progress=False,
        )
    msg = str(e.value)
    assert msg.startswith(f"checkpoint at step 10 in {tmp_path} does not match the model: ")
    assert (
        "the checkpoint has params the model lacks: ['~/MLP_0/__call__/Linear_2/__call__/b'" in msg
    )
    assert (
        "'~/MLP_0/__call__/Linear_0/__call__/b' is [[128], 'float32'] in the checkpoint "
        "but [[64], 'float32'] in the model"
    ) in msg


def test_resume_with_another_optimizer_is_a_clear_error(tmp_path):
    run(10, tmp_path)
    with pytest.raises(
        CheckpointError,
        match=r"cannot be restored into this model and "
        r"optimizer|holds an optimizer state of another structure",
    ):
        train(
            model,
            params0,
            (xs, ys),
            optax.sgd(0.1),
            20,
            checkpoint_dir=tmp_path,
            resume=True,
            progress=False,
        )


def test_a_corrupt_checkpoint_is_an_error_not_a_fresh_start(tmp_path):
    run(10, tmp_path)
    for f in (tmp_path / "10").rglob("*"):
        if f.is_file():
            f.write_bytes(b"garbage")
    with pytest.raises(CheckpointError) as e:
        run(20, tmp_path, resume=True)
    assert str(e.value).startswith(f"checkpoint at step 10 in {tmp_path} ")


def test_a_checkpoint_missing_its_state_is_an_error(tmp_path):
    run(10, tmp_path)
    shutil.rmtree(tmp_path / "10" / "state")
    with pytest.raises(CheckpointError, match=r"^checkpoint at step 10 in .* cannot be "):
        run(20, tmp_path, resume=True)


def test_divergence_keeps_the_last_good_checkpoint(tmp_path):
    with pytest.raises(NonFiniteLossError) as e:
        train(
            model,
            params0,
            (xs, ys),
            optax.sgd(0.5),
            400,
            checkpoint_dir=tmp_path,
            checkpoint_every=5,
            progress=False,
        )
    good = max(int(p.name) for p in tmp_path.iterdir() if p.name.isdigit())
    assert good <= e.value.step
    resumed = train(
        model,
        params0,
        (xs, ys),
        optax.sgd(0.5),
        good,
        checkpoint_dir=tmp_path,
        resume=True,
        progress=False,
    )
    assert resumed.step == good and np.isfinite(resumed.final_loss)


def test_an_interrupted_save_does_not_count(tmp_path):
    # orbax writes into a temporary folder and renames it when complete; a crash
    # mid-save leaves only the temporary folder, which resume must ignore.
    run(10, tmp_path)
    partial = tmp_path / "20.orbax-checkpoint-tmp-1732650000000" / "state"
    partial.mkdir(parents=True)
    (partial / "half-written").write_bytes(b"\0" * 10)
    resumed = run(30, tmp_path, resume=True)
    assert resumed.resumed_from == 10 and resumed.step == 30
    straight = run(30, tmp_path / "straight")
    for k in params0:
        np.testing.assert_array_equal(resumed.params[k], straight.params[k])
