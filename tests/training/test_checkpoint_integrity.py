"""Damaged checkpoints are errors, never different numbers; non-finite states are never saved."""

import json
import shutil
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from minihaiku.training import (
    Checkpointer,
    CheckpointError,
    NonFiniteLossError,
    quadratic_data,
    quadratic_model,
    train,
    tree_digest,
)

xs, ys = quadratic_data()
model = quadratic_model()
params0 = model.init(0, xs)


def run(steps, directory, optimizer=None, **kw):
    return train(
        model,
        params0,
        (xs, ys),
        optimizer or optax.adam(1e-3),
        steps,
        checkpoint_dir=directory,
        progress=False,
        **kw,
    )


def array_files(step_dir):
    # orbax (OCDBT) keeps the array bytes under state/: the per-process data
    # files (ocdbt.process_0/d/) and the merged b-tree data (d/).
    files = sorted(
        f
        for f in (step_dir / "state").rglob("*")
        if f.is_file() and f.parent.name == "d" and f.stat().st_size > 0
    )
    assert files, "orbax no longer stores array data where this test looks"
    return files


def flip(path, position):
    data = bytearray(path.read_bytes())
    data[position] ^= 1 << (position % 8)
    path.write_bytes(bytes(data))


def test_a_flipped_bit_in_the_array_data_is_an_error_or_harmless(tmp_path):
    good = run(10, tmp_path / "good")
    want = (good.params, good.opt_state)
    fresh_opt = optax.adam(1e-3).init(params0)
    outcomes = []
    for f in array_files(tmp_path / "good" / "10"):
        size = f.stat().st_size
        for position in np.linspace(0, size - 1, 10).astype(int):
            damaged = tmp_path / "damaged"
            shutil.rmtree(damaged, ignore_errors=True)
            shutil.copytree(tmp_path / "good", damaged)
            flip(damaged / f.relative_to(tmp_path / "good"), int(position))
            ckpt = Checkpointer(damaged)
            try:
                restored = ckpt.restore(dict(params0), fresh_opt)
            except CheckpointError as e:
                assert str(e).startswith(f"checkpoint at step 10 in {damaged} ")
                assert "corrupt" in str(e) and "start afresh" in str(e)
                outcomes.append("error")
                continue
            finally:
                ckpt.close()
            # Restored: then bit for bit what was saved, never silently different.
            got = (restored.params, restored.opt_state)
            for a, b in zip(
                jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True
            ):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
            outcomes.append("same")
    assert "error" in outcomes


def test_a_digest_mismatch_names_the_step_the_directory_and_what_to_do(tmp_path):
    run(10, tmp_path)
    meta_file = tmp_path / "10" / "meta" / "metadata"
    meta = json.loads(meta_file.read_text())
    assert set(meta["digests"]) == {"params", "opt_state", "losses"}
    meta["digests"]["params"] = "sha256:" + "0" * 64
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError) as e:
        run(20, tmp_path, resume=True)
    assert str(e.value) == (
        f"checkpoint at step 10 in {tmp_path} is corrupt: its params read back differ "
        "from what was saved (sha256 digest mismatch). Resume an earlier checkpoint "
        f"(delete {tmp_path / '10'} to fall back to the one before), or start afresh in "
        "another directory."
    )


def test_the_recorded_digests_are_those_of_the_saved_trees(tmp_path):
    r = run(10, tmp_path)
    meta = json.loads((tmp_path / "10" / "meta" / "metadata").read_text())
    assert meta["format"] == 2
    assert meta["digests"]["params"] == tree_digest(r.params)
    assert meta["digests"]["opt_state"] == tree_digest(r.opt_state)
    assert meta["digests"]["losses"] == tree_digest(np.asarray(meta["losses"], np.float64))


def test_tree_digest_sees_every_bit_and_ignores_where_the_arrays_live():
    tree = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": (np.int32(3),)}
    d = tree_digest(tree)
    assert d == tree_digest(jax.tree_util.tree_map(jnp.asarray, tree))
    assert d == tree_digest({"b": (np.int32(3),), "a": tree["a"]})
    raw = tree["a"].view(np.uint32).copy()
    raw[1, 2] ^= 1
    assert d != tree_digest({**tree, "a": raw.view(np.float32)})
    assert d != tree_digest({**tree, "a": tree["a"].reshape(3, 2)})
    assert d != tree_digest({**tree, "a": tree["a"].astype(np.float64)})
    assert d != tree_digest({"c": tree["a"], "b": tree["b"]})
    assert d != tree_digest({**tree, "b": (np.array([3], np.int32),)})


