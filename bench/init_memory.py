"""Peak memory of un-jitted ``init`` as the batch (the activations) grows.

Each measurement runs in a fresh process: build the transformer block of
``layers_models.py`` at batch B, warm up with one ``init`` at batch 1 (so the
kernels exist and the high-water mark holds everything but the activations),
then run ``init`` once at batch B and report how much the peak RSS rose
(``ru_maxrss``). ``eager`` runs the forward pass on values (main's ``init``,
``init_mode("eager")``); ``auto`` is the default, which traces the forward
pass abstractly and then creates only the parameters.

Usage: python bench/init_memory.py [--batches 1 64 256] [--modes eager auto]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys
import jax, jax.numpy as jnp
sys.path.insert(0, {bench!r})
import layers_models as lm
from minihaiku.core import init_mode

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB

lm.B = 1
small = lm.transformer_minihaiku()
lm.B = {batch}
big = lm.transformer_minihaiku()
key = jax.random.key(0)
with init_mode({mode!r}):
    jax.block_until_ready(small.init(key))
    x = jnp.ones((lm.B, lm.T, lm.D))  # the input itself, made before the baseline
    before = peak()
    params, _ = big.init(key)
    jax.block_until_ready(params)
    after = peak()
n = sum(v.size for v in params.values())
print(json.dumps({{"before": before, "after": after, "params_mib": n * 4 / 2**20}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 64, 256])
    parser.add_argument("--modes", nargs="+", default=["eager", "auto"])
    args = parser.parse_args()
    bench = str(Path(__file__).resolve().parent)
    print(
        "| batch | activations of one block, MLP hidden layer (MiB) | "
        + " | ".join(f"peak RSS rise, {m} (MiB)" for m in args.modes)
        + " |"
    )
    print("|---:|---:|" + "---:|" * len(args.modes))
    params = 0.0
    for batch in args.batches:
        cells = []
        for mode in args.modes:
            code = CHILD.format(bench=bench, batch=batch, mode=mode)
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            params = r["params_mib"]
            cells.append(f"{r['after'] - r['before']:.1f}")
        hidden = batch * 128 * 1024 * 4 / 2**20
        print(f"| {batch} | {hidden:.1f} | " + " | ".join(cells) + " |")
    print(f"\nparameters: {params:.1f} MiB")


if __name__ == "__main__":
    main()
