"""Flat paths for params in either layout: minihaiku's flat one or dm-haiku's nested one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minihaiku.core._schemes import HAIKU

__all__ = ["as_flat", "is_nested", "restore"]


def is_nested(params: Mapping[str, Any]) -> bool:
    """Whether ``params`` are dm-haiku's nested ``{module: {name: array}}``.

    Examples:
      >>> is_nested({"linear": {"w": 1}}), is_nested({"~/w": 1})
      (True, False)
    """
    return bool(params) and all(isinstance(v, Mapping) for v in params.values())


def as_flat(params: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    """``params`` by path (nested ones as ``module/name``), and whether they came nested.

    Examples:
      >>> as_flat({"mlp/~/linear_0": {"w": 1}})
      ({'mlp/~/linear_0/w': 1}, True)
    """
    nested = is_nested(params)
    return (HAIKU.params_in(params), True) if nested else (params, False)


def restore(flat: Mapping[str, Any], nested: bool) -> Any:
    """``flat`` back in the layout :func:`as_flat` found.

    Examples:
      >>> restore({"mlp/~/linear_0/w": 1}, True)
      {'mlp/~/linear_0': {'w': 1}}
    """
    return HAIKU.params_out(dict(flat)) if nested else flat
