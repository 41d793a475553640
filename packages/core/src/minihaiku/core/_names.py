"""Naming helpers whose meaning depends on the scheme: ``name_scope``, ``current_name``.

Both work under every scheme (:mod:`minihaiku.core._schemes`). Under the
haiku scheme they behave as dm-haiku's; under the seed's, ``name_scope``
adds one path segment (no counter: the same name twice is the same scope)
and ``current_name`` is the current parameter path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from minihaiku.core._errors import InvalidArgumentError
from minihaiku.core._frame import current_frame

__all__ = ["current_name", "name_scope", "reserve_rng_keys"]


@contextlib.contextmanager
def name_scope(name: str, *, method_name: str = "__call__") -> Iterator[None]:
    """Inside the ``with`` block, parameters and modules go under ``name``.

    Under the haiku scheme it acts as dm-haiku's ``hk.name_scope``: the scope
    is named like a module (``foo``, then ``foo_1``), ``"a/b"`` opens two
    nested scopes, and parameters created directly inside it are those of a
    module of that name. Under the seed's scheme the name is one more path
    segment of the current scope (``~/foo/w``); using it again reuses it.

    Args:
      name: the scope's name (``/`` separates nested scopes).
      method_name: the method the scope stands for: modules built inside go
        under ``name/~method_name`` (haiku scheme; ``name/~`` for
        ``"__init__"``) or ``name/method_name`` (seed); ``"__call__"`` adds
        nothing.

    Raises:
      InvalidNameError: the name is not a string, is empty, starts with
        ``/`` or (haiku scheme) a part is not a Python identifier.

    Examples:
      >>> from minihaiku.core import get_param, name_scope, transform
      >>> def f():
      ...   with name_scope("block"):
      ...     return get_param("w", (), init="ones")
      >>> list(transform(f).init(0))
      ['~/block/w']
      >>> list(transform(f, scheme="haiku").init(0))
      ['block']
    """
    frame = current_frame("name_scope")
    if type(method_name) is not str or not method_name:
        raise InvalidArgumentError(
            f"name_scope({name!r}, method_name={method_name!r:.40}): method_name must be "
            "a method's name such as '__call__' (the default) or 'encode'."
        )
    scopes = frame.scopes
    path = frame.scheme.scope_name(scopes.top, name)
    prefix = path
    if method_name != "__call__":
        path, prefix = frame.scheme.method_scope(path, method_name)
    depth = scopes.enter(path, None, prefix)
    try:
        yield
    finally:
        scopes.exit(depth)


def current_name() -> str:
    """The name of the current scope (dm-haiku's ``hk.experimental.current_name``).

    Under the haiku scheme: the current module's name (``"mlp/~/linear_0"``),
    or ``"~"`` outside any module. Under the seed's: the path parameters are
    created under now (``"~/MLP_0/__call__"``).

    Examples:
      >>> from minihaiku.core import current_name, name_scope, transform
      >>> def f():
      ...   with name_scope("block"):
      ...     return current_name()
      >>> transform(f).apply({}), transform(f, scheme="haiku").apply({})
      ('~/block', 'block')
    """
    frame = current_frame("current_name")
    return frame.scheme.current_name(frame.scopes.top)


def reserve_rng_keys(num: int) -> None:
    """Splits ``num`` keys at once for the next draws (dm-haiku's ``reserve_rng_keys``).

    Under the haiku scheme the next ``num`` keys (of initializers and
    ``next_rng_key``) come from one split, as in dm-haiku, which changes
    their values. Under the seed's scheme keys derive from paths and counts,
    so this does nothing.

    Examples:
      >>> from minihaiku.core import next_rng_key, reserve_rng_keys, transform
      >>> def f():
      ...   reserve_rng_keys(2)
      ...   return next_rng_key()
      >>> transform(f, scheme="haiku").init(0)
      {}
    """
    if isinstance(num, bool) or not isinstance(num, int) or num < 0:
        raise InvalidArgumentError(
            f"reserve_rng_keys(num): num must be an int >= 0, got {num!r:.40}; pass "
            "how many keys to split at once."
        )
    current_frame("reserve_rng_keys").keys.reserve(num)
