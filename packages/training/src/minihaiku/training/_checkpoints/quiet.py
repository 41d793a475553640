"""Orbax's noise kept out of sight: one failing read is one CheckpointError, not a log storm."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["quiet_orbax"]


def _in_orbax(code: Any) -> bool:
    parts = code.co_filename.split(os.sep)
    return "orbax" in parts or "tensorstore" in parts


def _is_closed_loop_noise(unraisable: Any) -> bool:
    """Whether an unraisable error comes from orbax's reads abandoned after a failure.

    When one read of a restore fails, orbax closes its event loop while
    tensorstore still completes the other reads: their callbacks hit the
    closed loop, and their coroutines are closed when collected. Python
    prints each as a stray traceback ("Event loop is closed", "Exception
    ignored in: <coroutine ...>") after the real error has been raised.
    """
    exc = unraisable.exc_value
    tb = unraisable.exc_traceback
    last = tb
    while last is not None and last.tb_next is not None:
        last = last.tb_next
    if (
        isinstance(exc, RuntimeError)
        and str(exc) == "Event loop is closed"
        and last is not None
        and last.tb_frame.f_code.co_name == "_check_closed"
    ):
        return True
    code = getattr(unraisable.object, "cr_code", None)
    return code is not None and _in_orbax(code)


class _OrbaxTaskNoise(logging.Filter):
    """Drops asyncio's "... exception was never retrieved" for orbax's reads.

    The same early close leaves orbax's other reads (tasks and tensorstore
    futures) failed and unawaited; asyncio logs each when it is collected.
    The restore's CheckpointError already carries the first failure.
    """

    _PREFIXES = ("Task exception was never retrieved", "Future exception was never retrieved")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith(self._PREFIXES):
            return True
        if "tensorstore" in message:
            return False
        tb = record.exc_info[2] if record.exc_info else None
        while tb is not None:
            if _in_orbax(tb.tb_frame.f_code):
                return False
            tb = tb.tb_next
        return True


def _silence_closed_loop_noise() -> None:
    """Installs (once) an unraisable hook and a log filter that drop only that noise."""
    previous = sys.unraisablehook
    if getattr(previous, "_minihaiku", False):
        return

    def hook(unraisable: Any) -> None:
        if not _is_closed_loop_noise(unraisable):
            previous(unraisable)

    hook._minihaiku = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook
    logging.getLogger("asyncio").addFilter(_OrbaxTaskNoise())


@contextlib.contextmanager
def quiet_orbax() -> Iterator[None]:
    """Keeps a failing orbax read to one error: the CheckpointError raised after it.

    orbax logs a damaged file as an ERROR before raising, and the reads it
    abandons print stray tracebacks later (see above); the hook and filter go
    in before the read, since that noise can come before the error is caught.
    """
    _silence_closed_loop_noise()
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
