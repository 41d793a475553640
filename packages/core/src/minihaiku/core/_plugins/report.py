"""What the registry reports: a PluginStatus per plugin tried, the RegistryReport.

:meth:`~minihaiku.core.Registry.registry_report` builds the report;
``minihaiku-plugins`` (``cli.py``) prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minihaiku.core._plugins.contract import InitializerInfo

__all__ = ["PluginStatus", "RegistryReport"]


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
