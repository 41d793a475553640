"""dm-haiku's type names of params and state: nested ``{module: {name: array}}`` mappings.

Examples:
  >>> import minihaiku.haiku as hk
  >>> from collections.abc import Mapping
  >>> hk.Params == Mapping[str, Mapping[str, jax.Array]]
  True
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

import jax

__all__ = ["MutableParams", "MutableState", "Params", "State"]

Params = Mapping[str, Mapping[str, jax.Array]]
State = Mapping[str, Mapping[str, jax.Array]]
MutableParams = MutableMapping[str, MutableMapping[str, jax.Array]]
MutableState = MutableMapping[str, MutableMapping[str, jax.Array]]
