"""The scope stack: the path that parameters created right now are put under.

A scope is a path (``~``, ``~/MLP_0/__call__``), the module that owns it (for
``transparent`` methods), and the module names already taken in it. Lifted
transforms and interceptors change scopes only through
:meth:`ScopeStack.enter` and :meth:`ScopeStack.exit`; the module wrappers
(``_module.py``, the hot path) do what they do inline on :attr:`ScopeStack.scopes`.
"""

from __future__ import annotations

from minihaiku.core._naming import ScopeNames

__all__ = ["ROOT", "Scope", "ScopeStack"]

#: Path of the root scope: every parameter path starts with it (``~/w``).
ROOT = "~"


class Scope:
    """One entry of the scope stack.

    Attributes:
      path: the scope's path; parameters created here are ``path + "/" + name``.
      prefix: the path modules constructed here are put under (``path``, except
        for a method of a ``method_scopes=False`` module or a ``transparent``
        method called from outside: ``<module path>/<method>``).
      owner: the module whose method (or construction) opened the scope, or
        ``None`` for the root and for lifted-transform scopes.
      names: the module names taken in this scope so far (made on first use).
    """

    __slots__ = ("names", "owner", "path", "prefix")

    def __init__(
        self,
        path: str,
        owner: object | None = None,
        names: ScopeNames | None = None,
        prefix: str | None = None,
    ) -> None:
        self.path = path
        self.prefix = path if prefix is None else prefix
        self.owner = owner
        self.names = names

    def taken(self) -> ScopeNames:
        """The module names taken in this scope, created when first needed."""
        names = self.names
        if names is None:
            names = self.names = ScopeNames()
        return names

    def copy(self) -> Scope:
        """A copy whose names can change without changing this scope's."""
        names = None if self.names is None else self.names.copy()
        return Scope(self.path, self.owner, names, self.prefix)


class ScopeStack:
    """The stack of scopes of one frame; the last one is the current scope.

    Examples:
      >>> stack = ScopeStack()
      >>> depth = stack.enter("~/MLP_0/__call__")
      >>> stack.top.path
      '~/MLP_0/__call__'
      >>> stack.exit(depth)
      >>> stack.top.path
      '~'
    """

    __slots__ = ("scopes",)

    def __init__(self, scopes: list[Scope] | None = None) -> None:
        self.scopes = scopes if scopes is not None else [Scope(ROOT)]

    @property
    def top(self) -> Scope:
        """The current scope."""
        return self.scopes[-1]

    def enter(self, path: str, owner: object | None = None, prefix: str | None = None) -> int:
        """Opens a scope at ``path``; returns the depth to give to :meth:`exit`."""
        scopes = self.scopes
        depth = len(scopes)
        scopes.append(Scope(path, owner, None, prefix))
        return depth

    def exit(self, depth: int) -> None:
        """Closes every scope opened since :meth:`enter` returned ``depth``."""
        del self.scopes[depth:]

    def copy(self) -> ScopeStack:
        """An independent copy (names included), for a pass that must not leak names."""
        return ScopeStack([s.copy() for s in self.scopes])

    def adopt(self, other: ScopeStack) -> None:
        """Takes over the module names ``other`` (a copy of this stack) has taken."""
        self.scopes[:] = other.copy().scopes
