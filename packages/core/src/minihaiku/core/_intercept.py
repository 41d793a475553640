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
      >>> # Mixed precision: params stay float32, the code computes in bfloat16.
      >>> from minihaiku.core import Module, get_param, intercept_params, transform
      >>> class Scale(Module):
      ...   def __call__(self, x):
      ...     return x * get_param("w", (), init=jax.nn.initializers.ones)
      >>> def to_bf16(path, value):
      ...   print("read", path, value.dtype)
      ...   return value.astype(jnp.bfloat16)
      >>> def f(x):
      ...   with intercept_params(to_bf16):
      ...     return Scale()(x.astype(jnp.bfloat16))
      >>> init, apply = transform(f)
      >>> params = init(0, jnp.ones(2))
      read ~/Scale_0/__call__/w float32
      >>> params
      {'~/Scale_0/__call__/w': Array(1., dtype=float32)}
      >>> apply(params, jnp.ones(2))
      read ~/Scale_0/__call__/w float32
      Array([1, 1], dtype=bfloat16)
    """
    with _appended("param_interceptors", interceptor, "intercept_params"):
        yield


@dataclass(frozen=True)
class MethodContext:
    """What a method interceptor learns about the call it intercepts.

    An interceptor of :func:`intercept_methods` gets one per call.

    Attributes:
      module: the module (a ``Module``) whose method is called; for
        ``__init__`` the module being constructed.
      method_name: the method's name, e.g. ``"__call__"``.
      orig_method: the method, bound to the module, without interception.

    Examples:
      >>> from minihaiku.core import Module, intercept_methods, transform
      >>> class Double(Module):
      ...   def __call__(self, x):
      ...     return 2 * x
      >>> def show(next_fun, args, kwargs, context):
      ...   print(type(context.module).__name__, context.method_name)
      ...   print(context.orig_method(*args, **kwargs))  # bypasses later interceptors
      ...   return next_fun(*args, **kwargs)
      >>> def f(x):
      ...   with intercept_methods(show):
      ...     return Double()(x)
      >>> transform(f).apply({}, 1.0)
      Double __init__
      None
      Double __call__
      2.0
      2.0
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
    read the module's parameters too. Every module's construction is
    intercepted too, as ``__init__`` (its result is None).

    Examples:
      >>> from minihaiku.core import Module, intercept_methods, transform
      >>> class Scale(Module):
      ...   def __init__(self, factor, name=None):
      ...     super().__init__(name=name)
      ...     self.factor = factor
      ...   def __call__(self, x):
      ...     return self.factor * x
      >>> class Net(Module):
      ...   def __call__(self, x):
      ...     y = Scale(2.0)(x)
      ...     return Scale(3.0)(y)
      >>> def log_shapes(next_fun, args, kwargs, context):
      ...   out = next_fun(*args, **kwargs)
      ...   print(context.module.module_path, context.method_name, getattr(out, "shape", out))
      ...   return out
      >>> def f(x):
      ...   with intercept_methods(log_shapes):
      ...     return Net()(x)
      >>> transform(f).apply({}, jnp.ones(2))
      ~/Net_0 __init__ None
      ~/Net_0/__call__/Scale_0 __init__ None
      ~/Net_0/__call__/Scale_0 __call__ (2,)
      ~/Net_0/__call__/Scale_1 __init__ None
      ~/Net_0/__call__/Scale_1 __call__ (2,)
      ~/Net_0 __call__ (2,)
      Array([6., 6.], dtype=float32)
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
