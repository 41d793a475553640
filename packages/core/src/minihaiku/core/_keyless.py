"""Initializers that ignore their key: marked once, so that core derives no key for them.

Deriving a parameter's key costs host work in un-jitted ``init``; an
initializer marked with :func:`keyless` (zeros, ones, constants) is called with
``key=None`` instead. The mark is the attribute ``minihaiku_keyless``, so an
initializer marked by hand keeps working.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import jax

from minihaiku.core._errors import InvalidArgumentTypeError, NotCallableError

__all__ = ["is_keyless", "keyless"]

F = TypeVar("F", bound=Callable[..., Any])

#: The attribute that marks an initializer as keyless.
_MARK = "minihaiku_keyless"

#: Initializers known to ignore their key without being marked.
_KNOWN_KEYLESS = {jax.nn.initializers.zeros, jax.nn.initializers.ones}


def keyless(init: F) -> F:
    """Marks ``init`` as an initializer that ignores its key, and returns it.

    Core then derives no key for the parameters ``init`` creates and calls it
    with ``key=None`` (un-jitted ``init`` gets cheaper; the values do not
    change). Use it as a decorator on a ``(key, shape, dtype) -> Array``
    function that never reads ``key``. Inside ``layer_stack`` every layer
    still gets its own key.

    Args:
      init: the initializer; it must accept attributes (a function or a
        ``functools.partial``, not a bound method).

    Returns:
      ``init`` itself, marked.

    Raises:
      NotCallableError: ``init`` is not callable.
      InvalidArgumentTypeError: ``init`` cannot be marked (wrap it in a function).

    Examples:
      >>> from minihaiku.core import get_param, keyless, transform
      >>> seen = []
      >>> @keyless
      ... def twos(key, shape, dtype):
      ...   seen.append(key)
      ...   return jnp.full(shape, 2, dtype)
      >>> transform(lambda: get_param("w", (2,), init=twos)).init(0)
      {'~/w': Array([2., 2.], dtype=float32)}
      >>> seen
      [None]
    """
    if not callable(init):
        raise NotCallableError(
            f"keyless: init must be a (key, shape, dtype) -> Array callable, got "
            f"{type(init).__name__} {init!r:.60}."
        )
    try:
        setattr(init, _MARK, True)
    except (AttributeError, TypeError):
        raise InvalidArgumentTypeError(
            f"keyless: cannot mark a {type(init).__name__} {init!r:.60}; wrap it in a "
            "function: keyless(lambda key, shape, dtype: init(key, shape, dtype))."
        ) from None
    return init


def is_keyless(init: Callable[..., Any]) -> bool:
    """Whether ``init`` ignores its key: marked by :func:`keyless`, or a known one."""
    try:
        if init in _KNOWN_KEYLESS:
            return True
    except TypeError:  # an unhashable callable
        pass
    return bool(getattr(init, _MARK, False))
