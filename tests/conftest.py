"""Test-wide options and fixtures.

``MINIHAIKU_SKIP_SLOW=1`` skips the tests marked ``slow``. The hatch matrix
sets it in every cell but Python 3.12 with the newest JAX, so that the long
end-to-end runs of minihaiku.layers (its ResNets, its ports of dm-haiku's
examples) and the example scripts run once, and every other test (all of
tests/haiku among them) runs in every cell.

``eight_devices_run`` runs Python in a subprocess with 8 forced CPU devices
(``XLA_FLAGS`` must be set before jax is imported, so not in this process).
"""

import json
import os
import subprocess
import sys

import pytest

EIGHT_DEVICES_ENV = {
    "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
    "JAX_PLATFORMS": "cpu",
    "PYTHONWARNINGS": "ignore",
}


@pytest.fixture(scope="session")
def eight_devices_run():
    """``run(*argv, timeout=300)``: ``python *argv`` on 8 CPU devices; its stdout, parsed as JSON.

    ``argv`` is ``("-c", code, *args)`` or ``(script_path, *args)``; a non-zero
    exit fails the test with the subprocess's stderr.
    """

    def run(*argv, timeout=300):
        r = subprocess.run(
            [sys.executable, *map(str, argv)],
            capture_output=True,
            text=True,
            env={**os.environ, **EIGHT_DEVICES_ENV},
            timeout=timeout,
        )
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    return run


def pytest_collection_modifyitems(config, items):
    if os.environ.get("MINIHAIKU_SKIP_SLOW", "") not in ("", "0"):
        skip = pytest.mark.skip(reason="MINIHAIKU_SKIP_SLOW is set (slow tests run in one cell)")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(skip)
