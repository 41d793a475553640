"""The initializer plugin contract: hook spec, markers, constants and the entry type.

What a plugin author writes against: the ``minihaiku_register_initializers``
hook (:class:`Spec`), the ``hookimpl`` marker, the :class:`Initializer` type
and the :class:`InitializerInfo` a registration becomes. The
:class:`~minihaiku.core.Registry` (``registry.py``) registers plugins against
it; ``loading.py`` finds them; ``report.py`` describes the outcome.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pluggy

__all__ = [
    "AUTOLOAD_ENV",
    "BUILTIN_DISTRIBUTION",
    "DEFAULT_INITIALIZER",
    "ENTRY_POINT_GROUP",
    "HOOK_NAME",
    "STRICT_ENV",
    "Initializer",
    "InitializerFactory",
    "InitializerInfo",
    "Register",
    "Spec",
    "hookimpl",
    "hookspec",
    "normalize_distribution",
]

#: The entry-point group scanned for initializer plugins.
ENTRY_POINT_GROUP = "minihaiku.initializers"
#: Set to ``1`` to stop plugins being loaded from entry points.
AUTOLOAD_ENV = "MINIHAIKU_DISABLE_PLUGIN_AUTOLOAD"
#: Set to ``1`` to raise :class:`PluginLoadError` when a plugin fails to load.
STRICT_ENV = "MINIHAIKU_STRICT_PLUGINS"
#: The name ``get_param(..., init=None)`` uses.
DEFAULT_INITIALIZER = "normal"
#: The distribution that provides the built-in initializers; its plugins load
#: first and keep their names.
BUILTIN_DISTRIBUTION = "minihaiku-initializers"
#: The one hook a plugin implements.
HOOK_NAME = "minihaiku_register_initializers"

hookspec = pluggy.HookspecMarker("minihaiku")
hookimpl = pluggy.HookimplMarker("minihaiku")


class Initializer(Protocol):
    """A configured initializer: ``(key, shape, dtype) -> Array``.

    :func:`get_initializer` returns one; any function of ``(key, shape,
    dtype)`` is one too and can be passed as ``get_param(..., init=...)``.

    Examples:
      >>> from minihaiku.core import get_initializer, get_param, transform
      >>> init = get_initializer("constant", value=0.5)
      >>> init(jax.random.key(0), (2,), jnp.float32)
      Array([0.5, 0.5], dtype=float32)
      >>> def halves(key, shape, dtype):
      ...   return jnp.full(shape, 0.5, dtype)
      >>> transform(lambda: get_param("b", (2,), init=halves)).init(0)
      {'~/b': Array([0.5, 0.5], dtype=float32)}
    """

    def __call__(self, key: Any, shape: tuple[int, ...], dtype: Any) -> Any: ...


InitializerFactory = Callable[..., Initializer]
Register = Callable[[str, InitializerFactory], None]


class Spec:
    """The hooks a minihaiku plugin can implement."""

    @hookspec
    def minihaiku_register_initializers(self, register: Register) -> None:
        """Registers named initializer factories.

        Args:
          register: call ``register(name, factory)`` once per initializer;
            ``factory(**kwargs)`` returns an ``(key, shape, dtype) -> Array``
            initializer.

        Examples:
          >>> from minihaiku.core import hookimpl
          >>> @hookimpl
          ... def minihaiku_register_initializers(register):
          ...   register("seven", lambda: lambda k, s, d: jnp.full(s, 7, d))
        """


def normalize_distribution(name: str) -> str:
    """The PEP 503 normalized form of a distribution name (sorting key).

    Examples:
      >>> normalize_distribution("Acme_Inits.Extra")
      'acme-inits-extra'
    """
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class InitializerInfo:
    """Who registered one initializer name (:func:`list_initializers` maps names to these).

    Attributes:
      name: the registered name.
      factory: ``factory(**kwargs) -> initializer``.
      plugin: the plugin's name (its entry-point name, or the name given to
        ``register_plugin``).
      distribution: the distribution that installed the plugin, or None.
      version: that distribution's version, or None.

    Examples:
      >>> from minihaiku.core import list_initializers
      >>> info = list_initializers()["glorot_uniform"]
      >>> info.name, info.plugin, info.distribution
      ('glorot_uniform', 'builtin', 'minihaiku-initializers')
      >>> info.factory()(jax.random.key(0), (2, 3), jnp.float32).shape
      (2, 3)
    """

    name: str
    factory: InitializerFactory
    plugin: str
    distribution: str | None
    version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the factory as ``module.qualname``).

        Examples:
          >>> from minihaiku.core import list_initializers
          >>> list_initializers()["zeros"].to_dict()["distribution"]
          'minihaiku-initializers'
        """
        f = self.factory
        qualname = getattr(f, "__qualname__", None) or type(f).__qualname__
        return {
            "name": self.name,
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
            "factory": f"{getattr(f, '__module__', None) or '?'}.{qualname}",
        }
