"""Memory of train() on a mesh: fully sharded (1, 8) vs replicated data parallel (8, 1).

A wide MLP (about 9.5M params: params + adam state about 113 MB) trained with
adam on 8 forced CPU devices. For each layout it reports the bytes of params
and optimizer state that one device holds (its addressable shards, the
largest over the devices), the compiled training step's memory_analysis
(arguments, outputs, temporaries), and the loss after a few steps of train()
(the same in both layouts).

Usage: python bench/sharded_train.py [--width 2048] [--steps 5]
"""

from __future__ import annotations

import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import argparse
import time
from typing import Any

import jax
import numpy as np
import optax
from jax.sharding import PartitionSpec as P

from minihaiku.core import transform
from minihaiku.layers import MLP
from minihaiku.training import mse_loss, train
from minihaiku.training._mesh import MeshPlan
from minihaiku.training._on_mesh import jit_options
from minihaiku.training._step import make_chunk, normalize

MIB = 2**20


def per_device_bytes(*trees: Any) -> int:
    """The largest number of bytes that one device holds of the trees' arrays."""
    held: dict[Any, int] = {}
    for leaf in jax.tree_util.tree_leaves(trees):
        for shard in leaf.addressable_shards:
            held[shard.device] = held.get(shard.device, 0) + shard.data.nbytes
    return max(held.values())


def fsdp_tp(params: dict[str, Any]) -> dict[str, Any]:
    """Matrices: rows on 'data', columns on 'model'; vectors on 'model'."""
    return {k: P("data", "model") if v.ndim == 2 else P("model") for k, v in params.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    w = args.width
    model = transform(lambda x: MLP([w, w, w, 256])(x))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 256)).astype(np.float32)
    y = rng.normal(size=(64, 256)).astype(np.float32)
    params = model.init(0, x)
    optimizer = optax.adam(1e-4)
    n_params = sum(v.size for v in params.values())
    full = sum(v.nbytes for v in params.values())
    print(
        f"### train() on 8 forced CPU devices: an MLP of {n_params / 1e6:.1f}M params "
        f"(params {full / MIB:.1f} MiB, params + adam state {3 * full / MIB:.1f} MiB)\n"
    )
    print(
        "| layout | params + opt state per device (MiB) | step arguments (MiB) | "
        "step outputs (MiB) | step temporaries (MiB) | loss after "
        f"{args.steps} steps | train() time (s) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    layouts = {
        "replicated, data parallel (8, 1)": ((8, 1), None),
        "fully sharded + tensor parallel (1, 8)": ((1, 8), fsdp_tp(params)),
        "fully sharded + tensor parallel (4, 2)": ((4, 2), fsdp_tp(params)),
    }
    for name, (shape, specs) in layouts.items():
        mesh = jax.make_mesh(shape, ("data", "model"))
        plan = MeshPlan(mesh, None)
        shardings = plan.param_shardings(params, specs, None)
        trainable, fixed, opt_state, state = plan.place(
            params, {}, None, None, optimizer, shardings
        )
        held = per_device_bytes(trainable, opt_state)
        f = normalize(mse_loss(model))
        chunk = make_chunk(f, optimizer, args.steps, False)
        call = (trainable, fixed, opt_state, state, None, np.uint32(0), plan.batch((x, y)))
        compiled = jax.jit(chunk, **jit_options(plan, call)).lower(*call).compile()
        memory = compiled.memory_analysis()
        del trainable, fixed, opt_state, call, compiled
        t = time.perf_counter()
        result = train(
            model,
            params,
            (x, y),
            optimizer,
            args.steps,
            progress=False,
            mesh=mesh,
            param_shardings=specs,
            steps_per_dispatch=args.steps,
        )
        seconds = time.perf_counter() - t
        print(
            f"| {name} | {held / MIB:.1f} | {memory.argument_size_in_bytes / MIB:.1f} | "
            f"{memory.output_size_in_bytes / MIB:.1f} | {memory.temp_size_in_bytes / MIB:.1f} | "
            f"{result.final_loss:.6f} | {seconds:.1f} |"
        )
    print(
        "\nPer device: bytes of the addressable shards on the fullest device. Step "
        "figures: the compiled training chunk's memory_analysis (per device; "
        "arguments include the batch)."
    )


if __name__ == "__main__":
    main()
