"""Data parallelism: 8 forced CPU devices in one process, and two processes."""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import optax
import pytest

from minihaiku.training import quadratic_data, quadratic_model, train

HERE = Path(__file__).parent

EIGHT_DEVICES = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np, optax
    from minihaiku.training import quadratic_data, quadratic_model, train
    xs, ys = quadratic_data()
    model = quadratic_model()
    params = model.init(0, xs)
    r = train(model, params, (xs, ys), optax.adam(1e-3), 60, progress=False)
    json.dump({"devices": jax.device_count(), "final_loss": r.final_loss,
               "losses": r.losses.tolist(),
               "params": {k: np.asarray(v).ravel().tolist() for k, v in r.params.items()}},
              sys.stdout)
    """
)


def single_device(optimizer, steps):
    xs, ys = quadratic_data()
    model = quadratic_model()
    return train(
        model, model.init(0, xs), (xs, ys), optimizer, steps, progress=False, data_parallel=False
    )


def compare(out, want):
    np.testing.assert_allclose(out["losses"], want.losses, rtol=1e-5)
    for k, v in want.params.items():
        np.testing.assert_allclose(out["params"][k], np.asarray(v).ravel(), rtol=1e-4, atol=1e-6)


@pytest.mark.multiprocess
def test_eight_devices_in_one_process_give_the_same_numbers(eight_devices_run):
    out = eight_devices_run("-c", EIGHT_DEVICES)
    assert out["devices"] == 8
    compare(out, single_device(optax.adam(1e-3), 60))


def test_a_batch_that_does_not_split_is_a_clear_error():
    from minihaiku.training import DataParallel

    dp = DataParallel()
    dp.devices = dp.devices * 3  # pretend there are three local devices
    with pytest.raises(ValueError) as e:
        dp.batch(np.ones((4, 1)))
    assert str(e.value) == (
        f"a batch leaf of shape (4, 1) cannot be split over {3 * jax.local_device_count()} "
        f"local devices: its first axis must be a multiple of {3 * jax.local_device_count()}. "
        "Trim or pad the batch, or train on one device (data_parallel=False)."
    )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_processes(tmp_path, env, *mode):
    port = free_port()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(HERE / "multihost_worker.py"),
                str(port),
                str(i),
                "2",
                str(tmp_path / f"p{i}.json"),
                *mode,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    logs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    return [json.loads((tmp_path / f"p{i}.json").read_text()) for i in range(2)]


@pytest.mark.multiprocess
def test_two_processes_train_together_and_agree_with_one(tmp_path):
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONWARNINGS="ignore")
    env.pop("XLA_FLAGS", None)
    outs = two_processes(tmp_path, env)
    assert outs[0]["processes"] == 2 and outs[0]["devices"] == 2
    assert outs[0]["losses"] == outs[1]["losses"]
    want = single_device(optax.sgd(0.003), 60)
    for out in outs:
        compare(out, want)


@pytest.mark.multiprocess
def test_two_processes_train_a_model_parallel_mesh_and_agree_with_one(tmp_path):
    env = dict(
        os.environ,
        JAX_PLATFORMS="cpu",
        PYTHONWARNINGS="ignore",
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
    )
    outs = two_processes(tmp_path, env, "mesh")
    assert outs[0]["processes"] == 2 and outs[0]["devices"] == 4
    assert outs[0]["losses"] == outs[1]["losses"]
    # the first hidden layer (128 units) is split over the 2 devices of the "model" axis
    assert outs[0]["shards"]["~/MLP_0/__call__/Linear_0/__call__/w"] == [1, 64]
    assert outs[0]["shards"]["~/MLP_0/__call__/Linear_1/__call__/w"] == [64, 128]
    want = single_device(optax.sgd(0.003), 60)
    for out in outs:
        compare(out, want)
    # the sharded checkpoints: one store per process, each with its own shards
    if outs[0]["checkpointed"]:  # JAX >= 0.7 (see multihost_worker.py)
        state = tmp_path / "ckpt" / "60" / "state"
        assert (state / "ocdbt.process_0").is_dir() and (state / "ocdbt.process_1").is_dir()
