"""Name validation and scope bookkeeping shared by modules, params and state."""

from __future__ import annotations

from typing import Any

from minihaiku.core._errors import InvalidNameError

__all__ = ["ScopeNames", "check_name"]


def check_name(name: Any, kind: str, where: str) -> str:
    """Returns ``name`` if it can be a path component, else raises.

    Args:
      name: the candidate name.
      kind: what is being named ("parameter", "state", "module").
      where: the scope it would live in, for the message.

    Raises:
      InvalidNameError: ``name`` is not a non-empty string without ``/``.

    Examples:
      >>> check_name("w", "parameter", "~/Linear_0/__call__")
      'w'
    """
    if type(name) is not str:
        raise InvalidNameError(
            f"{kind} name must be a string, got {type(name).__name__} {name!r} "
            f"(in {where}). Pass a name such as 'w'."
        )
    if not name or "/" in name:
        what = "empty" if not name else "contains '/'"
        raise InvalidNameError(
            f"{kind} name {name!r} {what} (in {where}). Names are one path "
            "component: use a non-empty name without '/', such as 'w' or "
            "'encoder'; nest modules to build longer paths."
        )
    return name


class ScopeNames:
    """Module names already taken in one scope, and a counter per class name."""

    __slots__ = ("counts", "used")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.used: set[str] = set()

    def copy(self) -> ScopeNames:
        """An independent copy."""
        new = ScopeNames()
        new.counts = dict(self.counts)
        new.used = set(self.used)
        return new

    def auto(self, base: str) -> str:
        """Returns the next free ``f"{base}_{n}"`` and marks it used."""
        n = self.counts.get(base, 0)
        name = f"{base}_{n}"
        while name in self.used:
            n += 1
            name = f"{base}_{n}"
        self.counts[base] = n + 1
        self.used.add(name)
        return name
