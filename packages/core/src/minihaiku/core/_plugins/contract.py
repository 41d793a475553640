"""The initializer plugin contract: hook spec, markers, constants and report types.

The :class:`~minihaiku.core.Registry` (in ``registry.py``) loads plugins
against this contract; ``minihaiku-plugins`` prints a
:class:`RegistryReport`.
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
    "PluginFailure",
    "PluginStatus",
    "Register",
    "RegistryReport",
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


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded.

    :func:`failed_plugins` returns one per installed plugin that failed.

    Attributes:
      entry_point: the entry point's name.
      value: the entry point's value (``module`` or ``module:attr``).
      distribution: the distribution that installed it, or None.
      error: the exception loading it raised.

    Examples:
      >>> from minihaiku.core import PluginFailure
      >>> f = PluginFailure("acme", "acme_inits", "acme-inits", ImportError("no jax"))
      >>> f.distribution, type(f.error).__name__
      ('acme-inits', 'ImportError')
      >>> f.describe()
      "initializer plugin 'acme' = 'acme_inits' from acme-inits failed to load: ImportError: no jax"
    """

    entry_point: str
    value: str
    distribution: str | None
    error: BaseException

    def describe(self) -> str:
        """One sentence (no final period) naming the plugin and the error."""
        dist = self.distribution or "an unknown distribution"
        return (
            f"initializer plugin {self.entry_point!r} = {self.value!r} from "
            f"{dist} failed to load: {type(self.error).__name__}: "
            f"{str(self.error).rstrip('.')}"
        )


@dataclass(frozen=True)
class PluginStatus:
    """One plugin the registry tried to load, in load order.

    :func:`registry_report` lists one per plugin; the built-ins come first.

    Attributes:
      name: the plugin's name (entry-point name or ``register_plugin`` name).
      value: the entry point's value (``module`` or ``module:attr``), or None
        for a plugin registered by hand.
      distribution: the distribution that installed it, or None.
      version: that distribution's version, or None.
      builtin: whether it comes from ``minihaiku-initializers``.
      initializers: the names it registered (empty when it failed).
      error: ``"ErrorType: message"`` when it failed to load, else None.

    Examples:
      >>> from minihaiku.core import registry_report
      >>> status = registry_report().plugins[0]
      >>> status.name, status.distribution, status.builtin, status.loaded
      ('builtin', 'minihaiku-initializers', True, True)
      >>> "glorot_uniform" in status.initializers
      True
    """

    name: str
    value: str | None
    distribution: str | None
    version: str | None
    builtin: bool
    initializers: tuple[str, ...]
    error: str | None = None

    @property
    def loaded(self) -> bool:
        """Whether the plugin loaded (its initializers are available)."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the fields plus ``loaded``.

        Examples:
          >>> PluginStatus("acme", "acme_inits", "acme-inits", "1.0", False, ("seven",)).to_dict()
          ... # doctest: +NORMALIZE_WHITESPACE
          {'name': 'acme', 'value': 'acme_inits', 'distribution': 'acme-inits',
           'version': '1.0', 'builtin': False, 'loaded': True, 'initializers': ['seven'],
           'error': None}
        """
        return {
            "name": self.name,
            "value": self.value,
            "distribution": self.distribution,
            "version": self.version,
            "builtin": self.builtin,
            "loaded": self.loaded,
            "initializers": list(self.initializers),
            "error": self.error,
        }


@dataclass(frozen=True)
class RegistryReport:
    """Everything ``minihaiku-plugins`` prints: see :func:`registry_report`.

    Attributes:
      initializers: every registered initializer, sorted by name.
      plugins: every plugin tried, in load order (failed ones included).
      autoload: whether entry-point autoload is on (``AUTOLOAD_ENV`` unset).
      strict: whether strict mode is on (``STRICT_ENV`` set).

    Examples:
      >>> from minihaiku.core import registry_report
      >>> report = registry_report()
      >>> "zeros" in [info.name for info in report.initializers]
      True
      >>> report.plugins[0].name
      'builtin'
      >>> all(p.error is not None for p in report.failed)
      True
    """

    initializers: tuple[InitializerInfo, ...]
    plugins: tuple[PluginStatus, ...]
    autoload: bool
    strict: bool

    @property
    def failed(self) -> tuple[PluginStatus, ...]:
        """The plugins that failed to load, in load order."""
        return tuple(p for p in self.plugins if not p.loaded)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: what ``minihaiku-plugins --json`` prints.

        Examples:
          >>> r = RegistryReport((), (), autoload=False, strict=False)
          >>> r.to_dict()
          {'autoload': False, 'strict': False, 'load_order': [], 'plugins': [], 'initializers': [], 'failed': []}
        """  # noqa: E501
        return {
            "autoload": self.autoload,
            "strict": self.strict,
            "load_order": [p.name for p in self.plugins],
            "plugins": [p.to_dict() for p in self.plugins],
            "initializers": [i.to_dict() for i in self.initializers],
            "failed": [p.name for p in self.failed],
        }
