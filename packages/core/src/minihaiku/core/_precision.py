"""Mixed precision: which :class:`Policy` a module call runs under, and the casting.

Policies attach to a module class, a module instance or a module-path
pattern. For each module method call the most specific one wins: the
instance's, then the longest path pattern matching the module's path, then
the class's (the nearest class in the MRO that has one; a library default,
such as float32 for the normalization layers, counts as that class's
policy unless the user set one on the same class). A module without a policy
of its own runs in whatever dtype it gets, and reads its parameters in the
compute dtype of the innermost enclosing policy (dm-haiku's rule).

The table is process-wide (like ``jax.config``). When only library defaults
are set, nothing is intercepted: a module call costs one cheap check.
Policies are read while a function is traced: set them before the first call
of a jitted ``init``/``apply`` (or jit again).
"""

from __future__ import annotations

import contextlib
import fnmatch
import threading
from collections.abc import Callable, Iterator
from typing import Any

import jax.numpy as jnp

from minihaiku.core import _module
from minihaiku.core._errors import InvalidArgumentError, InvalidArgumentTypeError
from minihaiku.core._frame import frame_or_none
from minihaiku.core._intercept import MethodContext
from minihaiku.core._module import Module
from minihaiku.core._policy import Policy, first_floating_dtype

__all__ = [
    "PolicyTarget",
    "clear_policy",
    "get_policy",
    "param_dtype",
    "param_policies",
    "policy_scope",
    "set_policy",
]

#: What a policy attaches to: a Module subclass, a module instance, or a
#: module-path pattern (``fnmatch``; ``*`` also matches ``/``).
PolicyTarget = type[Module] | Module | str

_INSTANCE = "_minihaiku_policy"
_LOCK = threading.RLock()


class _Table:
    """The policies set so far (replaced wholesale by ``policy_scope`` on exit)."""

    def __init__(self) -> None:
        self.classes: dict[type, Policy] = {}
        self.defaults: dict[type, Policy] = {}
        self.patterns: dict[str, Policy] = {}
        self.instances = False  # an instance policy was set since the last reset
        self.by_class: dict[type, Policy | None] = {}
        self.by_path: dict[str, Policy | None] = {}

    def copy(self) -> _Table:
        t = _Table()
        t.classes, t.defaults = dict(self.classes), dict(self.defaults)
        t.patterns, t.instances = dict(self.patterns), self.instances
        return t

    @property
    def active(self) -> bool:
        return bool(self.classes or self.patterns or self.instances)


_TABLE = _Table()


def _install(table: _Table) -> None:
    """Makes ``table`` current and hooks (or unhooks) the interceptor on module calls."""
    global _TABLE
    _TABLE = table
    hooks = _module.GLOBAL_METHOD_INTERCEPTORS
    if table.active and _intercept not in hooks:
        hooks.insert(0, _intercept)
    elif not table.active and _intercept in hooks:
        hooks.remove(_intercept)


def _kind(target: Any, what: str) -> str:
    if isinstance(target, type) and issubclass(target, Module):
        return "class"
    if isinstance(target, Module):
        return "instance"
    if isinstance(target, str):
        if not target:
            raise InvalidArgumentError(
                f"{what}: the path pattern is empty. Give a pattern on module paths "
                "such as '~/Model_0/*' or '*/LayerNorm_*'."
            )
        return "pattern"
    got = target.__name__ if isinstance(target, type) else type(target).__name__
    raise InvalidArgumentTypeError(
        f"{what} takes a Module subclass, a module instance or a module-path pattern "
        f"(a str such as '~/Model_0/*'), got {got}. Policies attach to modules only; "
        "for plain functions, wrap the code in a Module."
    )


