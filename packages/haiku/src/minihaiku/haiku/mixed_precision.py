"""dm-haiku's ``haiku.mixed_precision``: per-class precision policies over core's.

dm-haiku takes ``jmp.Policy`` objects; so does this module (any object with
``param_dtype``, ``compute_dtype`` and ``output_dtype``, so jmp is not a
dependency), as well as core's :class:`~minihaiku.core.Policy` and its
strings (``"params=float32,compute=bfloat16,output=float32"``).
``get_policy`` and ``current_policy`` return the object that was set.

Examples:
  >>> import minihaiku.haiku as hk
  >>> from minihaiku.core import Policy
  >>> policy = Policy(jnp.float32, jnp.bfloat16, jnp.bfloat16)
  >>> with hk.mixed_precision.push_policy(hk.Linear, policy):
  ...   f = hk.transform(lambda x: hk.Linear(2)(x))
  ...   params = f.init(jax.random.PRNGKey(0), jnp.ones((1, 3)))
  ...   out = f.apply(params, None, jnp.ones((1, 3)))
  >>> params["linear"]["w"].dtype, out.dtype
  (dtype('float32'), dtype(bfloat16))
  >>> hk.mixed_precision.get_policy(hk.Linear) is None
  True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import minihaiku.core as core
from minihaiku.core import InvalidArgumentTypeError, Module, Policy
from minihaiku.core._frame import frame_or_none  # the running frame's parameter interceptors
from minihaiku.core._precision.table import Caster  # the interceptor a policy installs

__all__ = ["clear_policy", "current_policy", "get_policy", "push_policy", "set_policy"]

#: The policy object each class was given (a jmp policy comes back as itself).
_GIVEN: dict[type, Any] = {}


def _as_core(policy: Any, where: str) -> Policy | str:
    if isinstance(policy, (Policy, str)):
        return policy
    fields = ("param_dtype", "compute_dtype", "output_dtype")
    if all(hasattr(policy, f) for f in fields):  # jmp.Policy and look-alikes
        return Policy(policy.param_dtype, policy.compute_dtype, policy.output_dtype)
    raise InvalidArgumentTypeError(
        f"{where}: policy must be a jmp.Policy, a minihaiku.core.Policy or a policy "
        f"string, got {type(policy).__name__} {policy!r:.40}. Pass e.g. "
        "jmp.get_policy('p=f32,c=bf16,o=f32')."
    )


def set_policy(cls: type[Module], policy: Any) -> None:
    """dm-haiku's ``set_policy``: instances of ``cls`` (and subclasses) run under ``policy``.

    Raises:
      InvalidArgumentTypeError: ``policy`` is no policy (a ``TypeError``).

    Examples:
      >>> import minihaiku.haiku as hk
      >>> hk.mixed_precision.set_policy(hk.Linear, "params=float32,compute=float16")
      >>> print(hk.mixed_precision.get_policy(hk.Linear))
      params=float32,compute=float16,output=float16
      >>> hk.mixed_precision.clear_policy(hk.Linear)
    """
    core.set_policy(cls, _as_core(policy, f"set_policy({cls.__name__})"))
    _GIVEN[cls] = policy


def get_policy(cls: type[Module]) -> Any:
    """dm-haiku's ``get_policy``: the policy set on ``cls`` (the object given), or ``None``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> hk.mixed_precision.get_policy(hk.Conv2D) is None
      True
    """
    found = core.get_policy(cls)
    if found is None:
        return None
    given = _GIVEN.get(cls)
    jmp_like = given is not None and not isinstance(given, (Policy, str))
    if jmp_like and _as_core(given, "get_policy") == found:
        return given  # the jmp policy, as dm-haiku returns it
    return found


def clear_policy(cls: type[Module]) -> None:
    """dm-haiku's ``clear_policy``: removes the policy set on ``cls``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> hk.mixed_precision.set_policy(hk.Linear, "bf16")
      >>> hk.mixed_precision.clear_policy(hk.Linear)
      >>> hk.mixed_precision.get_policy(hk.Linear) is None
      True
    """
    core.clear_policy(cls)
    _GIVEN.pop(cls, None)


@contextlib.contextmanager
def push_policy(cls: type[Module], policy: Any) -> Iterator[None]:
    """dm-haiku's ``push_policy``: ``policy`` on ``cls`` inside the block, then the old one.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> with hk.mixed_precision.push_policy(hk.Linear, "bf16"):
      ...   print(hk.mixed_precision.get_policy(hk.Linear))
      params=bfloat16,compute=bfloat16,output=bfloat16
      >>> hk.mixed_precision.get_policy(hk.Linear) is None
      True
    """
    old = get_policy(cls)
    set_policy(cls, policy)
    try:
        yield
    finally:
        if old is None:
            clear_policy(cls)
        else:
            set_policy(cls, old)


def current_policy() -> Any:
    """dm-haiku's ``current_policy``: the policy of the module method running now, or ``None``.

    ``None`` outside a transform and in modules without a policy; inside a
    module under a policy, the object given to ``set_policy`` (a jmp policy
    comes back as itself).

    Examples:
      >>> import minihaiku.haiku as hk
      >>> class Probe(hk.Module):
      ...   def __call__(self):
      ...     return str(hk.mixed_precision.current_policy())
      >>> with hk.mixed_precision.push_policy(Probe, "params=float32,compute=bfloat16"):
      ...   hk.transform(lambda: Probe()()).apply({}, None)
      'params=float32,compute=bfloat16,output=bfloat16'
      >>> hk.mixed_precision.current_policy() is None
      True
    """
    frame = frame_or_none()
    if frame is None:
        return None
    found = None
    for x in frame.param_interceptors:
        if type(x) is Caster:
            found = x.policy
    if found is None:
        return None
    for given in _GIVEN.values():
        if not isinstance(given, (Policy, str)) and _as_core(given, "current_policy") == found:
            return given
    return found
