"""dm-haiku's ``eval_summary``: every module method call, with dm-haiku's names and specs.

``eval_summary(f)(*args)`` runs ``f``'s ``init`` (haiku scheme) under
``jax.eval_shape`` with a method interceptor that notes each call. Params and
state are keyed ``"module_name/leaf"`` (``"mlp/~/linear_0/w"``) and every
array is an :class:`ArraySpec` (``f32[1,4]``), as in dm-haiku.

Examples:
  >>> import minihaiku.haiku as hk
  >>> calls = hk.experimental.eval_summary(lambda x: hk.nets.MLP([3, 2])(x))(jnp.ones((1, 4)))
  >>> [(c.module_details.module.module_name, c.output_spec) for c in calls]
  [('mlp', f32[1,2]), ('mlp/~/linear_0', f32[1,3]), ('mlp/~/linear_1', f32[1,2])]
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import inspect
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jax
import numpy as np

import minihaiku.core as core
from minihaiku.core import HAIKU, MethodContext, Transformed, TransformedWithState
from minihaiku.core._module import (  # the hook core's own eval_summary uses
    add_global_method_interceptor,
    remove_global_method_interceptor,
)
from minihaiku.core.checks import check_callable
from minihaiku.haiku._layers import GIVEN_ARGS

__all__ = ["ArraySpec", "MethodInvocation", "ModuleDetails", "eval_summary", "summarise"]

_SHORT = (("bfloat", "bf"), ("float", "f"), ("uint", "u"), ("int", "s"), ("complex", "c"))


@dataclasses.dataclass(frozen=True)
class ArraySpec:
    """dm-haiku's ``ArraySpec``: an array's shape and dtype, shown as ``f32[1,4]``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> hk.experimental.ArraySpec((2, 3), jnp.int32)
      s32[2,3]
      >>> hk.experimental.ArraySpec.from_array(jnp.ones((4,), jnp.bfloat16)).size
      4
    """

    shape: Sequence[int]
    dtype: Any

    @property
    def size(self) -> int:
        """The number of elements."""
        return math.prod(self.shape)

    @classmethod
    def from_array(cls, array: Any) -> ArraySpec:
        """The spec of ``array`` (or of anything with ``shape`` and ``dtype``)."""
        return cls(tuple(array.shape), array.dtype)

    def __repr__(self) -> str:
        name = np.dtype(self.dtype).name
        for long, short in _SHORT:
            if name.startswith(long):
                name = short + name[len(long) :]
                break
        return f"{name}[{','.join(str(d) for d in self.shape)}]"


def _specs(tree: Any) -> Any:
    """``tree`` with each array (or shape struct) as its :class:`ArraySpec`."""

    def one(leaf: Any) -> Any:
        if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
            return ArraySpec.from_array(leaf)
        return leaf

    return jax.tree_util.tree_map(one, tree)


def _flat(nested: Mapping[str, Mapping[str, Any]]) -> dict[str, ArraySpec]:
    """``{"mlp/~/linear_0": {"w": x}}`` as ``{"mlp/~/linear_0/w": spec}``."""
    return {
        f"{m}/{k}": ArraySpec.from_array(v)
        for m, leaves in nested.items()
        for k, v in leaves.items()
    }


def _under(name: str, flat: Mapping[str, ArraySpec]) -> dict[str, ArraySpec]:
    return {k: flat[k] for k in sorted(flat) if k.startswith(name + "/")}


@dataclasses.dataclass(frozen=True)
class ModuleDetails:
    """dm-haiku's ``ModuleDetails``: a module, a method, and its params and state specs.

    ``params``/``state`` hold every entry under the module's name (its
    submodules' too), keyed ``"module_name/leaf"``, sorted.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> def f(x):
      ...   mod = hk.Linear(2)
      ...   mod(x)
      ...   return hk.experimental.ModuleDetails.of(mod, "__call__").params
      >>> f = hk.transform(f)
      >>> f.apply(f.init(jax.random.PRNGKey(0), jnp.ones((1, 3))), None, jnp.ones((1, 3)))
      {'linear/b': f32[2], 'linear/w': f32[3,2]}
    """

    module: Any
    method_name: str
    params: Mapping[str, ArraySpec]
    state: Mapping[str, ArraySpec]

    @classmethod
    def of(cls, module: Any, method_name: str) -> ModuleDetails:
        """The details of ``module`` from the params and state used so far (inside a transform)."""
        params = _flat(HAIKU.params_out(core.get_params()))
        state = _flat(HAIKU.params_out(core.get_current_state()))
        name = module.module_name
        return cls(module, method_name, _under(name, params), _under(name, state))


@dataclasses.dataclass(frozen=True)
class MethodInvocation:
    """dm-haiku's ``MethodInvocation``: one module method call, in call order.

    Attributes:
      module_details: the module, method, params and state.
      args_spec: the positional arguments, each array as its :class:`ArraySpec`.
      kwargs_spec: the keyword arguments, likewise.
      output_spec: the output, likewise.
      context: the :class:`~minihaiku.core.MethodContext` of the call.
      call_stack: the calls it ran in, innermost (itself) first.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> (call,) = hk.experimental.eval_summary(lambda x: hk.Bias()(x))(jnp.ones((1, 3)))
      >>> call.args_spec, call.output_spec, call.module_details.params
      ((f32[1,3],), f32[1,3], {'bias/b': f32[3]})
    """

    module_details: ModuleDetails
    args_spec: tuple[Any, ...]
    kwargs_spec: dict[str, Any]
    output_spec: Any
    context: MethodContext
    call_stack: Sequence[ModuleDetails]


class _Record:
    """What one summary run notes: the calls and each module's constructor arguments."""

    def __init__(self) -> None:
        self.calls: list[list[Any]] = []
        self.inits: dict[int, tuple[Any, inspect.BoundArguments | None]] = {}
        self.stack: tuple[tuple[Any, str], ...] = ()