def set_policy(target: PolicyTarget, policy: Policy | str, *, default: bool = False) -> None:
    """Runs calls of the matching modules under ``policy``.

    Args:
      target: a Module subclass (its instances and its subclasses', the
        nearest class in the MRO winning; ``Module`` itself gives a global
        policy), a module instance (call inside the transformed function), or
        a pattern on module paths (``fnmatch``, e.g. ``"~/Model_0/*"``; ``*``
        also matches ``/``; among several matching patterns the longest wins).
      policy: a :class:`Policy`, or a string for :meth:`Policy.parse`.
      default: a library's default for a class (the normalization layers use
        it to stay in float32): it applies only while the user has set some
        policy, and a policy the user sets on the same class replaces it.

    Raises:
      InvalidArgumentTypeError: ``target`` is not a Module class, instance or
        str, or ``policy`` is not a Policy or str.
      InvalidArgumentError: a bad policy string, or ``default=True`` with a
        target that is not a class.

    Examples:
      >>> from minihaiku.core import Module, policy_scope, set_policy, transform
      >>> class Double(Module):
      ...   def __call__(self, x):
      ...     return 2 * x
      >>> with policy_scope():  # restores the policies on exit
      ...   set_policy(Double, "params=float32,compute=bfloat16,output=bfloat16")
      ...   transform(lambda x: Double()(x)).apply({}, jnp.ones(2)).dtype
      dtype(bfloat16)
    """
    kind = _kind(target, "set_policy")
    if isinstance(policy, str):
        policy = Policy.parse(policy)
    elif not isinstance(policy, Policy):
        raise InvalidArgumentTypeError(
            f"set_policy needs a Policy or a policy string, got {type(policy).__name__}; "
            "to remove a policy use clear_policy."
        )
    if default and kind != "class":
        raise InvalidArgumentError(
            f"set_policy(..., default=True) is for a Module class, got a {kind} "
            f"{target!r}; a library default attaches to a class."
        )
    with _LOCK:
        table = _TABLE.copy()
        if isinstance(target, Module):
            target.__dict__[_INSTANCE] = policy
            table.instances = True
        elif isinstance(target, str):
            table.patterns[target] = policy
        else:
            (table.defaults if default else table.classes)[target] = policy
        _install(table)


def clear_policy(target: PolicyTarget, *, default: bool = False) -> None:
    """Removes the policy set on ``target`` (nothing happens if it has none).

    Args:
      target: what :func:`set_policy` was given.
      default: remove the library default of a class instead of the user's.

    Examples:
      >>> from minihaiku.core import Module, clear_policy, get_policy, set_policy
      >>> class Net(Module):
      ...   pass
      >>> set_policy(Net, "c=bf16")
      >>> clear_policy(Net)
      >>> get_policy(Net) is None
      True
    """
    _kind(target, "clear_policy")
    with _LOCK:
        table = _TABLE.copy()
        if isinstance(target, Module):
            target.__dict__.pop(_INSTANCE, None)
        elif isinstance(target, str):
            table.patterns.pop(target, None)
        else:
            (table.defaults if default else table.classes).pop(target, None)
        _install(table)


def get_policy(target: PolicyTarget) -> Policy | None:
    r"""The policy that ``target`` runs under by the precedence rule (``None``: none).

    For an instance: its own, else the longest matching path pattern, else
    its class's. For a class: the nearest one in the MRO (library defaults
    included). For a string: the policy set on exactly that pattern, else the
    longest pattern matching it as a module path. Defaults count even while
    no user policy is set (they only take effect once one is).

    Examples:
      >>> from minihaiku.core import Module, Policy, get_policy, policy_scope, set_policy
      >>> class Net(Module):
      ...   pass
      >>> class Small(Net):
      ...   pass
      >>> with policy_scope():
      ...   set_policy(Net, "c=bf16")
      ...   set_policy("~/Net_0/*", "f32")
      ...   print(get_policy(Small), get_policy("~/Net_0/__call__/Small_0"), sep="\n")
      params=float32,compute=bfloat16,output=bfloat16
      params=float32,compute=float32,output=float32
    """
    kind = _kind(target, "get_policy")
    table = _TABLE
    if kind == "class":
        return _class_policy(table, target)  # type: ignore[arg-type]
    if kind == "pattern":
        return table.patterns.get(target) or _path_policy(table, target)  # type: ignore[arg-type]
    return _resolve(target)  # type: ignore[arg-type]


@contextlib.contextmanager
def policy_scope(
    target: PolicyTarget | None = None, policy: Policy | str | None = None
) -> Iterator[None]:
    """Restores every policy as it was when the ``with`` block exits.

    ``policy_scope(target, policy)`` also sets ``policy`` on ``target`` for
    the block; ``policy_scope()`` just protects the table from what the
    block sets. The table is process-wide: do not change it from two threads.

    Examples:
      >>> from minihaiku.core import Module, get_policy, policy_scope
      >>> with policy_scope(Module, "params=float32,compute=bfloat16,output=float32"):
      ...   print(get_policy(Module))
      params=float32,compute=bfloat16,output=float32
      >>> print(get_policy(Module))
      None
    """
    if (target is None) != (policy is None):
        raise InvalidArgumentError(
            "policy_scope takes both a target and a policy, or neither; got only the "
            + ("policy." if target is None else "target.")
        )
    saved = _TABLE
    try:
        if target is not None:
            set_policy(target, policy)  # type: ignore[arg-type]
        yield
    finally:
        with _LOCK:
            _install(saved)


