"""Interceptors: see (and replace) every parameter read, or every module method call."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jax

from minihaiku.core._frame import current_frame

__all__ = ["MethodContext", "ParamInterceptor", "intercept_methods", "intercept_params"]

#: ``interceptor(path, value) -> value``.
ParamInterceptor = Callable[[str, jax.Array], jax.Array]


@contextlib.contextmanager
def _appended(attr: str, interceptor: Any, what: str) -> Iterator[None]:
    """Appends ``interceptor`` to the current frame's tuple ``attr`` for a block."""
    frame = current_frame(what)
    before = getattr(frame, attr)
    setattr(frame, attr, (*before, interceptor))
    try:
        yield
    finally:
        setattr(frame, attr, before)


@contextlib.contextmanager
def intercept_params(interceptor: ParamInterceptor) -> Iterator[None]:
    """Inside the ``with`` block, every parameter read goes through ``interceptor``.

    ``interceptor(path, value)`` returns the value the code gets: cast it
    (mixed precision), wrap it in ``jax.lax.stop_gradient``, or count it.
    Nested interceptors apply outermost first. The params mapping itself is
    never changed.

    Examples:
      >>> def f(x):
      ...   with intercept_params(lambda path, v: v.astype(jnp.bfloat16)):
      ...     return Linear(2)(x.astype(jnp.bfloat16))
    """
    with _appended("param_interceptors", interceptor, "intercept_params"):
        yield


@dataclass(frozen=True)
class MethodContext:
    """What a method interceptor learns about the call it intercepts.

    Attributes:
      module: the module (a ``Module``) whose method is called; for
        ``__init__`` the module being constructed.
      method_name: the method's name, e.g. ``"__call__"``.
      orig_method: the method, bound to the module, without interception.
    """

    module: Any
    method_name: str
    orig_method: Callable[..., Any]


#: ``interceptor(next_fun, args, kwargs, context) -> result``.
MethodInterceptor = Callable[
    [Callable[..., Any], tuple[Any, ...], dict[str, Any], MethodContext], Any
]


@contextlib.contextmanager
def intercept_methods(interceptor: MethodInterceptor) -> Iterator[None]:
    """Inside the ``with`` block, every module method call goes through ``interceptor``.

    ``interceptor(next_fun, args, kwargs, context)`` must call
    ``next_fun(*args, **kwargs)`` to run the method (or the next interceptor)
    and returns what the caller gets. It runs in the module's scope, so it may
    read the module's parameters too.

    Examples:
      >>> def log_shapes(next_fun, args, kwargs, context):
      ...   out = next_fun(*args, **kwargs)
      ...   print(context.module.module_path, context.method_name, out.shape)
      ...   return out
      >>> def f(x):
      ...   with intercept_methods(log_shapes):
      ...     return MLP([3, 1])(x)
    """
    with _appended("method_interceptors", interceptor, "intercept_methods"):
        yield


def run_intercepted(
    interceptors: tuple[MethodInterceptor, ...],
    module: Any,
    method_name: str,
    f: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Calls ``f(module, *args, **kwargs)`` through ``interceptors``, outermost first."""
    bound = f.__get__(module)
    context = MethodContext(module, method_name, bound)

    def call(i: int, a: tuple[Any, ...], kw: dict[str, Any]) -> Any:
        if i == len(interceptors):
            return bound(*a, **kw)
        return interceptors[i](lambda *a2, **kw2: call(i + 1, a2, kw2), a, kw, context)

    return call(0, args, kwargs)
