"""dm-haiku's ``get_params``, ``get_current_state``, ``get_initial_state``: nested trees.

Core's functions return flat paths (``"mlp/~/linear_0/w"``); these nest them
as dm-haiku does (``{"mlp/~/linear_0": {"w": ...}}``).

Examples:
  >>> import minihaiku.haiku as hk
  >>> def f(x):
  ...   hk.Linear(2)(x)
  ...   return jax.tree.map(jnp.shape, hk.experimental.get_params())
  >>> f = hk.transform(f)
  >>> f.apply(f.init(jax.random.PRNGKey(0), jnp.ones((1, 3))), None, jnp.ones((1, 3)))
  {'linear': {'b': (2,), 'w': (3, 2)}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import minihaiku.core as core
from minihaiku.core import HAIKU

__all__ = ["get_current_state", "get_initial_state", "get_params"]

Nested = Mapping[str, Mapping[str, Any]]


def get_params() -> Nested:
    """dm-haiku's ``hk.get_params``: the params this call has used or created so far, nested.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> def f():
      ...   hk.get_parameter("w", [], init=jnp.zeros)
      ...   return hk.get_params()
      >>> hk.transform(f).apply({"~": {"w": jnp.ones(())}}, None)
      {'~': {'w': Array(1., dtype=float32)}}
    """
    nested: Nested = HAIKU.params_out(core.get_params())
    return nested


def get_current_state() -> Nested:
    """dm-haiku's ``hk.get_current_state``: the state as it is now, nested.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> def f():
      ...   hk.set_state("n", hk.get_state("n", [], init=jnp.zeros) + 1)
      ...   return hk.get_current_state()
      >>> f = hk.transform_with_state(f)
      >>> f.apply(*f.init(None), None)[0]
      {'~': {'n': Array(1., dtype=float32)}}
    """
    nested: Nested = HAIKU.params_out(core.get_current_state())
    return nested


def get_initial_state() -> Nested:
    """dm-haiku's ``hk.get_initial_state``: the state this call started with, nested.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> def f():
      ...   hk.set_state("n", hk.get_state("n", [], init=jnp.zeros) + 1)
      ...   return hk.get_initial_state()
      >>> f = hk.transform_with_state(f)
      >>> f.apply(*f.init(None), None)[0]
      {'~': {'n': Array(0., dtype=float32)}}
    """
    nested: Nested = HAIKU.params_out(core.get_initial_state())
    return nested
