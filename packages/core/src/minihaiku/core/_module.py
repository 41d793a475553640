"""``Module``: the base class of object-oriented minihaiku code.

Naming rule (also in the core README):

* A module gets its name when it is constructed: ``ClassName_N`` with ``N``
  counting modules of that class constructed so far in the same scope, or the
  ``name=`` it was given.
* Its path is the path of the scope it was constructed in, then its name:
  ``~/MLP_0/__call__/Linear_0``. The path never changes: wherever the same
  instance is called, even from another parent, it reads the same parameters.
* While one of its methods (or property getters) runs, the scope is the
  module's path plus the method's name (``~/MLP_0/__call__/Linear_0/__call__``).
  A method calling another method of the same module enters that method's
  scope, without repeating the module. ``transparent`` methods add no
  segment; a class made with ``method_scopes=False`` keeps every parameter at
  module level (``~/Embed_0/embeddings``).
* Submodules constructed in ``__init__`` live under the module's own path
  (``~/Model_0/Linear_0``).
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
from minihaiku.core._intercept import run_intercepted
from minihaiku.core._naming import check_name
from minihaiku.core._schemes import FORCED, NAME_LIKE, SEED
from minihaiku.core._scope import Scope

__all__ = ["Module", "module_method", "transparent"]

F = TypeVar("F", bound=Callable[..., Any])

_WRAPPED = "_minihaiku_wrapped"
_TRANSPARENT = "_minihaiku_transparent"

#: Method interceptors that run on every module method call, outermost first,
#: before the frame's own (mixed precision installs one while policies are set).
GLOBAL_METHOD_INTERCEPTORS: list[Any] = []


def add_global_method_interceptor(interceptor: Any) -> None:
    """Runs ``interceptor`` (outermost) on every module method call from now on.

    Adding one that is already there does nothing. Subsystems (mixed
    precision) use this and :func:`remove_global_method_interceptor` instead of
    editing :data:`GLOBAL_METHOD_INTERCEPTORS`.
    """
    if interceptor not in GLOBAL_METHOD_INTERCEPTORS:
        GLOBAL_METHOD_INTERCEPTORS.insert(0, interceptor)


def remove_global_method_interceptor(interceptor: Any) -> None:
    """Stops running ``interceptor`` on module method calls (absent: nothing happens)."""
    if interceptor in GLOBAL_METHOD_INTERCEPTORS:
        GLOBAL_METHOD_INTERCEPTORS.remove(interceptor)


def _not_in_transform(module: Any, method_name: str) -> NotInTransformError:
    return NotInTransformError(
        f"{type(module).__name__}.{method_name} was called outside a "
        "transformed function. Modules are used inside the function "
        "given to minihaiku.core.transform, while its init or apply runs."
    )


def _no_super_init(cls: type) -> ModuleConstructionError:
    return ModuleConstructionError(
        f"{cls.__qualname__}.__init__ did not call super().__init__(). Call "
        "super().__init__(name=name) first thing in __init__ so that the "
        "module gets its name and scope."
    )


def _wrap_method(method_name: str, f: Callable[..., Any], is_transparent: bool) -> Any:
    """Wraps ``f`` so that while it runs the scope is the method's scope.

    The hot path (one call per module method call) works on the scope list
    directly (what :meth:`ScopeStack.enter` / :meth:`ScopeStack.exit` do,
    without their two calls) and joins the method's path segment made once here.
    """
    suffix = "/" + method_name

    @functools.wraps(f)
    def wrapped(self: Module, *args: Any, **kwargs: Any) -> Any:
        frame = frame_or_none()
        if frame is None:
            raise _not_in_transform(self, method_name)
        try:
            module_path = self.__dict__["_minihaiku_path"]
        except KeyError:
            raise _no_super_init(type(self)) from None
        scopes = frame.scopes.scopes
        top = scopes[-1]
        if frame.scheme is not SEED:  # another scheme (haiku) names the method's scope
            if is_transparent:
                if top.owner is self:  # called by another method of this module
                    return f(self, *args, **kwargs)
                path, prefix = frame.scheme.method_scope(module_path, "__call__")
            else:
                path, prefix = frame.scheme.method_scope(module_path, method_name)
        else:
            prefix = module_path + suffix
            if is_transparent:
                if top.owner is self:  # called by another method of this module
                    return f(self, *args, **kwargs)
                path = module_path
            else:
                path = prefix if self._minihaiku_method_scopes else module_path
        intercepted = frame.method_interceptors or GLOBAL_METHOD_INTERCEPTORS
        if top.owner is self and top.prefix == prefix:  # re-entry: super().__call__()
            if intercepted:
                # Interceptors see every level of a super() chain, as in dm-haiku.
                interceptors = (*GLOBAL_METHOD_INTERCEPTORS, *frame.method_interceptors)
                return run_intercepted(interceptors, self, method_name, f, args, kwargs)
            return f(self, *args, **kwargs)
        # Parameters go to ``path``; modules constructed here under ``prefix``.
        depth = len(scopes)
        scopes.append(Scope(path, self, None, prefix))
        try:
            if intercepted:
                interceptors = (*GLOBAL_METHOD_INTERCEPTORS, *frame.method_interceptors)
                return run_intercepted(interceptors, self, method_name, f, args, kwargs)
            return f(self, *args, **kwargs)
        finally:
            del scopes[depth:]

    setattr(wrapped, _WRAPPED, True)
    return wrapped


def _constructing(body: Callable[..., None], method_name: str) -> Callable[..., None]:
    """Wraps ``__init__`` (or a dataclass ``__post_init__``) of a subclass.

    While it runs, submodules it creates after ``super().__init__()`` nest
    under the module, and method interceptors see the call as ``__init__``.
    """

    @functools.wraps(body)
    def wrapped(self: Module, *args: Any, **kwargs: Any) -> None:
        d = self.__dict__
        if "_minihaiku_constructing" in d:  # an inner __init__ of the MRO
            body(self, *args, **kwargs)
            return
        frame = frame_or_none()
        if frame is None:
            frame = current_frame(f"constructing {type(self).__name__}")
        scopes = frame.scopes.scopes
        depth = len(scopes)
        d["_minihaiku_constructing"] = depth
        try:
            reported = method_name
            if method_name == "__post_init__":  # a dataclass module: name it first
                reported = "__init__"
                if "_minihaiku_path" not in d:
                    Module.__init__(self, name=d.get("name", d.get("_minihaiku_given_name")))
                    if "name" in d:  # the dataclass field hides Module.name: show the unique one
                        d["name"] = d["_minihaiku_name"]
            if frame.method_interceptors:
                run_intercepted(frame.method_interceptors, self, reported, body, args, kwargs)
            else:
                body(self, *args, **kwargs)
        finally:
            del d["_minihaiku_constructing"]
            del scopes[depth:]
        if "_minihaiku_path" not in d:
            raise _no_super_init(type(self))

    setattr(wrapped, _WRAPPED, True)
    return wrapped


def module_method(f: F) -> F:
    """Marks ``f`` as a module method (optional: ``Module`` wraps methods itself).

    Kept so that code written for the seed runs unchanged; applying it twice,
    or to a method that ``Module`` wraps anyway, changes nothing.

    Examples:
      >>> from minihaiku.core import Module, get_param, module_method, transform
      >>> class Scale(Module):
      ...   @module_method
      ...   def __call__(self, x):
      ...     return x * get_param("s", [], init=jax.nn.initializers.ones)
      >>> list(transform(lambda x: Scale()(x)).init(0, 2.0))
      ['~/Scale_0/__call__/s']
    """
    if getattr(f, _WRAPPED, False):
        return f
    return _wrap_method(f.__name__, f, getattr(f, _TRANSPARENT, False))  # type: ignore[no-any-return]


def transparent(f: F) -> F:
    """Marks a module method whose calls add no path segment (as ``hk.transparent``).

    Called from another method of the same module, it creates and reads
    parameters in that method's scope; called from outside, at module level
    (``~/Model_0/w``). Use it for helpers that must share parameters with the
    method that calls them.

    Examples:
      >>> from minihaiku.core import Module, get_param, transform, transparent
      >>> class Model(Module):
      ...   @transparent
      ...   def weight(self):
      ...     return get_param("w", (), init=jax.nn.initializers.ones)
      ...   def __call__(self, x):
      ...     return x * self.weight()
      >>> list(transform(lambda x: Model()(x)).init(0, 2.0))
      ['~/Model_0/__call__/w']
    """
    if getattr(f, _WRAPPED, False):
        raise ModuleConstructionError(
            f"transparent must be applied to the plain function, got the already "
            f"wrapped {getattr(f, '__qualname__', f)!r}: put @transparent below "
            "@module_method (closest to def)."
        )
    setattr(f, _TRANSPARENT, True)
    return f


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

    Subclasses need no decorator: every method and property getter defined in
    a subclass (and ``__call__``) is wrapped so that parameters it creates are
    named after the module and the method. Construct modules only inside a
    transformed function. Dataclass subclasses work as written (no
    ``__post_init__`` needed; a ``name`` field is the module's name).

    Args:
      name: the module's name in its scope; defaults to ``ClassName_N``.

    Class keywords:
      method_scopes: ``False`` keeps every parameter of the module at module
        level (``~/Embed_0/embeddings``), so that all its methods and
        properties share them. Default ``True``: the method's name is part of
        the path (the seed's scheme).

    Examples:
      >>> from minihaiku.core import Module, get_param, transform
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
    _minihaiku_method_scopes: bool = True

    def __init_subclass__(cls, *, method_scopes: bool | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if method_scopes is not None:
            cls._minihaiku_method_scopes = bool(method_scopes)
        for attr, value in list(cls.__dict__.items()):
            if attr in ("__init__", "__post_init__"):
                if not getattr(value, _WRAPPED, False):
                    setattr(cls, attr, _constructing(value, attr))
            elif isinstance(value, property):
                fget = value.fget
                if fget is not None and not getattr(fget, _WRAPPED, False):
                    wrapped = _wrap_method(attr, fget, getattr(fget, _TRANSPARENT, False))
                    setattr(cls, attr, value.getter(wrapped))
            elif _should_wrap(attr, value):
                named = getattr(value, NAME_LIKE, attr)  # name_like: another method's names
                setattr(cls, attr, _wrap_method(named, value, getattr(value, _TRANSPARENT, False)))

    def __init__(self, name: str | None = None) -> None:
        cls = type(self)
        frame = frame_or_none()
        if frame is None:
            frame = current_frame(f"constructing {cls.__name__}")
        scopes = frame.scopes
        top = scopes.scopes[-1]
        scheme = frame.scheme
        if scheme is not SEED:
            unique = scheme.module_name(top, cls.__name__, name)
            path = scheme.join(top.prefix, unique)
        else:
            names = top.names
            if names is None:
                names = top.taken()
            forced = False
            if name is None:
                unique = names.auto(cls.__name__)
            elif type(name) is str and name.startswith(FORCED):  # force_name: a full path
                unique, forced = name[len(FORCED) :], True
            else:
                unique = check_name(name, "module", top.prefix)
                if unique in names.used:
                    raise DuplicateNameError(
                        f"a module named {unique!r} already exists in scope "
                        f"{top.prefix!r} (constructing {cls.__name__}). Give each module "
                        "in one scope its own name, or call the existing instance "
                        "again to share its parameters."
                    )
                names.used.add(unique)
            path = unique if forced else top.prefix + "/" + unique
        d = self.__dict__
        d["_minihaiku_name"] = unique
        d["_minihaiku_path"] = path
        if "_minihaiku_constructing" in d:
            # Submodules built in the rest of __init__ nest under this module.
            prefix = None if scheme is SEED else scheme.construction_prefix(path)
            scopes.scopes.append(Scope(path, self, None, prefix))

    def __post_init__(self) -> None:
        """Names a dataclass module (dataclass ``__init__`` calls this)."""

    @property
    def name(self) -> str:
        """The module's unique name in its scope, e.g. ``"Linear_0"``."""
        return self._minihaiku_name

    @name.setter
    def name(self, value: str | None) -> None:
        # A dataclass ``name`` field without a default assigns here before
        # the module is named; the value becomes the requested name.
        self.__dict__["_minihaiku_given_name"] = value

    @property
    def module_path(self) -> str:
        """The module's full path, e.g. ``"~/MLP_0/__call__/Linear_0"``."""
        return self._minihaiku_path

    @property
    def module_name(self) -> str:
        """dm-haiku's name for :attr:`module_path` (``"mlp/~/linear_0"`` under the haiku scheme)."""
        return self._minihaiku_path

    @property
    def module_label(self) -> str:
        """The class name and path, as error messages name the module: ``"Linear ~/Linear_0"``.

        Argument checks (:mod:`minihaiku.core.checks`) take it as their ``where``.

        Examples:
          >>> from minihaiku.core import Module, transform
          >>> class Scale(Module):
          ...   def __call__(self):
          ...     return self.module_label
          >>> transform(lambda: Scale()()).apply({})
          'Scale ~/Scale_0'
        """
        return f"{type(self).__name__} {self._minihaiku_path}"

    def __repr__(self) -> str:
        path = self.__dict__.get("_minihaiku_path", "<unnamed>")
        return f"{type(self).__name__}({path})"


# Module's own __init__ is wrapped too, so that interceptors see the
# construction of modules without an __init__ of their own; its own
# __post_init__ names dataclass subclasses that define none.
Module.__init__ = _constructing(Module.__init__, "__init__")  # type: ignore[method-assign]
Module.__post_init__ = _constructing(Module.__post_init__, "__post_init__")  # type: ignore[method-assign]
