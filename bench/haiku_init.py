"""minihaiku.haiku's un-jitted ``init``: the eager path against the abstract one, with dm-haiku.

The programs of bench/haiku_models.py (dm-haiku's MLP, the transformer block,
ResNet18), each ``init`` run three ways in one process, alternating (order
flipped every round): dm-haiku; minihaiku.haiku under ``init_mode("eager")``
(the forward pass run on values: main's haiku-scheme ``init`` before issue
18 item 7); minihaiku.haiku under the default ``init_mode("auto")`` (the
abstract trace and the replay of dm-haiku's key sequence, or the eager
fallback). Medians of the rounds, each round the best of ``--calls`` calls.

    hatch run bench:haiku-init [--models mlp transformer resnet18] [--repeats 7] [--calls 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import haiku
import jax

import minihaiku.haiku as mhk
from minihaiku.core import init_mode

sys.path.insert(0, str(Path(__file__).parent))
import haiku_models as hm


def _eager(built: hm.Built) -> Callable[[], None]:
    def run() -> None:
        with init_mode("eager"):
            built.init()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(hm.MODELS), choices=list(hm.MODELS))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=5)
    args = parser.parse_args()
    print(f"JAX {jax.__version__}, {jax.default_backend()}, dm-haiku {haiku.__version__}")
    print("| model | dm-haiku | minihaiku.haiku eager (old) | minihaiku.haiku auto (new) |")
    print("|---|---:|---:|---:|")
    for model in args.models:
        bh, bm = hm.Built(haiku, model), hm.Built(mhk, model)
        runs = {"dm-haiku": bh.init, "eager": _eager(bm), "auto": bm.init}
        times: dict[str, list[float]] = {name: [] for name in runs}
        for r in range(args.repeats):
            for name in list(runs)[:: 1 if r % 2 == 0 else -1]:
                times[name].append(hm.best(runs[name], args.calls))
        med = {name: statistics.median(t) for name, t in times.items()}
        ref = med["dm-haiku"]
        cells = [f"{t * 1e3:.2f} ms ({t / ref:.2f}x)" for t in med.values()]
        print(f"| {model} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
