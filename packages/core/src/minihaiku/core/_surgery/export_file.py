"""The file format of :func:`~minihaiku.core.export`: a magic line, a JSON header, the StableHLO."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from minihaiku.core._errors import MinihaikuError

__all__ = ["FORMAT_VERSION", "MAGIC", "ExportError", "read_artifact", "write_artifact"]

#: The first bytes of every file :func:`~minihaiku.core.export` writes.
MAGIC = b"MINIHAIKU-EXPORT\n"
#: The version of the format written; :func:`~minihaiku.core.load_exported` reads up to it.
FORMAT_VERSION = 1
_LENGTH_BYTES = 8  # the header's length, little-endian, after the magic


class ExportError(MinihaikuError, ValueError):
    """An export cannot be written, an exported file cannot be loaded, or a call does not fit.

    Examples:
      >>> import tempfile
      >>> from minihaiku.core import ExportError, load_exported
      >>> path = f"{tempfile.mkdtemp()}/model.mhx"
      >>> _ = open(path, "wb").write(b"not an export")
      >>> try:
      ...   load_exported(path)
      ... except ExportError as e:
      ...   print(str(e).split(": ", 1)[1][:60])
      not a minihaiku export file (it does not start with b'MINIHA
    """


def write_artifact(path: Path, header: dict[str, Any], payload: bytes) -> Path:
    """Writes ``MAGIC``, the header (with the payload's size and sha256) and ``payload``.

    The file is written under a temporary name and renamed: never half a file.
    """
    header = {
        "format_version": FORMAT_VERSION,
        **header,
        "payload_bytes": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
    }
    text = json.dumps(header, sort_keys=True).encode()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as f:
            f.write(MAGIC + len(text).to_bytes(_LENGTH_BYTES, "little") + text + payload)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ExportError(
            f"export: cannot write {path} ({e.strerror or e}). Choose a writable path."
        ) from None
    return path


def _damaged(path: Path, why: str) -> ExportError:
    return ExportError(
        f"{path}: the file is truncated or damaged ({why}). Export the model again, "
        "or copy the file again."
    )


def read_artifact(path: Path) -> tuple[dict[str, Any], bytearray]:
    """The header and the payload of an exported file, checked."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ExportError(f"load_exported: cannot read {path} ({e.strerror or e}).") from None
    if not data.startswith(MAGIC):
        raise ExportError(
            f"{path}: not a minihaiku export file (it does not start with {MAGIC!r}). "
            "Load files written by minihaiku.core.export."
        )
    start = len(MAGIC) + _LENGTH_BYTES
    if len(data) < start:
        raise _damaged(path, f"{len(data)} bytes, shorter than the header's length field")
    size = int.from_bytes(data[len(MAGIC) : start], "little")
    if len(data) < start + size:
        raise _damaged(path, f"the header needs {size} bytes, {len(data) - start} are left")
    try:
        header = json.loads(data[start : start + size])
        version = header["format_version"]
        want_bytes, want_hash = header["payload_bytes"], header["payload_sha256"]
    except (ValueError, KeyError, TypeError) as e:
        raise _damaged(path, f"the header is not valid: {e!r:.80}") from None
    if type(version) is not int or version > FORMAT_VERSION:
        raise ExportError(
            f"{path}: written in export format version {version!r}, but this "
            f"minihaiku-core reads versions up to {FORMAT_VERSION}. Upgrade "
            "minihaiku-core to load it, or export the model again with this one."
        )
    payload = bytearray(data[start + size :])
    if len(payload) != want_bytes:
        raise _damaged(
            path, f"the header announces {want_bytes} bytes of StableHLO, found {len(payload)}"
        )
    if hashlib.sha256(payload).hexdigest() != want_hash:
        raise _damaged(path, "the StableHLO's sha256 does not match the header's")
    return header, payload
