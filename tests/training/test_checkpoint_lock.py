"""One run per checkpoint directory: an OS lock that a second process cannot take."""

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap

import optax
import pytest

from minihaiku.training import (
    CheckpointError,
    DirectoryLock,
    quadratic_data,
    quadratic_model,
    train,
)
from minihaiku.training.fit._cli import main

xs, ys = quadratic_data()
model = quadratic_model((8, 1))
params0 = model.init(0, xs)

HOLDER = textwrap.dedent(
    """
    import sys, time, warnings
    warnings.simplefilter("ignore")
    from minihaiku.training import Checkpointer
    ckpt = Checkpointer(sys.argv[1])
    print("ready", flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def holder(tmp_path):
    """Starts another process that holds the lock of a directory; kills it afterwards."""
    procs = []

    def start(directory):
        p = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(directory)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        procs.append(p)
        assert p.stdout.readline().strip() == "ready"
        return p

    yield start
    for p in procs:
        p.kill()
        p.wait()


def run(directory, steps=10, **kw):
    return train(
        model,
        params0,
        (xs, ys),
        optax.sgd(0.01),
        steps,
        checkpoint_dir=directory,
        progress=False,
        **kw,
    )


def owner_message(directory, pid):
    return (
        rf"^{re.escape(str(directory))} is in use by another run: process {pid} on host "
        rf"{re.escape(socket.gethostname())} \(started \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ\) "
        rf"holds its lock {re.escape(str(directory / '.minihaiku-lock'))}\. Wait for that "
        r"run to end or stop it, or use another checkpoint directory\.$"
    )


def test_a_second_process_is_refused_at_once_naming_the_owner(tmp_path, holder):
    directory = tmp_path / "ckpt"
    other = holder(directory)
    with pytest.raises(CheckpointError, match=owner_message(directory, other.pid)):
        run(directory)
    assert not [p for p in directory.iterdir() if p.name.isdigit()]


def test_a_lock_left_by_a_killed_process_does_not_block(tmp_path, holder):
    directory = tmp_path / "ckpt"
    other = holder(directory)
    other.send_signal(signal.SIGKILL)
    other.wait()
    # The lock file is still there, naming the dead owner; only the OS lock counts.
    assert DirectoryLock(directory).owner()["pid"] == other.pid
    assert run(directory).checkpoints == [10]
    assert DirectoryLock(directory).owner()["pid"] == os.getpid()


def test_the_lock_is_released_when_train_returns_or_fails(tmp_path):
    directory = tmp_path / "ckpt"
    run(directory)
    with pytest.raises(CheckpointError):
        run(directory)  # already holds a checkpoint
    r = subprocess.run(
        [sys.executable, "-c", HOLDER.replace("time.sleep(600)", ""), str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.stdout.strip() == "ready", r.stderr


def test_two_cli_runs_on_one_out(tmp_path, holder, capsys):
    out = tmp_path / "run"
    other = holder(out / "checkpoints")
    args = ["--steps", "10", "--out", str(out), "--no-progress", "--no-plot"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(
        f"minihaiku-fit: error: {out / 'checkpoints'} is in use by another run: process "
        f"{other.pid} on host {socket.gethostname()} (started "
    )


def test_overwrite_never_clears_a_directory_another_run_holds(tmp_path, holder, capsys):
    out = tmp_path / "run"
    assert main(["--steps", "10", "--out", str(out), "--no-progress", "--no-plot"]) == 0
    other = holder(out / "checkpoints")
    args = ["--steps", "10", "--out", str(out), "--no-progress", "--no-plot", "--overwrite"]
    assert main(args) == 1
    assert f"process {other.pid} on host" in capsys.readouterr().err
    assert (out / "checkpoints" / "10").is_dir()


def test_the_lock_is_reentrant_within_a_process(tmp_path):
    with DirectoryLock(tmp_path) as outer:
        assert run(tmp_path).checkpoints == [10]
        assert outer.owner()["host"] == socket.gethostname()
