"""Cost of initializer plugin autoload, each figure from fresh subprocesses, best of N.

Measures `import jax`, `import minihaiku.core` (after jax), the first
`get_initializer("normal")` (which scans the `minihaiku.initializers` entry points and
loads every plugin), the entry-point scan alone, and later lookups (`normal`: the
default initializer's fast path; `zeros`: a configured lookup). With
MINIHAIKU_DISABLE_PLUGIN_AUTOLOAD=1 the first lookup registers the built-ins by hand
(`register_plugin(minihaiku.initializers._plugin)`), which is what autoload saves
you from writing. Prints a markdown table.

Usage: python bench/autoload.py [--repeats 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, os, sys, time, timeit
mode = sys.argv[1]
out = {}
t = time.perf_counter()
import jax
out["import jax"] = time.perf_counter() - t
t = time.perf_counter()
import minihaiku.core as m
out["import minihaiku.core"] = time.perf_counter() - t
if mode == "scan":
    from importlib.metadata import entry_points
    t = time.perf_counter()
    eps = entry_points(group=m.ENTRY_POINT_GROUP)
    out["entry-point scan"] = time.perf_counter() - t
    out["plugins"] = sorted(f"{e.name} ({e.dist.metadata['Name']})" for e in eps)
else:
    t = time.perf_counter()
    if mode == "off":
        import minihaiku.initializers._plugin as builtin
        m.register_plugin(builtin, name="builtin")
    m.get_initializer("normal")
    out["first lookup"] = time.perf_counter() - t
    for name in ("normal", "zeros"):
        n = 20000
        best = min(timeit.repeat(lambda: m.get_initializer(name), number=n, repeat=5))
        out[f"later {name}"] = best / n
print(json.dumps(out))
"""


def child(mode: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIHAIKU_")}
    env["PYTHONWARNINGS"] = "ignore"
    if mode == "off":
        env["MINIHAIKU_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    r = subprocess.run(
        [sys.executable, "-c", CHILD, mode], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(r.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10, help="fresh processes per mode")
    args = parser.parse_args()
    best: dict[str, dict[str, float]] = {"on": {}, "off": {}, "scan": {}}
    plugins: list[str] = []
    for _ in range(args.repeats):  # interleaved, so drift hits every mode alike
        for mode in best:
            res = child(mode)
            plugins = res.pop("plugins", plugins)
            for k, v in res.items():
                best[mode][k] = min(best[mode].get(k, float("inf")), v)
    on, off, scan = best["on"], best["off"], best["scan"]

    def ms(x: float | None) -> str:
        return "-" if x is None else f"{x * 1e3:.1f} ms"

    def ns(x: float | None) -> str:
        return "-" if x is None else f"{x * 1e9:.0f} ns"

    import jax

    print(
        f"python {sys.version.split()[0]}, jax {jax.__version__}; best of {args.repeats} "
        f"fresh processes per column; entry points found: {', '.join(plugins) or 'none'}\n"
    )
    print("| step | autoload on | autoload off (built-ins registered by hand) |")
    print("|---|---:|---:|")
    print(f"| `import jax` | {ms(on['import jax'])} | {ms(off['import jax'])} |")
    print(
        f"| `import minihaiku.core` (after jax) | {ms(on['import minihaiku.core'])} | "
        f"{ms(off['import minihaiku.core'])} |"
    )
    print(
        f'| first `get_initializer("normal")` | {ms(on["first lookup"])} | '
        f"{ms(off['first lookup'])} |"
    )
    print(f"| of which: entry-point scan alone | {ms(scan['entry-point scan'])} | - |")
    print(
        f'| later `get_initializer("normal")` (per call) | {ns(on["later normal"])} | '
        f"{ns(off['later normal'])} |"
    )
    print(
        f'| later `get_initializer("zeros")` (per call) | {ns(on["later zeros"])} | '
        f"{ns(off['later zeros'])} |"
    )


if __name__ == "__main__":
    main()
