"""dm-haiku's nested params (``{module: {name: array}}``) in params files.

A params file holds one tensor per flat path; nested params are written under
``module/name`` keys and the file's metadata says so (``layout: nested``), so
:func:`~minihaiku.training.load_params` hands them back nested.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

__all__ = ["NESTED", "file_layout", "flatten", "is_nested", "nest"]

#: The metadata value of ``layout`` for a file written from nested params.
NESTED = "nested"


def is_nested(params: Mapping[str, Any]) -> bool:
    """Whether ``params`` is dm-haiku's layout: every value a mapping (and at least one).

    Examples:
      >>> is_nested({"linear": {"w": 1}}), is_nested({"~/w": 1}), is_nested({})
      (True, False, False)
    """
    return bool(params) and all(isinstance(v, Mapping) for v in params.values())


def flatten(params: Mapping[str, Any]) -> dict[str, Any]:
    """``{module/name: leaf}`` of nested params.

    Examples:
      >>> flatten({"mlp/~/linear_0": {"w": 1, "b": 2}})
      {'mlp/~/linear_0/w': 1, 'mlp/~/linear_0/b': 2}
    """
    return {f"{m}/{n}": v for m, inner in params.items() for n, v in inner.items()}


def nest(flat: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Nested params of ``{module/name: leaf}`` (the name is after the last ``/``).

    Examples:
      >>> nest({"mlp/~/linear_0/w": 1, "mlp/~/linear_0/b": 2, "~/s": 3})
      {'mlp/~/linear_0': {'w': 1, 'b': 2}, '~': {'s': 3}}
    """
    out: dict[str, dict[str, Any]] = {}
    for path, v in flat.items():
        module, _, name = path.rpartition("/")
        out.setdefault(module, {})[name] = v
    return out


def file_layout(data: bytes) -> str | None:
    """The ``layout`` in a safetensors file's metadata (``None`` when absent or unreadable).

    Examples:
      >>> header = json.dumps({"__metadata__": {"layout": "nested"}}).encode()
      >>> file_layout(struct.pack("<Q", len(header)) + header)
      'nested'
    """
    try:
        (size,) = struct.unpack("<Q", data[:8])
        meta = json.loads(data[8 : 8 + size]).get("__metadata__") or {}
    except (struct.error, ValueError, AttributeError):
        return None
    layout = meta.get("layout")
    return layout if isinstance(layout, str) else None
