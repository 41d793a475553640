"""``Deferred``: builds a module on first use, as dm-haiku's ``hk.Deferred``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from minihaiku.core.checks import check_callable

__all__ = ["Deferred"]

T = TypeVar("T")


class Deferred(Generic[T]):
    """A lazy module: ``factory()`` runs when the module is first used.

    Use it where a module must be named (created) in one place but its
    parameters first used elsewhere. ``target`` builds (once) and returns the
    module; calling the ``Deferred``, or one of ``call_methods`` on it, calls
    the target's; any other attribute is read from the target.

    Args:
      factory: a callable with no arguments returning the module.
      call_methods: the methods forwarded to the target; default
        ``("__call__",)``.

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import Deferred, Linear
      >>> def f(x):
      ...   layer = Deferred(lambda: Linear(3))
      ...   return layer(x), layer.output_size
      >>> f = transform(f)
      >>> f.apply(f.init(0, jnp.ones((1, 2))), jnp.ones((1, 2)))[1]
      3
    """

    def __init__(self, factory: Callable[[], T], call_methods: Sequence[str] = ("__call__",)):
        self._factory = check_callable(factory, "factory", "Deferred")
        self._target: T | None = None
        for method_name in call_methods:
            if method_name == "__call__":
                continue
            setattr(self, method_name, self._forward(method_name))

    def _forward(self, method_name: str) -> Callable[..., Any]:
        def method(*args: Any, **kwargs: Any) -> Any:
            return getattr(self.target, method_name)(*args, **kwargs)

        method.__name__ = method_name
        return method

    @property
    def target(self) -> T:
        """The module (built by ``factory`` on the first access)."""
        if self._target is None:
            self._target = self._factory()
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Calls the target."""
        return self.target(*args, **kwargs)  # type: ignore[operator]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_factory", "_target"):
            raise AttributeError(name)
        return getattr(self.target, name)
