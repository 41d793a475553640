"""Mixed precision: the public API (``set_policy``, ``get_policy``, ...).

Policies attach to a module class, a module instance or a module-path
pattern; the table and the casting live in ``table``. The table is
process-wide (like ``jax.config``). When only library defaults are set,
nothing is intercepted: a module call costs one cheap check. Policies are
read while a function is traced: set them before the first call of a
jitted ``init``/``apply`` (or jit again).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from minihaiku.core._errors import InvalidArgumentError, InvalidArgumentTypeError
from minihaiku.core._module import Module
from minihaiku.core._precision import table as pt
from minihaiku.core._precision.policy import Policy

__all__ = [
    "PolicyTarget",
    "clear_policy",
    "get_policy",
    "param_policies",
    "policy_scope",
    "set_policy",
]

#: What a policy attaches to: a Module subclass, a module instance, or a
#: module-path pattern (``fnmatch``; ``*`` also matches ``/``).
PolicyTarget = type[Module] | Module | str

_LOCK = threading.RLock()


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
        table = pt.current().copy()
        if isinstance(target, Module):
            target.__dict__[pt.INSTANCE] = policy
            table.instances = True
        elif isinstance(target, str):
            table.patterns[target] = policy
        else:
            (table.defaults if default else table.classes)[target] = policy
        pt.install(table)


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
        table = pt.current().copy()
        if isinstance(target, Module):
            target.__dict__.pop(pt.INSTANCE, None)
        elif isinstance(target, str):
            table.patterns.pop(target, None)
        else:
            (table.defaults if default else table.classes).pop(target, None)
        pt.install(table)


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
    table = pt.current()
    if kind == "class":
        return pt.class_policy(table, target)  # type: ignore[arg-type]
    if kind == "pattern":
        return table.patterns.get(target) or pt.path_policy(table, target)  # type: ignore[arg-type]
    return pt.resolve(target)  # type: ignore[arg-type]


@contextlib.contextmanager
def policy_scope(
    target: PolicyTarget | None = None, policy: Policy | str | None = None
) -> Iterator[None]:
    """Restores every policy as it was when the ``with`` block exits.

    ``policy_scope(target, policy)`` also sets ``policy`` on ``target`` for
    the block; ``policy_scope()`` just protects the table from what the
    block sets. Library defaults (``default=True``) are the exception: those
    registered or cleared in the block stay so (a library imported inside
    the block keeps its defaults). The table is process-wide: do not change
    it from two threads.

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
    saved = pt.current()
    try:
        if target is not None:
            set_policy(target, policy)  # type: ignore[arg-type]
        yield
    finally:
        with _LOCK:
            restored = saved.copy()
            restored.defaults = dict(pt.current().defaults)  # e.g. a library imported in the block
            pt.install(restored)


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
    from minihaiku.core._sharding.shapes import init_shapes

    seen: dict[str, Policy] = {}
    with _LOCK, pt.recording(seen):
        shapes = init_shapes(transformed, *args, rng=rng, **kwargs)
    params = shapes[0] if isinstance(shapes, tuple) else shapes
    return {path: seen.get(path) for path in params}
