"""``eval_summary`` and ``tabulate``: a transformed function's modules, params and outputs.

Both run the function's ``init`` once under ``jax.eval_shape`` (no array is
computed) with a method interceptor that notes every module method call:
the module, the method, the shapes of its arguments and output, and the
enclosing calls. The parameters and state of each module are read from the
shapes ``init`` returns, by path.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from minihaiku.core._intercept import MethodContext
from minihaiku.core._module import add_global_method_interceptor, remove_global_method_interceptor
from minihaiku.core._transform import (
    Transformed,
    TransformedWithState,
    check_callable,
    transform_with_state,
)

__all__ = ["MethodInvocation", "ModuleDetails", "eval_summary", "spec", "summarise"]


@dataclass(frozen=True)
class ModuleDetails:
    """One module method as :func:`eval_summary` saw it.

    Attributes:
      module: the module.
      method_name: the method called, e.g. ``"__call__"``.
      params: the shapes of the module's parameters (its submodules' too), by path.
      state: the shapes of its state entries, by path.

    Examples:
      >>> from minihaiku.core import Module, eval_summary, get_param
      >>> class Scale(Module):
      ...   def __call__(self, x):
      ...     return x * get_param("s", (), init="ones")
      >>> (call,) = eval_summary(lambda x: Scale()(x))(jnp.ones(2))
      >>> call.module_details.method_name, call.module_details.params
      ('__call__', {'~/Scale_0/__call__/s': ShapeDtypeStruct(shape=(), dtype=float32)})
    """

    module: Any
    method_name: str
    params: dict[str, Any]
    state: dict[str, Any]


@dataclass(frozen=True)
class MethodInvocation:
    """One module method call, in call order, as :func:`eval_summary` returns it.

    Attributes:
      module_details: the module, method, params and state.
      args_spec: the positional arguments with each array as its spec (``"f32[1,4]"``).
      kwargs_spec: the keyword arguments, likewise.
      output_spec: the output, likewise.
      context: the :class:`~minihaiku.core.MethodContext` of the call.
      call_stack: the calls it ran in, innermost first (itself included).

    Examples:
      >>> from minihaiku.core import Module, eval_summary
      >>> class Double(Module):
      ...   def __call__(self, x):
      ...     return 2 * x
      >>> (call,) = eval_summary(lambda x: Double()(x))(jnp.ones((1, 4)))
      >>> call.args_spec, call.output_spec
      (('f32[1,4]',), 'f32[1,4]')
    """

    module_details: ModuleDetails
    args_spec: tuple[Any, ...]
    kwargs_spec: dict[str, Any]
    output_spec: Any
    context: MethodContext
    call_stack: tuple[ModuleDetails, ...]


_SHORT = (("bfloat", "bf"), ("float", "f"), ("uint", "u"), ("int", "i"), ("complex", "c"))


def spec(x: Any) -> Any:
    """``x`` with each array (or shape struct) written as ``"f32[1,4]"``.

    Examples:
      >>> spec({"a": jnp.ones((2, 3), jnp.bfloat16), "n": 3})
      {'a': 'bf16[2,3]', 'n': 3}
    """

    def one(leaf: Any) -> Any:
        if not (hasattr(leaf, "shape") and hasattr(leaf, "dtype")):
            return leaf
        name = np.dtype(leaf.dtype).name
        for long, short in _SHORT:
            if name.startswith(long):
                name = short + name[len(long) :]
                break
        return f"{name}[{','.join(str(d) for d in leaf.shape)}]"

    return jax.tree_util.tree_map(one, x)


_RECORD: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "minihaiku_summary", default=None
)
_STACK: contextvars.ContextVar[tuple[Any, ...]] = contextvars.ContextVar(
    "minihaiku_summary_stack", default=()
)


def _note(next_fun: Callable[..., Any], args: Any, kwargs: Any, context: MethodContext) -> Any:
    """The method interceptor: notes each call while a summary records (this thread only)."""
    record = _RECORD.get()
    if record is None or context.method_name == "__init__":
        return next_fun(*args, **kwargs)
    stack = _STACK.get()
    me = (context.module, context.method_name)
    if stack and stack[0][0] is me[0] and stack[0][1] == me[1]:  # a super() level
        return next_fun(*args, **kwargs)
    entry: list[Any] = [me, spec(tuple(args)), spec(dict(kwargs)), None, context, (me, *stack)]
    record.append(entry)
    token = _STACK.set((me, *stack))
    try:
        out = next_fun(*args, **kwargs)
    finally:
        _STACK.reset(token)
    entry[3] = spec(out)
    return out


@contextlib.contextmanager
def _recording(record: list[Any]) -> Iterator[None]:
    token = _RECORD.set(record)
    add_global_method_interceptor(_note)
    try:
        yield
    finally:
        _RECORD.reset(token)
        remove_global_method_interceptor(_note)


def _init_of(f: Any, what: str) -> Callable[..., Any]:
    init: Callable[..., Any]
    if isinstance(f, (Transformed, TransformedWithState)):
        init = f.init
    else:
        check_callable(f, what)
        init = transform_with_state(f).init
    return init


def _under(path: str, tree: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in tree.items() if k.startswith(path + "/")}


def summarise(f: Any, what: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    """Runs ``f``'s init abstractly and returns the calls with params and state."""
    init = _init_of(f, what)
    record: list[Any] = []
    with _recording(record):
        out = jax.eval_shape(lambda *a, **k: init(jax.random.key(0), *a, **k), *args, **kwargs)
    params, state = out if isinstance(out, tuple) else (out, {})
    details: dict[tuple[int, str], ModuleDetails] = {}

    def detail(me: tuple[Any, str]) -> ModuleDetails:
        key = (id(me[0]), me[1])
        if key not in details:
            path = me[0].module_path
            details[key] = ModuleDetails(me[0], me[1], _under(path, params), _under(path, state))
        return details[key]

    return [
        MethodInvocation(detail(me), a, kw, o, ctx, tuple(detail(m) for m in stack))
        for me, a, kw, o, ctx, stack in record
    ]


def eval_summary(f: Any) -> Callable[..., list[MethodInvocation]]:
    """Every module method call of ``f``, with shapes only (dm-haiku's ``eval_summary``).

    ``f`` is a function that uses modules, or a pair made by ``transform`` /
    ``transform_with_state``. ``eval_summary(f)(*args)`` runs ``f``'s
    ``init`` under ``jax.eval_shape`` (nothing is computed) and returns one
    :class:`MethodInvocation` per module method call, in call order.

    Examples:
      >>> from minihaiku.core import Module, eval_summary, get_param
      >>> class Linear(Module):
      ...   def __call__(self, x):
      ...     return x @ get_param("w", (x.shape[-1], 3))
      >>> class Net(Module):
      ...   def __call__(self, x):
      ...     return Linear()(x)
      >>> for call in eval_summary(lambda x: Net()(x))(jnp.ones((1, 4))):
      ...   print(call.module_details.module.module_path, call.args_spec, call.output_spec)
      ~/Net_0 ('f32[1,4]',) f32[1,3]
      ~/Net_0/__call__/Linear_0 ('f32[1,4]',) f32[1,3]
    """
    _init_of(f, "eval_summary")

    def run(*args: Any, **kwargs: Any) -> list[MethodInvocation]:
        return summarise(f, "eval_summary", args, kwargs)

    return run
