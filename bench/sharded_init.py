"""Sharded init: per-device memory of sharded_init vs plain init then device_put.

On 8 forced CPU devices (set here, before jax is imported), an MLP from
minihaiku.layers whose parameters (4 layers of width 4096 by default, 256
MiB in float32) are far larger than one device's share. For each mesh and
rules table:

* sharded_init: the compiled program's per-device argument, output and
  temporary sizes (``jax.jit(init, out_shardings=...).lower(...).compile()
  .memory_analysis()``: what XLA allocates on each device), and the largest
  number of parameter bytes any device holds afterwards (from the
  ``addressable_shards``);
* plain: the same figures for ``jax.jit(init)`` on one device, and for the
  eager ``init`` the bytes device 0 holds before ``jax.device_put`` moves the
  params into their shardings (then the same per-device share).

The values of both paths are checked to be equal bit for bit.

Usage: python bench/sharded_init.py [--width 4096] [--layers 4]
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
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from minihaiku.core import param_shardings, sharded_init, transform, tree_bytes
from minihaiku.layers import MLP

MiB = 2**20
SETUPS = [
    ((8, 1), "FSDP", {"embed": "data"}),
    ((1, 8), "tensor parallel", {"mlp": "model"}),
    ((2, 4), "2-D", {"embed": "data", "mlp": "model"}),
]


def per_device_bytes(params: dict[str, Any]) -> dict[Any, int]:
    held: dict[Any, int] = {}
    for value in params.values():
        for shard in value.addressable_shards:
            held[shard.device] = held.get(shard.device, 0) + shard.data.nbytes
    return held


def memory(compiled: Any) -> tuple[float, float, float]:
    m = compiled.memory_analysis()
    return (
        m.argument_size_in_bytes / MiB,
        m.output_size_in_bytes / MiB,
        m.temp_size_in_bytes / MiB,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=4096)
    parser.add_argument("--layers", type=int, default=4)
    args = parser.parse_args()
    width = args.width
    model = transform(lambda x: MLP([width] * args.layers)(x))
    x = jnp.ones((8, width))
    key = jax.random.PRNGKey(0)

    t0 = time.perf_counter()
    plain = model.init(key, x)
    jax.block_until_ready(plain)
    t_plain = time.perf_counter() - t0
    total = tree_bytes(plain) / MiB
    dev0 = per_device_bytes(plain)
    one = memory(jax.jit(model.init).lower(key, x).compile())

    print(
        f"### sharded init: an MLP of {args.layers} x {width}x{width} ({total:.1f} MiB of "
        f"float32 params), {jax.device_count()} CPU devices, jax {jax.__version__}\n"
    )
    print("| path | mesh | rules | arguments / device (MiB) | output / device (MiB) "
          "| temp / device (MiB) | params held, max device (MiB) | wall (s) |")  # fmt: skip
    print("|---|---|---|---:|---:|---:|---:|---:|")
    print(
        f"| plain init (eager) | one device | - | - | - | - | {max(dev0.values()) / MiB:.1f} "
        f"| {t_plain:.2f} |"
    )
    print(
        f"| plain init (jit) | one device | - | {one[0]:.2f} | {one[1]:.1f} | {one[2]:.1f} "
        f"| {one[1]:.1f} | - |"
    )
    for shape, name, rules in SETUPS:
        mesh = Mesh(np.array(jax.devices()).reshape(shape), ("data", "model"))
        shardings = param_shardings(model, x, mesh=mesh, rules=rules)
        compiled = jax.jit(model.init, out_shardings=shardings).lower(key, x).compile()
        arg, out, tmp = memory(compiled)
        t0 = time.perf_counter()
        params = sharded_init(model, mesh, rules)(key, x)
        jax.block_until_ready(params)
        t_sharded = time.perf_counter() - t0
        held = max(per_device_bytes(params).values()) / MiB
        t0 = time.perf_counter()
        moved = jax.device_put(plain, shardings)
        jax.block_until_ready(moved)
        t_put = time.perf_counter() - t0
        moved_held = max(per_device_bytes(moved).values()) / MiB
        for k in plain:
            if not np.array_equal(np.asarray(params[k]), np.asarray(plain[k])):
                raise SystemExit(f"sharded_init differs from init at {k}")
        print(
            f"| sharded_init | {shape} | {name} | {arg:.2f} | {out:.1f} | {tmp:.1f} | "
            f"{held:.1f} | {t_sharded:.2f} |"
        )
        print(
            f"| plain init + device_put | {shape} | {name} | - | - | - | "
            f"{max(dev0.values()) / MiB:.1f} then {moved_held:.1f} | {t_plain + t_put:.2f} |"
        )
    print(
        "\nsharded_init's values equal plain init's bit for bit on every mesh. Wall times "
        "include tracing and compiling (sharded_init) and are from a shared machine."
    )


if __name__ == "__main__":
    main()
