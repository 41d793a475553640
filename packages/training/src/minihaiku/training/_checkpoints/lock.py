"""An exclusive lock on a checkpoint directory, held by one process at a time."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from minihaiku.training._errors import CheckpointError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "DirectoryLock"]

#: The lock file inside a checkpoint directory.
LOCK_NAME = ".minihaiku-lock"

# Held locks by directory: flock conflicts between two descriptors of one
# process too, so a process that holds a directory (the CLI while it clears
# it) may take it again (the training loop); the lock is per process.
_HELD: dict[Path, list[Any]] = {}
_GUARD = threading.Lock()


class DirectoryLock:
    """An OS lock (``flock``) on ``directory/.minihaiku-lock``.

    The kernel releases it when the process ends, however it ends (even by
    ``kill -9``), so a stale lock file never blocks a later run; only a live
    process holds the lock. The file records the owner's pid, host and start
    time, which a refused second writer names. Re-entrant within a process.

    Args:
      directory: the directory to lock (must exist).

    Examples:
      >>> import os, tempfile
      >>> from minihaiku.training import DirectoryLock
      >>> with DirectoryLock(tempfile.mkdtemp()) as lock:
      ...     lock.owner()["pid"] == os.getpid()
      True
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).absolute()
        self.path = self.directory / LOCK_NAME
        self._key = self.directory.resolve()  # one entry per directory, symlinks or not
        self._held = False

    def owner(self) -> dict[str, Any]:
        """What the lock file says about its (last) owner: pid, host, started."""
        try:
            info = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return info if isinstance(info, dict) else {}

    def acquire(self) -> DirectoryLock:
        """Takes the lock, or raises :class:`CheckpointError` naming its owner at once."""
        if self._held:
            return self
        with _GUARD:
            held = _HELD.get(self._key)
            if held is not None:
                held[1] += 1
                self._held = True
                return self
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise CheckpointError(
                    f"cannot create the lock file {self.path} ({e.strerror}). Make "
                    f"{self.directory} writable, or use another checkpoint directory."
                ) from None
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    info = self.owner()
                    raise CheckpointError(
                        f"{self.directory} is in use by another run: process "
                        f"{info.get('pid', '?')} on host {info.get('host', '?')} "
                        f"(started {info.get('started', '?')}) holds its lock "
                        f"{self.path}. Wait for that run to end or stop it, or use "
                        "another checkpoint directory."
                    ) from None
            record = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
            _HELD[self._key] = [fd, 1]
            self._held = True
        return self

    def release(self) -> None:
        """Releases the lock (the file stays; only the OS lock counts)."""
        if not self._held:
            return
        self._held = False
        with _GUARD:
            held = _HELD[self._key]
            held[1] -= 1
            if held[1] == 0:
                del _HELD[self._key]
                os.close(held[0])  # closing the descriptor drops the flock

    def __enter__(self) -> DirectoryLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
