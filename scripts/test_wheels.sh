#!/usr/bin/env bash
# Runs tests against the built wheels of the five packages, installed into a fresh
# virtual environment (not the editable sources), so that a file or dependency
# missing from a wheel fails here.
# Usage: scripts/test_wheels.sh [pytest args and test paths]   (needs uv on PATH)
# Without paths it runs the whole suite (pytest's testpaths).
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for p in core initializers layers training haiku; do
  uv build -q --wheel --out-dir "$work/dist" "packages/$p"
done
uv venv -q --python "${PYTHON:-python3}" "$work/venv"
py="$work/venv/bin/python"
training=$(ls "$work"/dist/minihaiku_training-*.whl)
uv pip install -q --python "$py" "$work"/dist/*.whl "minihaiku-training[plot] @ file://$training" \
  ./tests/plugins/acme_inits ./tests/plugins/broken_inits \
  "pytest>=8" "hypothesis>=6.100" "dm-haiku>=0.0.13" "scikit-learn>=1.3" "pytest-xdist>=3.5" "uv>=0.5"
# Prove that the wheels, not the sources, are what gets imported.
"$py" -c "
import minihaiku.core, minihaiku.initializers, minihaiku.layers, minihaiku.training as t
import minihaiku.haiku as hk
for m in (minihaiku.core, minihaiku.initializers, minihaiku.layers, t, hk):
    assert 'site-packages' in m.__file__, m.__file__
print('testing the installed wheels:', ', '.join(m.__name__ for m in (minihaiku.core, minihaiku.initializers, minihaiku.layers, t, hk)))
"
PATH="$work/venv/bin:$PATH" "$py" -m pytest -n 2 -p no:cacheprovider "$@"
