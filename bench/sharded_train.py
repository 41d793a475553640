"""Memory of train() on a mesh: fully sharded (1, 8) vs replicated data parallel (8, 1).

A wide MLP (9.4M params: params + adam state 108 MiB) whose weights are
annotated ("embed", "mlp"), trained with adam on 8 forced CPU devices. For
each layout it reports the params that init leaves on the fullest device
(``model.init`` for the replicated layout, ``sharded_init`` with the rules
for the sharded ones), the bytes of params and optimizer state that one
device holds while training (its addressable shards, the largest over the
devices), the compiled training step's memory_analysis (arguments, outputs,
temporaries), and the loss after a few steps of train() (the same in every
layout).

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

from minihaiku.core import get_param, sharded_init, transform
from minihaiku.core import param_shardings as model_shardings
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


#: Fully sharded data parallel and tensor parallel at once: every weight's rows
#: on 'data', its columns (and the bias) on 'model'.
RULES = {"batch": "data", "embed": "data", "mlp": "model"}


def wide_mlp(sizes: list[int]) -> Any:
    def f(x: Any) -> Any:
        for i, n in enumerate(sizes):
            w = get_param(f"w{i}", (x.shape[-1], n), axes=("embed", "mlp"))
            b = get_param(f"b{i}", (n,), init="zeros", axes=("mlp",))
            x = x @ (w / np.sqrt(x.shape[-1])) + b
            x = jax.nn.relu(x) if i < len(sizes) - 1 else x
        return x

    return transform(f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    w = args.width
    model = wide_mlp([w, w, w, 256])
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
        "| layout | init: params on the fullest device (MiB) | "
        "params + opt state per device (MiB) | step arguments (MiB) | "
        "step outputs (MiB) | step temporaries (MiB) | loss after "
        f"{args.steps} steps | train() time (s) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    layouts = {
        "replicated, data parallel (8, 1)": ((8, 1), {"batch": "data"}),
        "fully sharded + tensor parallel (1, 8)": ((1, 8), RULES),
        "fully sharded + tensor parallel (4, 2)": ((4, 2), RULES),
    }
    for name, (shape, rules) in layouts.items():
        mesh = jax.make_mesh(shape, ("data", "model"))
        init = model.init if rules is not RULES else sharded_init(model, mesh, rules)
        start = init(0, x)
        at_init = per_device_bytes(start)
        plan = MeshPlan(mesh, rules)
        derived = model_shardings(model, x, mesh=plan.mesh, rules=rules)
        shardings = plan.param_shardings(params, None, derived)
        trainable, fixed, opt_state, state = plan.place(
            params, {}, None, None, optimizer, shardings
        )
        held = per_device_bytes(trainable, opt_state)
        f = normalize(mse_loss(model))
        chunk = make_chunk(f, optimizer, args.steps, False)
        call = (
            trainable,
            fixed,
            opt_state,
            state,
            None,
            np.uint32(0),
            np.int32(args.steps),
            plan.batch((x, y)),
        )
        compiled = jax.jit(chunk, **jit_options(plan, call)).lower(*call).compile()
        memory = compiled.memory_analysis()
        del trainable, fixed, opt_state, call, compiled, shardings
        t = time.perf_counter()
        result = train(  # from init's params: sharded_init's stay sharded
            model,
            start,
            (x, y),
            optimizer,
            args.steps,
            progress=False,
            mesh=mesh,
            rules=rules,
            steps_per_dispatch=args.steps,
        )
        seconds = time.perf_counter() - t
        print(
            f"| {name} | {at_init / MIB:.1f} | {held / MIB:.1f} | "
            f"{memory.argument_size_in_bytes / MIB:.1f} | "
            f"{memory.output_size_in_bytes / MIB:.1f} | {memory.temp_size_in_bytes / MIB:.1f} | "
            f"{result.final_loss:.6f} | {seconds:.1f} |"
        )
    print(
        "\nInit: model.init puts every param on one device; sharded_init creates each "
        "device's shards only. Per device: bytes of the addressable shards on the "
        "fullest device. Step "
        "figures: the compiled training chunk's memory_analysis (per device; "
        "arguments include the batch)."
    )


if __name__ == "__main__":
    main()
