"""Test-wide options: ``MINIHAIKU_SKIP_SLOW=1`` skips the tests marked ``slow``.

The hatch matrix sets it in the lowest-JAX cells, so that the long end-to-end
parity runs (ResNet, dm-haiku's examples) run once per Python version, with
the newest JAX, and every other test runs in every cell.
"""

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("MINIHAIKU_SKIP_SLOW", "") not in ("", "0"):
        skip = pytest.mark.skip(reason="MINIHAIKU_SKIP_SLOW is set (a lowest-JAX cell)")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(skip)
