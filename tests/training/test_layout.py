"""The training library does not depend on its quadratic-fit app (minihaiku.training.fit)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_library_loads_neither_the_fit_app_nor_layers():
    code = (
        "import sys, minihaiku.training as t; "
        "assert 'minihaiku.training.fit' not in sys.modules; "
        "assert 'minihaiku.layers' not in sys.modules; "
        "t.run_quadratic_fit; "
        "assert 'minihaiku.training.fit' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
