"""Naming helpers whose meaning depends on the scheme: ``name_scope``, ``current_name``.

Both work under every scheme (:mod:`minihaiku.core._schemes`). Under the
haiku scheme they behave as dm-haiku's; under the seed's, ``name_scope``
adds one path segment (no counter: the same name twice is the same scope)
and ``current_name`` is the current parameter path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from minihaiku.core._errors import InvalidArgumentError
from minihaiku.core._frame import current_frame
from minihaiku.core._schemes import FORCED, NAME_LIKE

__all__ = ["current_name", "force_name", "name_like", "name_scope", "reserve_rng_keys"]

T = TypeVar("T", bound=Callable[..., Any])


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


def force_name(name: str) -> str:
    """A module name that is used as the module's full name, as it is (dm-haiku's ``force_name``).

    Give it as ``name=``: the module gets exactly ``name`` as its full name
    (under the haiku scheme ``"encoder"``, ``"mlp/~/linear_0"``; under the
    seed's a full path such as ``"~/Linear_0"``), wherever it is built and
    even if that name is taken: it reads the parameters stored under it. Use
    it to share a module's parameters from another place
    (``force_name(module.module_name)``).

    Examples:
      >>> from minihaiku.core import Module, force_name, get_param, transform
      >>> class Scale(Module):
      ...   def __call__(self, x):
      ...     return x * get_param("s", (), init="ones")
      >>> def f(x):
      ...   a = Scale(name="enc")
      ...   return a(x) + Scale(name=force_name(a.module_name))(x)
      >>> list(transform(f, scheme="haiku").init(0, 2.0))
      ['enc']
      >>> list(transform(f).init(0, 2.0))
      ['~/enc/__call__/s']
    """
    if type(name) is not str or not name:
        raise InvalidArgumentError(
            f"force_name expects a module's full name (a non-empty str), got "
            f"{type(name).__name__} {name!r:.40}; e.g. force_name(module.module_name)."
        )
    return FORCED + name


def name_like(method_name: str) -> Callable[[T], T]:
    """Names what the decorated method builds as if ``method_name`` had built it (dm-haiku's).

    Modules the method constructs, and its parameters, get the names they
    would get inside ``method_name`` (e.g. an alternative ``__call__`` that
    shares its parameters).

    Examples:
      >>> from minihaiku.core import Module, get_param, name_like, transform
      >>> class Scale(Module):
      ...   def __call__(self, x):
      ...     return x * get_param("s", (), init="ones")
      >>> class Net(Module):
      ...   def __call__(self, x):
      ...     return Scale()(x)
      ...   @name_like("__call__")
      ...   def fast(self, x):
      ...     return Scale()(x)
      >>> f = transform(lambda x: Net().fast(x) + Net(name="n")(x), scheme="haiku")
      >>> list(f.init(0, 2.0))
      ['net/scale', 'n/scale']
    """
    if type(method_name) is not str or not method_name:
        raise InvalidArgumentError(
            f"name_like expects a method's name, got {type(method_name).__name__} "
            f"{method_name!r:.40}; e.g. @name_like('__call__')."
        )

    def mark(method: T) -> T:
        setattr(method, NAME_LIKE, method_name)
        return method

    return mark


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