def _class_policy(table: _Table, cls: type) -> Policy | None:
    try:
        return table.by_class[cls]
    except KeyError:
        pass
    found = None
    for c in cls.__mro__:
        found = table.classes.get(c) or table.defaults.get(c)
        if found is not None:
            break
    table.by_class[cls] = found
    return found


def _path_policy(table: _Table, path: str) -> Policy | None:
    try:
        return table.by_path[path]
    except KeyError:
        pass
    found, longest = None, -1
    for pattern, policy in table.patterns.items():
        if len(pattern) > longest and fnmatch.fnmatchcase(path, pattern):
            found, longest = policy, len(pattern)
    table.by_path[path] = found
    return found


def _resolve(module: Module) -> Policy | None:
    d = module.__dict__
    own = d.get(_INSTANCE)
    if own is not None:
        return own  # type: ignore[no-any-return]
    table = _TABLE
    if table.patterns:
        found = _path_policy(table, d.get("_minihaiku_path", ""))
        if found is not None:
            return found
    return _class_policy(table, type(module))


class _Caster:
    """The parameter interceptor of one policy: casts float params to its compute dtype."""

    __slots__ = ("policy",)

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def __call__(self, path: str, value: Any) -> Any:
        if _RECORD is not None:
            _RECORD[path] = self.policy
        return self.policy.cast_to_compute(value)


_RECORD: dict[str, Policy] | None = None


def _with_caster(interceptors: tuple[Any, ...], caster: _Caster) -> tuple[Any, ...]:
    """``interceptors`` with ``caster`` in place of an outer policy's (or appended)."""
    for i, x in enumerate(interceptors):
        if type(x) is _Caster:
            return (*interceptors[:i], caster, *interceptors[i + 1 :])
    return (*interceptors, caster)


def param_dtype(interceptors: tuple[Any, ...], dtype: Any) -> Any:
    """The dtype a parameter asked for as ``dtype`` is stored in under the active policy."""
    for x in interceptors:
        if type(x) is _Caster:
            try:
                floating = jnp.issubdtype(dtype, jnp.floating)
            except TypeError:  # not a dtype: get_param reports it
                return dtype
            return x.policy.param_dtype if floating else dtype
    return dtype


def _intercept(
    next_fun: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    context: MethodContext,
) -> Any:
    """The method interceptor that applies a module's policy to its call."""
    frame = frame_or_none()
    assert frame is not None  # module methods run inside a transform
    scopes = frame.scopes.scopes
    if len(scopes) > 1 and scopes[-2].owner is context.module:
        # called by another method of the same module: already under its policy,
        # and a helper's result must not be cast to the output dtype mid-call
        return next_fun(*args, **kwargs)
    policy = _resolve(context.module)
    if policy is None:
        return next_fun(*args, **kwargs)
    before = frame.param_interceptors
    frame.param_interceptors = _with_caster(before, _Caster(policy))
    try:
        in_dtype = None if policy.output_dtype is not None else first_floating_dtype(args)
        args, kwargs = policy.cast_to_compute((args, kwargs))
        out = next_fun(*args, **kwargs)
    finally:
        frame.param_interceptors = before
    return policy.cast_to_output(out, in_dtype)


def param_policies(transformed: Any, *args: Any, rng: Any = 0, **kwargs: Any) -> dict[str, Any]:
    """The policy each parameter is read under, by path (``None``: no policy).

    Traces ``transformed.init`` once without computing anything (as
    :func:`init_shapes`). Pass the result to ``summary(params, policies=...)``.

    Examples:
      >>> from minihaiku.core import Module, get_param, param_policies, policy_scope
      >>> from minihaiku.core import transform
      >>> class Scale(Module):
      ...   def __call__(self, x):
      ...     return x * get_param("s", (), init=jax.nn.initializers.ones)
      >>> f = transform(lambda x: Scale(name="a")(x) + Scale(name="b")(x))
      >>> with policy_scope("~/a", "c=bf16"):
      ...   for path, p in param_policies(f, jnp.ones(2)).items():
      ...     print(path, p)
      ~/a/__call__/s params=float32,compute=bfloat16,output=bfloat16
      ~/b/__call__/s None
    """
    global _RECORD
    from minihaiku.core._tree import init_shapes

    seen: dict[str, Policy] = {}
    with _LOCK:
        _RECORD = seen
        try:
            shapes = init_shapes(transformed, *args, rng=rng, **kwargs)
        finally:
            _RECORD = None
    params = shapes[0] if isinstance(shapes, tuple) else shapes
    return {path: seen.get(path) for path in params}
