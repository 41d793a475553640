"""The plan of an abstract ``init``: what to create, recorded without creating it.

While :mod:`minihaiku.core._abstract_init` traces the function abstractly,
:func:`~minihaiku.core._create.create` records one :class:`Entry` per new
parameter or state entry (its path, shape, dtype, initializer and how to
rebuild its key) and hands the forward pass a placeholder of the right shape
and dtype instead of running the initializer. After the trace every entry is
created eagerly, outside any trace, by the same code the eager ``init`` runs.

The key seam: an entry's key must be rebuildable from the init key alone.
For the default path-keyed scheme that is ``fold_in(init key, crc32(salt
path))`` (the entry keeps the salt). A frame whose keys are another scheme
(a :class:`~minihaiku.core._keys.Keys` subclass, e.g. keys drawn from a
sequence in call order) or another base key raises :class:`CannotPlanError`, and
``init`` falls back to running the forward pass eagerly. The haiku scheme's
sequence is rebuilt by replaying the log of entries and draws in order
(:mod:`minihaiku.core._haiku_plan`: ``Plan.haiku`` is its logging keys).
"""

from __future__ import annotations

import contextvars
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from minihaiku.core._checks import canonical_dtype
from minihaiku.core._keys import Keys, path_salt

__all__ = ["CannotPlanError", "Entry", "Plan", "current_plan", "planning", "stop_planning"]


class CannotPlanError(Exception):
    """An entry cannot be created outside the trace (init falls back to eager)."""


class Entry(NamedTuple):
    """One parameter or state entry to create after the abstract trace.

    ``salt`` is ``None`` when the entry needs no key (a keyless initializer
    outside ``layer_stack``); ``sizes`` are the enclosing stacks' sizes.
    """

    kind: str
    path: str
    shape: tuple[int, ...]
    dtype: Any
    initializer: Any
    label: str
    salt: int | None
    sizes: tuple[int, ...]
    placeholder: Any


class Plan:
    """The entries recorded while one ``init`` is traced abstractly.

    Examples:
      >>> plan = Plan(jax.random.PRNGKey(0))
      >>> plan.params, plan.state
      ({}, {})
    """

    __slots__ = ("_fills", "haiku", "key", "params", "state", "zero")

    def __init__(self, key: Any) -> None:
        self.key = key
        self.params: dict[str, Entry] = {}
        self.state: dict[str, Entry] = {}
        #: a traced scalar (an input of the abstract trace): placeholders are
        #: broadcasts of it, never constants that JAX would fold (and allocate).
        self.zero: Any = None
        self._fills: dict[Any, Any] = {}
        #: under the haiku scheme, the keys logging the entries and draws in
        #: order (:class:`~minihaiku.core._haiku_plan.PlanKeys`); else ``None``.
        self.haiku: Any = None

    def _placeholder(self, shape: tuple[int, ...], dtype: Any) -> Any:
        """Traced zeros of ``shape`` and ``dtype``, one per shape and dtype (values unused)."""
        found = self._fills.get((shape, dtype))
        if found is None:
            if not jnp.issubdtype(dtype, jnp.number) and dtype != jnp.bool_:
                raise CannotPlanError(f"no placeholder of dtype {dtype}")
            found = jax.lax.convert_element_type(self.zero, dtype)
            if shape:
                found = jax.lax.broadcast_in_dim(found, shape, ())
            self._fills[shape, dtype] = found
        return found

    def record(
        self,
        frame: Any,
        path: str,
        shape: tuple[int, ...],
        dtype: Any,
        initializer: Any,
        label: str,
        kind: str,
        salt_path: str,
        needs_key: bool,
    ) -> Any:
        """Records a new entry and returns its placeholder (traced zeros)."""
        if frame.custom is not None:  # a custom creator may change what is stored
            raise CannotPlanError(f"custom creators or getters are active at {kind} {path!r}")
        salt = None
        haiku = self.haiku
        if haiku is not None and frame.keys is not haiku:
            raise CannotPlanError(f"the keys of {kind} {path!r} are not the init key's sequence")
        if needs_key and haiku is not None:
            salt = 0  # the next key of the sequence, drawn when replayed
        elif needs_key:
            keys = frame.keys
            if type(keys) is not Keys or keys.base is not self.key:
                raise CannotPlanError(f"the key of {kind} {path!r} is not the init key's path key")
            salt = path_salt(salt_path)
        sizes = tuple(n for n, _ in frame.stacks)
        placeholder = self._placeholder((*sizes, *shape), canonical_dtype(dtype, path))
        entry = Entry(kind, path, shape, dtype, initializer, label, salt, sizes, placeholder)
        (self.params if kind == "parameter" else self.state)[path] = entry
        if haiku is not None:
            haiku.events.append(entry)
        return placeholder


_PLAN: contextvars.ContextVar[Plan | None] = contextvars.ContextVar(
    "minihaiku_init_plan", default=None
)

#: The plan being recorded, or ``None`` (``create`` creates values).
current_plan = _PLAN.get


def planning(plan: Plan | None) -> contextvars.Token[Plan | None]:
    """Makes ``plan`` the current plan (``None``: none); reset with ``_PLAN.reset``."""
    return _PLAN.set(plan)


def stop_planning(token: contextvars.Token[Plan | None]) -> None:
    """Restores the plan that was current before :func:`planning`."""
    _PLAN.reset(token)
