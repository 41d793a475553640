#!/usr/bin/env bash
# The GPU benchmark run (a lent device machine: JAX with CUDA, optax, flax, equinox and orbax are
# installed there, nothing can be downloaded). Wheels travel in .whl/: .whl/deps (dm-haiku, jmp) and
# one folder per code revision (.whl/old, .whl/new: `uv build --wheel -o .whl/new packages/X`).
# Usage there: bash bench/gpu.sh old new    (tables land in $OUT, named <rev>_<script>.txt)
set -u
export PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
nvidia-smi -L
for rev in "$@"; do
  site=/tmp/site-$rev
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" \
    .whl/deps/*.whl .whl/"$rev"/*.whl || exit 1
  export PYTHONPATH=$site
  echo "=== $rev: main_job"
  (cd bench && timeout 120 python3 main_job.py --repeats 5 2>&1 | tee "$OUT/${rev}_main_job.txt")
  echo "=== $rev: overhead depth 100 500"
  (cd bench && timeout 120 python3 overhead.py --depth 100 500 --repeats 5 --compile-max-depth 0 \
    2>&1 | tee "$OUT/${rev}_overhead.txt")
  echo "=== $rev: layers"
  (cd bench && timeout 240 python3 layers.py --repeats 3 2>&1 | tee "$OUT/${rev}_layers.txt")
done
