"""Memory: peak RSS of the main job, and no growth over 10,000 init/apply calls.

* main job: peak resident memory of a process that runs the quadratic fit
  (5000 steps) with minihaiku.training, next to one that runs the
  hand-written jitted scan (each in its own fresh process).
* repeated calls: resident memory and Python heap (tracemalloc) before and
  after N un-jitted init and apply calls (and N jitted apply calls) of the
  seed's MLP, after a warm-up.

Usage: python bench/memory.py [--calls 10000]
"""

from __future__ import annotations

import argparse
import gc
import resource
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

MAIN_JOB = {
    "minihaiku": """
        import optax
        from minihaiku.training import run_quadratic_fit
        fit = run_quadratic_fit(progress=False)
        assert fit.result.final_loss < 0.01
    """,
    "hand-written scan": """
        import sys
        sys.path.insert(0, BENCH_DIR)
        import jax.numpy as jnp
        import numpy as np
        from main_job import hand_scan  # imports minihaiku.training too, as the other run does
        xs = np.linspace(-2.0, 2.0, 128, dtype=np.float32)[:, None]
        hand_scan(5000, jnp.asarray(xs), jnp.asarray(xs**2))()
    """,
}

PEAK = "\nimport resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    args = parser.parse_args()

    print("### main job: peak resident memory (fresh process each)\n")
    print("| run | peak RSS (MiB) |")
    print("|---|---:|")
    for name, code in MAIN_JOB.items():
        code = textwrap.dedent(code).replace("BENCH_DIR", repr(str(Path(__file__).parent)))
        out = subprocess.run(
            [sys.executable, "-c", code + PEAK],
            capture_output=True,
            text=True,
            check=True,
        )
        print(f"| {name} | {int(out.stdout.split()[-1]) / 1024:.0f} |")

    import jax

    from minihaiku.training import quadratic_data, quadratic_model

    xs, _ = quadratic_data()
    model = quadratic_model()
    params = model.init(0, xs)
    jit_apply = jax.jit(model.apply)
    loops = {
        "un-jitted init": lambda i: model.init(i, xs),
        "un-jitted apply": lambda i: model.apply(params, xs),
        "jitted apply": lambda i: jit_apply(params, xs),
    }
    print(f"\n### {args.calls:,} repeated calls (after 200 warm-up calls)\n")
    print(
        "| calls | RSS before (MiB) | RSS after (MiB) | RSS growth (MiB) "
        "| Python heap growth (KiB) |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, call in loops.items():
        for i in range(200):
            jax.block_until_ready(call(i))
        gc.collect()
        tracemalloc.start()
        heap0 = tracemalloc.get_traced_memory()[0]
        rss0 = rss_mib()
        for i in range(args.calls):
            out = call(i)
        jax.block_until_ready(out)
        del out
        gc.collect()
        heap1 = tracemalloc.get_traced_memory()[0]
        rss1 = rss_mib()
        tracemalloc.stop()
        print(
            f"| {name} | {rss0:.1f} | {rss1:.1f} | {rss1 - rss0:+.1f} | "
            f"{(heap1 - heap0) / 1024:+.1f} |"
        )


if __name__ == "__main__":
    main()
