"""Checks that an MLP of the given sizes fits in memory, before XLA sees it."""

from __future__ import annotations

import os
from collections.abc import Sequence

from minihaiku.core import InvalidArgumentError

__all__ = ["available_bytes", "check_sizes"]

_GIB = 2**30


def available_bytes() -> tuple[int, str]:
    """Memory free for arrays on the default device, and the device's name.

    An accelerator's allocator limit where JAX reports one, else the host's
    available memory (for the CPU backend).
    """
    import jax

    device = jax.devices()[0]
    try:
        stats = device.memory_stats()
    except Exception:  # some backends do not implement it
        stats = None
    if stats and stats.get("bytes_limit"):
        free = int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
        return free, f"{device.platform} device {device.id}"
    try:
        with open("/proc/meminfo") as f:  # MemAvailable counts reclaimable caches
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "this machine"
    except OSError:
        pass
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES")
        page = os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 2**62, "this machine"
    return int(pages) * int(page), "this machine"


def check_sizes(
    sizes: Sequence[int], rows: int, *, dtype_bytes: int = 4, available: int | None = None
) -> None:
    """Raises if training an MLP of ``sizes`` on ``rows`` inputs of width 1 cannot fit.

    The estimate counts each Linear layer's weights and bias three times
    (params, gradients, updated params) and the activations of ``rows``
    examples three times (forward, backward), in ``dtype_bytes`` per number;
    XLA aborts the process when an allocation fails, so the check comes first.

    Args:
      sizes: the MLP's output sizes, e.g. ``(128, 128, 1)``.
      rows: the batch size.
      dtype_bytes: bytes per number (4 for float32).
      available: bytes available; default :func:`available_bytes`.

    Raises:
      InvalidArgumentError: naming the largest layer (``Linear_N``), its size
        and the memory needed and available.

    Examples:
      >>> from minihaiku.core import InvalidArgumentError
      >>> check_sizes((128, 128, 1), rows=128)
      >>> try:
      ...     check_sizes((10**6, 10**6, 1), rows=128, available=2**30)
      ... except InvalidArgumentError as e:
      ...     print(str(e).split(" (")[0])
      --sizes 1000000,1000000,1: layer Linear_1
    """
    where = "this machine"
    if available is None:
        available, where = available_bytes()
    fan_in = 1
    layers = []
    for i, size in enumerate(sizes):
        layers.append((fan_in * size + size, i, fan_in, size))
        fan_in = size
    params = sum(n for n, *_ in layers)
    needed = dtype_bytes * (3 * params + 3 * rows * sum(sizes))
    if needed <= available:
        return
    count, i, fan_in, size = max(layers)
    raise InvalidArgumentError(
        f"--sizes {','.join(map(str, sizes))}: layer Linear_{i} (~/MLP_0/__call__/Linear_{i}, "
        f"{fan_in} -> {size}) has {count:,} parameters ({count * dtype_bytes / _GIB:,.1f} "
        f"GiB); training this MLP needs about {needed / _GIB:,.1f} GiB but {where} has "
        f"{available / _GIB:,.1f} GiB available. Choose smaller sizes."
    )
