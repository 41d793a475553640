"""Old and new code side by side: one benchmark script, alternating runs, medians.

Runs a benchmark of bench/ (any script that prints markdown tables whose cells
start with a number, as bench/overhead.py does) alternately against the
packages of an old revision and of the working tree, ``--rounds`` times each
(old, new, new, old, old, new, ...: neither side always runs first), in fresh
processes of the same interpreter. Each side imports its own sources:
``PYTHONPATH`` names that tree's ``packages/*/src`` (they come before the
editable installs of the environment). Prints, for every table row and
column, the median of each side and new / old.

Usage (from the repository root, in the bench environment):
  hatch run bench:compare --old main~3 -- bench/overhead.py --depth 500 --impls pure minihaiku

``--old`` takes a revision (checked out into a temporary git worktree) or a
directory holding another checkout.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NUMBER = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)")


def source_path(tree: Path) -> str:
    return os.pathsep.join(str(p) for p in sorted((tree / "packages").glob("*/src")))


def run(tree: Path, argv: list[str]) -> str:
    env = {**os.environ, "PYTHONPATH": source_path(tree), "PYTHONWARNINGS": "ignore"}
    # The script is the working tree's, so both sides run the same measurement.
    out = subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed on {tree}:\n{out.stderr[-4000:]}")
    return out.stdout


def parse(text: str) -> dict[tuple[str, str, str], float]:
    """``{(table heading, row name, column): first number of the cell}``."""
    values: dict[tuple[str, str, str], float] = {}
    heading, columns = "", []
    for line in text.splitlines():
        if line.startswith("#"):
            heading, columns = line.lstrip("# ").strip(), []
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not columns:
                columns = cells
            elif not set("".join(cells)) <= set("-: "):
                for column, cell in zip(columns[1:], cells[1:], strict=False):
                    m = NUMBER.match(cell.replace(",", ""))
                    if m:
                        values[(heading, cells[0], column)] = float(m.group(1))
        elif not line.strip():
            columns = []
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="a git revision, or a checkout's directory")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each side (default 5)")
    parser.add_argument("script", nargs=argparse.REMAINDER, help="-- bench/X.py [its options]")
    args = parser.parse_args()
    argv = args.script[1:] if args.script[:1] == ["--"] else args.script
    if not argv:
        parser.error("name the benchmark after --, e.g. -- bench/overhead.py --depth 500")
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(args.old)
        if not old.is_dir():
            old = Path(tmp) / "old"
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(old), args.old],
                check=True,
            )
        try:
            for side, tree in (("old", old), ("new", ROOT)):
                probe = ["-c", "import minihaiku.core as c; print(c.__file__)"]
                where = run(tree, probe).strip()
                if not where.startswith(str(tree)):
                    sys.exit(f"the {side} side imports {where}, not {tree}'s sources")
                print(f"{side}: {where}", file=sys.stderr)
            samples: dict[str, dict[tuple[str, str, str], list[float]]] = {
                "old": defaultdict(list),
                "new": defaultdict(list),
            }
            for i in range(args.rounds):
                order = ("old", "new") if i % 2 == 0 else ("new", "old")
                for side in order:
                    tree = old if side == "old" else ROOT
                    for key, value in parse(run(tree, argv)).items():
                        samples[side][key].append(value)
                print(f"round {i + 1}/{args.rounds} done", file=sys.stderr)
        finally:
            if old.parent == Path(tmp):
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)])
    print(f"{' '.join(argv)}: median of {args.rounds} alternating runs per side")
    print(f"old = {args.old}, new = the working tree\n")
    print("| table | row | column | old | new | new / old |")
    print("|---|---|---|---:|---:|---:|")
    for key in sorted(samples["new"], key=list(samples["new"]).index):
        if key not in samples["old"]:
            continue
        o = statistics.median(samples["old"][key])
        n = statistics.median(samples["new"][key])
        ratio = f"{n / o:.2f}" if o else "-"
        print(f"| {key[0]} | {key[1]} | {key[2]} | {o:.4g} | {n:.4g} | {ratio} |")


if __name__ == "__main__":
    main()