_RECORD: contextvars.ContextVar[_Record | None] = contextvars.ContextVar(
    "minihaiku_haiku_summary", default=None
)


def _bind(
    module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> inspect.BoundArguments | None:
    try:
        return inspect.signature(type(module).__init__).bind(module, *args, **kwargs)
    except (TypeError, ValueError):
        return None


def _own_helper(cls: type, method: str) -> bool:
    """Whether ``method`` is a private helper of a minihaiku layer (dm-haiku's have none)."""
    if not method.startswith("_") or method.startswith("__"):
        return False
    for c in cls.__mro__:
        if method in c.__dict__:
            return c.__module__.startswith("minihaiku.")
    return False


def _note(next_fun: Callable[..., Any], args: Any, kwargs: Any, context: MethodContext) -> Any:
    """The interceptor: notes each call (and each constructor's arguments) while recording."""
    record = _RECORD.get()
    if record is None:
        return next_fun(*args, **kwargs)
    me = (context.module, context.method_name)
    stack = record.stack
    if stack and stack[0][0] is me[0] and stack[0][1] == me[1]:  # a super() level
        return next_fun(*args, **kwargs)
    if _own_helper(type(me[0]), me[1]):
        return next_fun(*args, **kwargs)
    entry: list[Any] = [me, _specs(tuple(args)), _specs(dict(kwargs)), None, context, (me, *stack)]
    record.calls.append(entry)
    record.stack = (me, *stack)
    try:
        out = next_fun(*args, **kwargs)
    finally:
        record.stack = stack
    entry[3] = _specs(out)
    return out


def _note_init(next_fun: Callable[..., Any], args: Any, kwargs: Any, context: MethodContext) -> Any:
    """The interceptor inside the transform: notes each module's constructor arguments."""
    record = _RECORD.get()
    module = context.module
    if record is not None and context.method_name == "__init__" and id(module) not in record.inits:
        # hk's layers convert their initializers first: the arguments the user gave
        given = module.__dict__.get(GIVEN_ARGS, (tuple(args), dict(kwargs)))
        record.inits[id(module)] = (module, _bind(module, *given))
    return next_fun(*args, **kwargs)


def _noting_inits(f: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        with core.intercept_methods(_note_init):
            return f(*args, **kwargs)

    return run


@contextlib.contextmanager
def _recording(record: _Record) -> Iterator[None]:
    token = _RECORD.set(record)
    add_global_method_interceptor(_note)
    try:
        yield
    finally:
        _RECORD.reset(token)
        remove_global_method_interceptor(_note)


def _init_of(f: Any, what: str) -> Callable[..., Any]:
    if isinstance(f, (Transformed, TransformedWithState)):
        return f.init
    check_callable(f, "f", what)
    # constructions are seen by interceptors inside the transform only: dm-haiku's repr
    return core.transform_with_state(_noting_inits(f), scheme=HAIKU).init


def summarise(
    f: Any, what: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[list[MethodInvocation], _Record]:
    """Runs ``f``'s init abstractly: the calls and the record."""
    init = _init_of(f, what)
    record = _Record()
    with _recording(record):
        out = jax.eval_shape(lambda *a, **k: init(jax.random.PRNGKey(0), *a, **k), *args, **kwargs)
    params_tree, state_tree = out if isinstance(out, tuple) else (out, {})
    params, state = _flat(params_tree), _flat(state_tree)
    details: dict[tuple[int, str], ModuleDetails] = {}

    def detail(me: tuple[Any, str]) -> ModuleDetails:
        key = (id(me[0]), me[1])
        if key not in details:
            name = me[0].module_name
            details[key] = ModuleDetails(me[0], me[1], _under(name, params), _under(name, state))
        return details[key]

    calls = [
        MethodInvocation(detail(me), a, kw, o, ctx, tuple(detail(m) for m in stack))
        for me, a, kw, o, ctx, stack in record.calls
    ]
    return calls, record


def eval_summary(
    f: Callable[..., Any] | Transformed | TransformedWithState,
) -> Callable[..., Sequence[MethodInvocation]]:
    """dm-haiku's ``hk.experimental.eval_summary``: each module method call, shapes only.

    ``f`` is a function using modules or what ``hk.transform``/``hk.transform_with_state``
    made of one. ``eval_summary(f)(*args)`` runs its ``init`` under
    ``jax.eval_shape`` (nothing is computed) and returns one
    :class:`MethodInvocation` per call, in call order.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> def f(x):
      ...   return hk.nets.MLP([3, 2])(x)
      >>> for call in hk.experimental.eval_summary(f)(jnp.ones((1, 4))):
      ...   d = call.module_details
      ...   print(d.module.module_name, call.args_spec, call.output_spec, len(d.params))
      mlp (f32[1,4],) f32[1,2] 4
      mlp/~/linear_0 (f32[1,4],) f32[1,3] 2
      mlp/~/linear_1 (f32[1,3],) f32[1,2] 2
    """
    _init_of(f, "eval_summary")

    def run(*args: Any, **kwargs: Any) -> Sequence[MethodInvocation]:
        return summarise(f, "eval_summary", args, kwargs)[0]

    return run
