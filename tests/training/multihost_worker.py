"""One process of a two-process run (used by test_parallel.py).

Usage: python multihost_worker.py PORT PROCESS_ID NUM_PROCESSES OUT_JSON [mesh]

Without ``mesh``: data parallel (params replicated). With ``mesh``: each process
has two devices and the run is on the mesh (2, 2) ('data' over the processes,
'model' over each process's devices), the MLP's hidden layer split on 'model',
checkpointed at steps 30 and 60 (each process writes its shards).
"""

import json
import os
import sys

import jax

port, pid, nproc, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
on_mesh = sys.argv[5:] == ["mesh"]
NEW_JAX = tuple(int(p) for p in jax.__version__.split(".")[:2]) >= (0, 7)
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(
    coordinator_address=f"127.0.0.1:{port}",
    num_processes=nproc,
    process_id=pid,
    initialization_timeout=120,
)

import numpy as np  # noqa: E402
import optax  # noqa: E402

from minihaiku.training import quadratic_data, quadratic_model, train  # noqa: E402

xs, ys = quadratic_data()
model = quadratic_model()
params = model.init(0, xs)
rows = len(xs) // nproc
part = slice(pid * rows, (pid + 1) * rows)
if on_mesh:
    from jax.experimental import multihost_utils
    from jax.sharding import Mesh, PartitionSpec

    # jax.devices() lists process 0's devices first: the rows of the mesh are the processes.
    mesh = Mesh(np.array(jax.devices()).reshape(nproc, -1), ("data", "model"))
    hidden = "~/MLP_0/__call__/Linear_0/__call__/"
    specs = {
        hidden + "w": PartitionSpec(None, "model"),
        hidden + "b": PartitionSpec("model"),
        "~/MLP_0/__call__/Linear_1/__call__/w": PartitionSpec("model", None),
    }
    result = train(
        model,
        params,
        (xs[part], ys[part]),
        optax.sgd(0.003),
        60,
        progress=False,
        mesh=mesh,
        param_shardings=specs,
        # one directory for both processes: each writes its own shards (orbax's
        # multi-process saves time out on JAX < 0.7)
        checkpoint_dir=os.path.join(os.path.dirname(out), "ckpt") if NEW_JAX else None,
        checkpoint_every=30 if NEW_JAX else None,
    )
    shards = {k: list(v.addressable_shards[0].data.shape) for k, v in result.params.items()}
    gathered = {
        k: multihost_utils.process_allgather(v, tiled=True) for k, v in result.params.items()
    }
    result.params.update(gathered)
else:
    shards = {}
    result = train(
        model,
        params,
        (xs[part], ys[part]),
        optax.sgd(0.003),
        60,
        progress=False,
        data_parallel=True,
    )
with open(out, "w") as f:
    json.dump(
        {
            "devices": jax.device_count(),
            "processes": jax.process_count(),
            "final_loss": result.final_loss,
            "shards": shards,
            "checkpointed": on_mesh and NEW_JAX,
            "losses": result.losses.tolist(),
            "params": {k: np.asarray(v).ravel().tolist() for k, v in result.params.items()},
        },
        f,
    )
jax.distributed.shutdown()
