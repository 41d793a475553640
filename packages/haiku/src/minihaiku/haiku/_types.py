"""dm-haiku's type names of params and state: nested ``{module: {name: array}}`` mappings.

Examples:
  >>> import minihaiku.haiku as hk
  >>> from collections.abc import Mapping
  >>> hk.Params == Mapping[str, Mapping[str, jax.Array]]
  True
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, Protocol, runtime_checkable

import jax

__all__ = ["ModuleProtocol", "MutableParams", "MutableState", "Params", "State", "SupportsCall"]

Params = Mapping[str, Mapping[str, jax.Array]]
State = Mapping[str, Mapping[str, jax.Array]]
MutableParams = MutableMapping[str, MutableMapping[str, jax.Array]]
MutableState = MutableMapping[str, MutableMapping[str, jax.Array]]


@runtime_checkable
class ModuleProtocol(Protocol):
    """dm-haiku's ``hk.ModuleProtocol``: what a module offers, for type hints.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> hk.transform(lambda: isinstance(hk.Linear(2), hk.ModuleProtocol)).apply({}, None)
      True
    """

    @property
    def name(self) -> str: ...

    @property
    def module_name(self) -> str: ...


@runtime_checkable
class SupportsCall(ModuleProtocol, Protocol):
    """dm-haiku's ``hk.SupportsCall``: a module that can be called.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> hk.transform(lambda: isinstance(hk.Linear(2), hk.SupportsCall)).apply({}, None)
      True
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
