"""dm-haiku's parameter and state functions, on minihaiku.core under the haiku scheme."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import jax
import jax.numpy as jnp

import minihaiku.core as core
from minihaiku.core import InvalidArgumentError
from minihaiku.haiku._inits import Initializer, as_init

__all__ = ["get_parameter", "get_state", "set_state", "transparent"]

T = TypeVar("T", bound=Callable[..., Any])


def get_parameter(
    name: str,
    shape: Sequence[int],
    dtype: Any = None,
    init: Initializer | None = None,
) -> jax.Array:
    """dm-haiku's ``hk.get_parameter``: ``init(shape, dtype)`` creates it in ``init``.

    Args:
      name: the parameter's name in the current module (or ``~``).
      shape: its shape.
      dtype: its dtype (``None``: float32).
      init: a dm-haiku initializer ``(shape, dtype) -> Array``; required.

    Raises:
      InvalidArgumentError: no ``init`` was given (a ``ValueError``, as in dm-haiku).

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.transform(lambda: hk.get_parameter("w", [2], init=jnp.ones))
      >>> f.init(None)
      {'~': {'w': Array([1., 1.], dtype=float32)}}
    """
    if init is None:
        raise InvalidArgumentError(
            f"get_parameter({name!r}): init is required (dm-haiku's rule). Pass an "
            "initializer such as hk.initializers.TruncatedNormal(0.1) or jnp.zeros."
        )
    return core.get_param(name, shape, jnp.float32 if dtype is None else dtype, as_init(init))


def get_state(
    name: str,
    shape: Sequence[int] | None = None,
    dtype: Any = jnp.float32,
    init: Initializer | None = None,
) -> jax.Array:
    """dm-haiku's ``hk.get_state``: reads a state entry, created with ``init`` in ``init``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> def f():
      ...   n = hk.get_state("n", [], jnp.int32, init=jnp.zeros)
      ...   hk.set_state("n", n + 1)
      >>> hk.transform_with_state(f).init(None)
      ({}, {'~': {'n': Array(0, dtype=int32)}})
    """
    return core.get_state(name, shape, dtype, as_init(init))


def set_state(name: str, value: Any) -> None:
    """dm-haiku's ``hk.set_state``: stores ``value`` as state entry ``name``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.transform_with_state(lambda x: hk.set_state("last", x))
      >>> f.init(None, jnp.ones(2))
      ({}, {'~': {'last': Array([1., 1.], dtype=float32)}})
    """
    core.set_state(name, value)


def transparent(method: T) -> T:
    """dm-haiku's ``hk.transparent``: the method adds no name of its own.

    Modules it builds are named as if the calling method had built them
    (dm-haiku's ``MultiHeadAttention`` builds ``query``, ``key``, ``value`` so).

    Examples:
      >>> import minihaiku.haiku as hk
      >>> class Block(hk.Module):
      ...   @hk.transparent
      ...   def project(self, x):
      ...     return hk.Linear(2, name="proj")(x)
      ...   def __call__(self, x):
      ...     return self.project(x)
      >>> list(hk.transform(lambda x: Block()(x)).init(jax.random.PRNGKey(0), jnp.ones((1, 3))))
      ['block/proj']
    """
    return core.transparent(method)
