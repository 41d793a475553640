"""The process-wide initializer registry and the module-level functions acting on it.

Installed plugins (entry-point group ``minihaiku.initializers``) are loaded
the first time an initializer is looked up; see :class:`Registry` for the
load order and what happens on conflicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minihaiku.core._plugins.contract import (
    AUTOLOAD_ENV,
    DEFAULT_INITIALIZER,
    ENTRY_POINT_GROUP,
    STRICT_ENV,
    Initializer,
    InitializerFactory,
    InitializerInfo,
    hookimpl,
    hookspec,
)
from minihaiku.core._plugins.loading import PluginFailure
from minihaiku.core._plugins.registry import Registry
from minihaiku.core._plugins.report import PluginStatus, RegistryReport

__all__ = [
    "AUTOLOAD_ENV",
    "DEFAULT_INITIALIZER",
    "ENTRY_POINT_GROUP",
    "STRICT_ENV",
    "Initializer",
    "InitializerFactory",
    "InitializerInfo",
    "PluginFailure",
    "PluginStatus",
    "Registry",
    "RegistryReport",
    "failed_plugins",
    "get_initializer",
    "hookimpl",
    "hookspec",
    "list_initializers",
    "load_plugins",
    "register_plugin",
    "registry",
    "registry_report",
]


#: The registry shared by the whole process.
registry = Registry()


def load_plugins(*, strict: bool | None = None) -> None:
    """Loads the installed initializer plugins into the process registry.

    Lookups do this by themselves the first time; call it early to choose
    ``strict`` or to see load warnings at a known point. See
    :meth:`Registry.load_plugins`.

    Examples:
      >>> from minihaiku.core import list_initializers, load_plugins
      >>> load_plugins()
      >>> list_initializers()["zeros"].distribution
      'minihaiku-initializers'
    """
    registry.load_plugins(strict=strict)


def register_plugin(plugin: object, name: str | None = None) -> str:
    """Registers a plugin object in the process registry.

    See :meth:`Registry.register_plugin`.

    Examples:
      >>> from minihaiku.core import get_initializer, hookimpl, register_plugin
      >>> class Threes:
      ...   @hookimpl
      ...   def minihaiku_register_initializers(self, register):
      ...     register("doc_threes", lambda: lambda k, s, d: jnp.full(s, 3, d))
      >>> register_plugin(Threes(), name="doc-threes")
      'doc-threes'
      >>> get_initializer("doc_threes")(None, (2,), jnp.float32)
      Array([3., 3.], dtype=float32)
    """
    return registry.register_plugin(plugin, name)


def get_initializer(name: str, **kwargs: Any) -> Initializer:
    """Returns the process registry's initializer ``name``, configured by ``kwargs``.

    ``get_param(..., init=None)`` calls this for the default name on every
    parameter, so the default initializer is kept ready (one slot, reset when
    a plugin registers).

    Examples:
      >>> from minihaiku.core import get_initializer
      >>> get_initializer("ones")(jax.random.key(0), (2,), jnp.float32)
      Array([1., 1.], dtype=float32)
      >>> get_initializer("normal") is get_initializer("normal")
      True
    """
    if not kwargs and name == DEFAULT_INITIALIZER:
        init = registry.cached_default()
        if init is not None:
            return init
    return registry.get_initializer(name, **kwargs)


def list_initializers() -> Mapping[str, InitializerInfo]:
    """Every initializer of the process registry, with its plugin and distribution.

    Examples:
      >>> from minihaiku.core import list_initializers
      >>> info = list_initializers()["glorot_uniform"]
      >>> info.plugin, info.distribution
      ('builtin', 'minihaiku-initializers')
    """
    return registry.list_initializers()


def failed_plugins() -> list[PluginFailure]:
    """The installed plugins that failed to load into the process registry.

    Each was skipped with a :class:`PluginLoadWarning`; the others work.

    Examples:
      >>> from minihaiku.core import PluginFailure, failed_plugins
      >>> failures = failed_plugins()
      >>> all(isinstance(f, PluginFailure) for f in failures)
      True
      >>> print("failed:", [f.entry_point for f in failures])  # depends on what is installed
      failed: [...]
    """
    return registry.failed_plugins()


def registry_report() -> RegistryReport:
    """What ``minihaiku-plugins`` prints, for the process registry.

    Every initializer with its plugin, distribution and version; every plugin
    tried, in load order, with the error of those that failed; whether
    autoload and strict mode are on.

    Examples:
      >>> from minihaiku.core import registry_report
      >>> report = registry_report()
      >>> report.initializers[0].name <= report.initializers[-1].name
      True
      >>> report.plugins[0].distribution
      'minihaiku-initializers'
    """
    return registry.registry_report()
