"""minihaiku-fit refuses bad sizes, seeds and output folders at once, in one line."""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile

import jax
import numpy as np
import pytest

from minihaiku.training import load_params, quadratic_data, quadratic_model
from minihaiku.training.fit._cli import _seed, main


def fit(*args):
    return subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "minihaiku.training.fit._cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_sizes_that_cannot_fit_are_one_clear_line_not_an_abort(tmp_path):
    r = fit("--sizes", "99999999999,1", "--out", str(tmp_path / "o"), "--no-progress")
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.returncode != -signal.SIGABRT
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith(
        "minihaiku-fit: error: --sizes 99999999999,1: layer Linear_0 "
        "(~/MLP_0/__call__/Linear_0, 1 -> 99999999999) has 199,999,999,998 parameters "
        "(745.1 GiB); training this MLP needs about "
    )
    assert r.stderr.rstrip().endswith("GiB available. Choose smaller sizes.")
    assert not (tmp_path / "o").exists()


def test_the_size_check_names_the_largest_layer():
    from minihaiku.core import InvalidArgumentError
    from minihaiku.training.fit._sizes import check_sizes

    check_sizes((128, 128, 1), rows=128, available=2**30)
    with pytest.raises(InvalidArgumentError) as e:
        check_sizes((10, 50_000, 1), rows=128, available=2**20)
    # Linear_1 has 10 * 50000 + 50000 parameters; need = 4 * (3 * 600061 + 3 * 128 * 50011).
    assert str(e.value) == (
        "--sizes 10,50000,1: layer Linear_1 (~/MLP_0/__call__/Linear_1, 10 -> 50000) has "
        "550,000 parameters (0.0 GiB); training this MLP needs about 0.1 GiB but this "
        "machine has 0.0 GiB available. Choose smaller sizes."
    )


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        (str(2**66), f"argument --seed: the seed must be an integer in [0, 2**32), got {2**66}"),
        ("-1", "argument --seed: the seed must be an integer in [0, 2**32), got -1"),
    ],
)
def test_out_of_range_seeds_are_an_argparse_error(seed, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["--seed", seed, "--out", str(tmp_path / "o")])
    assert e.value.code == 2
    assert capsys.readouterr().err.rstrip().endswith(f"minihaiku-fit: error: {message}")


def test_the_largest_accepted_seed_is_one_core_takes():
    # JAX keeps only 32 bits of a seed: 2**32 would silently give the key of 0.
    assert _seed(str(2**32 - 1)) == 2**32 - 1
    with pytest.raises(argparse.ArgumentTypeError):
        _seed(str(2**32))
    np.testing.assert_array_equal(jax.random.PRNGKey(2**32), jax.random.PRNGKey(0))


def test_out_below_a_regular_file(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["--out", str(f / "sub"), "--no-progress"]) == 1
    assert capsys.readouterr().err == (
        f"minihaiku-fit: error: --out {f / 'sub'} is below {f}, which is a file, not a "
        "directory. Choose a directory path.\n"
    )


def writable(path):
    try:
        fd, probe = tempfile.mkstemp(dir=path)
    except OSError:
        return False
    os.close(fd)
    os.remove(probe)
    return True


# /sys refuses new files even to root (tests run as root here, where chmod does
# not stop writes); skipped where it is writable.
READ_ONLY = "/sys/fs"


@pytest.mark.skipif(
    not os.path.isdir(READ_ONLY) or writable(READ_ONLY), reason="no read-only folder"
)
def test_a_read_only_out_fails_at_once(capsys):
    assert main(["--out", READ_ONLY, "--no-progress"]) == 1
    assert capsys.readouterr().err == (
        f"minihaiku-fit: error: --out {READ_ONLY} is not writable (Permission denied). "
        "Choose a directory you can write to, or fix its permissions.\n"
    )


@pytest.mark.skipif(
    not os.path.isdir(READ_ONLY) or writable(READ_ONLY), reason="no read-only folder"
)
def test_an_unwritable_checkpoint_directory_fails_at_once_in_train():
    import optax

    from minihaiku.training import CheckpointError, train

    xs, ys = quadratic_data()
    model = quadratic_model((8, 1))
    with pytest.raises(CheckpointError) as e:
        train(
            model,
            model.init(0, xs),
            (xs, ys),
            optax.sgd(0.1),
            10,
            checkpoint_dir=f"{READ_ONLY}/minihaiku-ckpt",
            progress=False,
        )
    assert str(e.value) == (
        f"the checkpoint directory {READ_ONLY}/minihaiku-ckpt cannot be created "
        "(Operation not permitted). Choose a directory you can write to."
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a chmod 555 folder anyway")
def test_a_chmod_read_only_out_fails_at_once(tmp_path, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert main(["--out", str(out), "--no-progress"]) == 1
    finally:
        out.chmod(0o755)
    assert capsys.readouterr().err == (
        f"minihaiku-fit: error: --out {out} is not writable (Permission denied). Choose a "
        "directory you can write to, or fix its permissions.\n"
    )


def test_overwrite_refuses_to_delete_files_minihaiku_did_not_write(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--steps", "10", "--out", str(out), "--no-progress", "--no-plot"]
    assert main(args) == 0
    (out / "checkpoints" / "notes.txt").write_text("mine")
    (out / "checkpoints" / "2024").mkdir()
    assert main([*args, "--overwrite"]) == 1
    assert capsys.readouterr().err == (
        f"minihaiku-fit: error: --overwrite refuses to clear {out / 'checkpoints'}: it "
        "holds files minihaiku did not write (2024, notes.txt). Move them away, or "
        "choose another --out.\n"
    )
    assert (out / "checkpoints" / "notes.txt").read_text() == "mine"
    assert (out / "checkpoints" / "10").is_dir()


def test_overwrite_clears_checkpoints_and_interrupted_saves(tmp_path):
    out = tmp_path / "run"
    args = ["--steps", "10", "--out", str(out), "--no-progress", "--no-plot"]
    assert main(args) == 0
    (out / "checkpoints" / "20.orbax-checkpoint-tmp-1732650000000").mkdir()
    assert (
        main(["--steps", "5", "--out", str(out), "--no-progress", "--no-plot", "--overwrite"]) == 0
    )
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [".minihaiku-lock", "5"]


def test_resuming_below_the_checkpoint_is_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--out", str(out), "--no-progress", "--no-plot"]
    assert main(["--steps", "20", *args]) == 0
    assert main(["--steps", "10", "--resume", *args]) == 1
    assert capsys.readouterr().err == (
        f"minihaiku-fit: error: steps=10 is below the step of the checkpoint to resume "
        f"(20 in {out / 'checkpoints'}); steps counts from step 0, so pass steps >= 20, "
        "or start afresh in another directory.\n"
    )


def test_the_trained_params_are_exported_as_safetensors(tmp_path):
    out = tmp_path / "run"
    assert main(["--steps", "10", "--out", str(out), "--no-progress", "--no-plot"]) == 0
    xs, _ = quadratic_data()
    like = quadratic_model().init(0, xs)
    params = load_params(out / "params.safetensors", like=like)
    assert list(params) == list(like)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 10
    assert (
        main(
            [
                "--steps",
                "10",
                "--out",
                str(tmp_path / "b"),
                "--no-progress",
                "--no-plot",
                "--no-export",
            ]
        )
        == 0
    )
    assert not (tmp_path / "b" / "params.safetensors").exists()
