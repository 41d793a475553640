"""One process of a two-process data-parallel run (used by test_parallel.py).

Usage: python multihost_worker.py PORT PROCESS_ID NUM_PROCESSES OUT_JSON
"""

import json
import sys

import jax

port, pid, nproc, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
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
result = train(
    model, params, (xs[part], ys[part]), optax.sgd(0.003), 60, progress=False, data_parallel=True
)
with open(out, "w") as f:
    json.dump(
        {
            "devices": jax.device_count(),
            "processes": jax.process_count(),
            "final_loss": result.final_loss,
            "losses": result.losses.tolist(),
            "params": {k: np.asarray(v).ravel().tolist() for k, v in result.params.items()},
        },
        f,
    )
jax.distributed.shutdown()
