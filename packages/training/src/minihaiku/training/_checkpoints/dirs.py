"""Checks that an output directory can be written, before any work starts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from minihaiku.training._errors import TrainingError

__all__ = ["ensure_writable_dir"]


def ensure_writable_dir(
    path: str | Path, what: str, error: type[TrainingError] = TrainingError
) -> Path:
    """Creates ``path`` if needed and checks that files can be written in it.

    Fails at once with one clear ``error`` instead of letting a writer (orbax,
    matplotlib) hang or fail late: a path below a regular file, a directory
    that cannot be created, or one that is not writable.

    Args:
      path: the directory.
      what: how the error names it (``"the checkpoint directory"``, ``"--out"``).
      error: the error class to raise.

    Returns:
      The absolute path.

    Examples:
      >>> import tempfile
      >>> from minihaiku.training import ensure_writable_dir
      >>> ensure_writable_dir(tempfile.mkdtemp(), "--out").is_dir()
      True
    """
    path = Path(path).absolute()
    for above in [path, *path.parents]:
        if above.exists():
            if not above.is_dir():
                where = "is" if above == path else f"is below {above}, which is"
                raise error(
                    f"{what} {path} {where} a file, not a directory. Choose a directory path."
                )
            break
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise error(
            f"{what} {path} cannot be created ({e.strerror or e}). Choose a "
            "directory you can write to."
        ) from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".minihaiku-probe-", dir=path)
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise error(
            f"{what} {path} is not writable ({e.strerror or e}). Choose a "
            "directory you can write to, or fix its permissions."
        ) from None
    return path
