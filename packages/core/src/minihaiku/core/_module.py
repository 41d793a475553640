"""``Module``: the base class of object-oriented minihaiku code.

Naming rule (also in the core README):

* A module gets its name when it is constructed: ``ClassName_N`` with ``N``
  counting modules of that class constructed so far in the same scope (the
  same call of the enclosing module method, or the top level of the
  transformed function), or the ``name=`` it was given.
* Its path is the path of the scope it was constructed in, then its name:
  ``~/MLP_0/__call__/Linear_0``. The path never changes: wherever the same
  instance is called, even from another parent, it reads the same parameters.
* While one of its methods runs, the scope is the module's path plus the
  method's name (``~/MLP_0/__call__/Linear_0/__call__``); parameters created
  there get that prefix. A method of a module calling another method of the
  same module enters that method's scope, without repeating the module.
* Submodules constructed in ``__init__`` (after ``super().__init__()``) live
  under the module's own path (``~/Model_0/Linear_0``).
* Calling a module method again starts its counters afresh, so submodules
  created inside the method get the same names, and parameters, each call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from minihaiku.core._errors import (
    DuplicateNameError,
    ModuleConstructionError,
    NotInTransformError,
)
from minihaiku.core._frame import current_frame, frame_or_none
from minihaiku.core._naming import ScopeNames, check_name

__all__ = ["Module", "module_method"]

F = TypeVar("F", bound=Callable[..., Any])

_WRAPPED = "_minihaiku_wrapped"


def _wrap_method(method_name: str, f: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps ``f`` so that while it runs the scope is ``<module path>/<name>``."""

    @functools.wraps(f)
    def wrapped(self: Module, *args: Any, **kwargs: Any) -> Any:
        frame = frame_or_none()
        if frame is None:
            raise NotInTransformError(
                f"{type(self).__name__}.{method_name} was called outside a "
                "transformed function. Modules are used inside the function "
                "given to minihaiku.core.transform, while its init or apply "
                "runs."
            )
        try:
            path = self._minihaiku_path + "/" + method_name
        except AttributeError:
            raise _no_super_init(type(self)) from None
        paths = frame.scope_paths
        if paths[-1] == path:  # re-entry, e.g. super().__call__(): same scope
            return f(self, *args, **kwargs)
        paths.append(path)
        frame.scope_names.append(None)
        try:
            if frame.method_interceptors:
                from minihaiku.core._intercept import run_intercepted

                return run_intercepted(
                    frame.method_interceptors, self, method_name, f, args, kwargs
                )
            return f(self, *args, **kwargs)
        finally:
            paths.pop()
            frame.scope_names.pop()

    setattr(wrapped, _WRAPPED, True)
    return wrapped


def module_method(f: F) -> F:
    """Marks ``f`` as a module method (optional: ``Module`` wraps methods itself).

    Kept so that code written for the seed runs unchanged; applying it twice,
    or to a method that ``Module`` wraps anyway, changes nothing.

    Examples:
      >>> class Scale(Module):
      ...   @module_method
      ...   def __call__(self, x):
      ...     return x * get_param("s", [], init=jnp.ones)
    """
    if getattr(f, _WRAPPED, False):
        return f
    return _wrap_method(f.__name__, f)  # type: ignore[return-value]


def _no_super_init(cls: type) -> ModuleConstructionError:
    return ModuleConstructionError(
        f"{cls.__qualname__}.__init__ did not call super().__init__(). Call "
        "super().__init__(name=name) first thing in __init__ so that the "
        "module gets its name and scope."
    )


def _wrap_init(init: Callable[..., None]) -> Callable[..., None]:
    """Wraps a subclass ``__init__`` so that submodules it creates nest under it."""

    @functools.wraps(init)
    def wrapped(self: Module, *args: Any, **kwargs: Any) -> None:
        d = self.__dict__
        if "_minihaiku_constructing" in d:  # an inner __init__ of the MRO
            init(self, *args, **kwargs)
            return
        frame = current_frame(f"constructing {type(self).__name__}")
        depth = len(frame.scope_paths)
        d["_minihaiku_constructing"] = True
        try:
            init(self, *args, **kwargs)
        finally:
            del d["_minihaiku_constructing"]
            del frame.scope_paths[depth:]
            del frame.scope_names[depth:]
        if "_minihaiku_path" not in d:
            raise _no_super_init(type(self))

    setattr(wrapped, _WRAPPED, True)
    return wrapped


def _should_wrap(attr: str, value: Any) -> bool:
    if not callable(value) or isinstance(value, type):
        return False
    if not hasattr(value, "__get__") or isinstance(value, (staticmethod, classmethod)):
        return False
    if attr.startswith("__") and attr.endswith("__") and attr != "__call__":
        return False
    return not getattr(value, _WRAPPED, False)


class Module:
    """Base class for modules: objects whose methods create and read parameters.

    Subclasses need no decorator: every method defined in a subclass (and
    ``__call__``) is wrapped so that parameters it creates are named after the
    module and the method. Construct modules only inside a transformed function.

    Args:
      name: the module's name in its scope; defaults to ``ClassName_N``.

    Examples:
      >>> class Linear(Module):
      ...   def __init__(self, width, name=None):
      ...     super().__init__(name=name)
      ...     self.width = width
      ...   def __call__(self, x):
      ...     w = get_param("w", (x.shape[-1], self.width))
      ...     return x @ w
      >>> f = transform(lambda x: Linear(4)(x))
      >>> sorted(f.init(0, jnp.ones((2, 3))))
      ['~/Linear_0/__call__/w']
    """

    _minihaiku_path: str
    _minihaiku_name: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for attr, value in list(cls.__dict__.items()):
            if attr == "__init__":
                if not getattr(value, _WRAPPED, False):
                    setattr(cls, attr, _wrap_init(value))
            elif _should_wrap(attr, value):
                setattr(cls, attr, _wrap_method(attr, value))

    def __init__(self, name: str | None = None) -> None:
        cls = type(self)
        frame = current_frame(f"constructing {cls.__name__}")
        scope = frame.scope_paths[-1]
        names = frame.scope_names[-1]
        if names is None:
            names = frame.scope_names[-1] = ScopeNames()
        if name is None:
            unique = names.auto(cls.__name__)
        else:
            unique = check_name(name, "module", scope)
            if unique in names.used:
                raise DuplicateNameError(
                    f"a module named {unique!r} already exists in scope "
                    f"{scope!r} (constructing {cls.__name__}). Give each module "
                    "in one scope its own name, or call the existing instance "
                    "again to share its parameters."
                )
            names.used.add(unique)
        path = scope + "/" + unique
        d = self.__dict__
        d["_minihaiku_name"] = unique
        d["_minihaiku_path"] = path
        if "_minihaiku_constructing" in d:
            # Submodules built in the rest of __init__ nest under this module.
            frame.scope_paths.append(path)
            frame.scope_names.append(None)

    @property
    def name(self) -> str:
        """The module's unique name in its scope, e.g. ``"Linear_0"``."""
        return self._minihaiku_name

    @property
    def module_path(self) -> str:
        """The module's full path, e.g. ``"~/MLP_0/__call__/Linear_0"``."""
        return self._minihaiku_path

    def __repr__(self) -> str:
        path = self.__dict__.get("_minihaiku_path", "<unnamed>")
        return f"{type(self).__name__}({path})"