def test_a_checkpoint_of_format_1_restores_unverified(tmp_path):
    # minihaiku-training 0.1.0 wrote no digests; its checkpoints still resume.
    r = run(10, tmp_path)
    meta_file = tmp_path / "10" / "meta" / "metadata"
    meta = json.loads(meta_file.read_text())
    meta["format"] = 1
    del meta["digests"]
    meta_file.write_text(json.dumps(meta))
    again = run(10, tmp_path, resume=True)
    for k in params0:
        np.testing.assert_array_equal(again.params[k], r.params[k])


def nan_at(step):
    """SGD whose update number ``step`` (1-based) makes every param NaN."""

    def init(params):
        return {"count": jnp.zeros([], jnp.int32)}

    def update(grads, state, params=None):
        bad = state["count"] == step - 1
        updates = jax.tree_util.tree_map(lambda g: jnp.where(bad, jnp.nan, -1e-3 * g), grads)
        return updates, {"count": state["count"] + 1}

    return optax.GradientTransformation(init, update)


def test_non_finite_params_at_a_checkpoint_step_are_not_saved(tmp_path):
    # The loss of step 10 is taken before update 10, so only the params show it.
    with pytest.raises(NonFiniteLossError) as e:
        run(20, tmp_path, optimizer=nan_at(10), checkpoint_every=5, steps_per_dispatch=5)
    assert e.value.step == 10
    assert str(e.value) == (
        "the update that ends at step 10 made '~/MLP_0/__call__/Linear_0/__call__/b' "
        "non-finite (NaN or inf); the run diverged and nothing was saved at step 10. "
        "Lower the learning rate or check the data. The last good checkpoint is step 5 "
        f"in {tmp_path}; resume it."
    )
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.isdigit()) == ["5"]
    resumed = run(5, tmp_path, optimizer=nan_at(10), resume=True)
    assert resumed.step == 5 and np.isfinite(resumed.final_loss)


def test_non_finite_params_before_the_first_checkpoint_say_there_is_none(tmp_path):
    with pytest.raises(NonFiniteLossError) as e:
        run(20, tmp_path, optimizer=nan_at(5), checkpoint_every=5, steps_per_dispatch=5)
    assert e.value.step == 5
    assert str(e.value).endswith(f"There is no good checkpoint in {tmp_path}; start afresh.")
    assert not [p for p in tmp_path.iterdir() if p.name.isdigit()]


def test_a_diverged_loss_names_the_last_good_checkpoint(tmp_path):
    with pytest.raises(NonFiniteLossError) as e:
        run(400, tmp_path, optimizer=optax.sgd(0.5), checkpoint_every=5)
    good = max(int(p.name) for p in tmp_path.iterdir() if p.name.isdigit())
    assert str(e.value).endswith(
        f"The last good checkpoint is step {good} in {tmp_path}; resume it."
    )


FAILING_RESUMES = textwrap.dedent(
    """
    import sys, warnings
    warnings.simplefilter("ignore")
    import optax
    from minihaiku.training import CheckpointError, quadratic_data, quadratic_model, train

    xs, ys = quadratic_data()
    model = quadratic_model((8, 1))
    params = model.init(0, xs)
    directory = sys.argv[1]
    train(model, params, (xs, ys), optax.adam(1e-2), 10, checkpoint_dir=directory,
          progress=False)
    manifest = f"{directory}/10/state/manifest.ocdbt"
    data = bytearray(open(manifest, "rb").read())
    data[50] ^= 4
    open(manifest, "wb").write(bytes(data))
    for _ in range(15):
        try:
            train(model, params, (xs, ys), optax.adam(1e-2), 20, checkpoint_dir=directory,
                  progress=False, resume=True)
        except CheckpointError as e:
            message = str(e)
    print(message)
    """
)


def test_failed_restores_print_no_stray_tracebacks(tmp_path):
    r = subprocess.run(
        [sys.executable, "-c", FAILING_RESUMES, str(tmp_path / "ckpt")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"checkpoint at step 10 in {tmp_path / 'ckpt'} ")
    assert "Event loop is closed" not in r.stderr
    assert "Traceback" not in r.stderr
