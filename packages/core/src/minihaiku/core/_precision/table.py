"""The policy table and the casting it drives (the public API is in ``_precision``).

For each module method call the most specific policy wins: the instance's,
then the longest path pattern matching the module's path, then the class's
(the nearest class in the MRO that has one; a library default counts as
that class's policy unless the user set one on the same class). A module
without a policy of its own runs in whatever dtype it gets, and reads its
parameters in the compute dtype of the innermost enclosing policy
(dm-haiku's rule).
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
from collections.abc import Callable, Iterator
from typing import Any

import jax.numpy as jnp

from minihaiku.core._frame import frame_or_none
from minihaiku.core._hooks import set_stored_dtype_hook
from minihaiku.core._intercept import MethodContext
from minihaiku.core._module import (
    Module,
    add_global_method_interceptor,
    remove_global_method_interceptor,
)
from minihaiku.core._precision.policy import Policy, first_floating_dtype

__all__ = [
    "INSTANCE",
    "Table",
    "class_policy",
    "current",
    "install",
    "param_dtype",
    "path_policy",
    "recording",
    "resolve",
]

#: Where a module instance keeps its own policy (in its ``__dict__``).
INSTANCE = "_minihaiku_policy"


class Table:
    """The policies set so far (replaced wholesale by ``policy_scope`` on exit)."""

    def __init__(self) -> None:
        self.classes: dict[type, Policy] = {}
        self.defaults: dict[type, Policy] = {}
        self.patterns: dict[str, Policy] = {}
        self.instances = False  # an instance policy was set since the last reset
        self.by_class: dict[type, Policy | None] = {}
        self.by_path: dict[str, Policy | None] = {}

    def copy(self) -> Table:
        t = Table()
        t.classes, t.defaults = dict(self.classes), dict(self.defaults)
        t.patterns, t.instances = dict(self.patterns), self.instances
        return t

    @property
    def active(self) -> bool:
        return bool(self.classes or self.patterns or self.instances)


TABLE = Table()


def install(table: Table) -> None:
    """Makes ``table`` current and hooks (or unhooks) the interceptor on module calls."""
    global TABLE
    TABLE = table
    if table.active:
        add_global_method_interceptor(intercept)
    else:
        remove_global_method_interceptor(intercept)


def class_policy(table: Table, cls: type) -> Policy | None:
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


def path_policy(table: Table, path: str) -> Policy | None:
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


def resolve(module: Module) -> Policy | None:
    d = module.__dict__
    own = d.get(INSTANCE)
    if own is not None:
        return own  # type: ignore[no-any-return]
    table = TABLE
    if table.patterns:
        found = path_policy(table, d.get("_minihaiku_path", ""))
        if found is not None:
            return found
    return class_policy(table, type(module))


class Caster:
    """The parameter interceptor of one policy: casts float params to its compute dtype."""

    __slots__ = ("policy",)

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def __call__(self, path: str, value: Any) -> Any:
        seen = RECORD.get()
        if seen is not None:
            seen[path] = self.policy
        return self.policy.cast_to_compute(value)


#: Where ``param_policies`` notes each parameter read under a policy (``None``:
#: not recording); a ContextVar like the ``axes=`` record of ``_sharding.axes``.
RECORD: contextvars.ContextVar[dict[str, Policy] | None] = contextvars.ContextVar(
    "minihaiku_precision_record", default=None
)


def with_caster(interceptors: tuple[Any, ...], caster: Caster) -> tuple[Any, ...]:
    """``interceptors`` with ``caster`` in place of an outer policy's (or appended)."""
    for i, x in enumerate(interceptors):
        if type(x) is Caster:
            return (*interceptors[:i], caster, *interceptors[i + 1 :])
    return (*interceptors, caster)


def param_dtype(interceptors: tuple[Any, ...], dtype: Any) -> Any:
    """The dtype a parameter asked for as ``dtype`` is stored in under the active policy."""
    for x in interceptors:
        if type(x) is Caster:
            try:
                floating = jnp.issubdtype(dtype, jnp.floating)
            except TypeError:  # not a dtype: get_param reports it
                return dtype
            return x.policy.param_dtype if floating else dtype
    return dtype


def intercept(
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
    policy = resolve(context.module)
    if policy is None:
        return next_fun(*args, **kwargs)
    before = frame.param_interceptors
    frame.param_interceptors = with_caster(before, Caster(policy))
    try:
        in_dtype = None if policy.output_dtype is not None else first_floating_dtype(args)
        args, kwargs = policy.cast_to_compute((args, kwargs))
        out = next_fun(*args, **kwargs)
    finally:
        frame.param_interceptors = before
    return policy.cast_to_output(out, in_dtype)


def current() -> Table:
    """The table in force."""
    return TABLE


@contextlib.contextmanager
def recording(seen: dict[str, Policy]) -> Iterator[None]:
    """Inside the block, each parameter read under a policy is noted in ``seen``."""
    token = RECORD.set(seen)
    try:
        yield
    finally:
        RECORD.reset(token)


set_stored_dtype_hook(param_dtype)
