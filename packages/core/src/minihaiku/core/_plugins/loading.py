"""Finding and loading installed plugins: entry points, load order, autoload, strict mode.

Load order (never depends on entry-point names alone): the entry points of
``minihaiku-initializers`` first, so that built-in names can never be
replaced; then every other entry point sorted by normalized distribution
name, then entry-point name. A plugin that fails to load becomes a
:class:`PluginFailure` record and a warning, or in strict mode a
:class:`~minihaiku.core.PluginLoadError`.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from minihaiku.core._errors import PluginLoadError, PluginLoadWarning
from minihaiku.core._plugins.contract import (
    AUTOLOAD_ENV,
    BUILTIN_DISTRIBUTION,
    ENTRY_POINT_GROUP,
    STRICT_ENV,
    normalize_distribution,
)
from minihaiku.core._plugins.report import PluginStatus

__all__ = [
    "NO_DIST",
    "PluginFailure",
    "RegisterLoaded",
    "autoload_disabled",
    "dist_of",
    "env_flag",
    "is_builtin",
    "load_entry_points",
    "load_order",
    "strict_mode",
    "user_stacklevel",
]

NO_DIST = "not installed from a distribution"

#: ``register(plugin, name, distribution, version, entry_point_value) -> plugin name``.
RegisterLoaded = Callable[[object, str, str | None, str | None, str], str]


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


def is_builtin(dist: str | None) -> bool:
    """Whether ``dist`` is the distribution of the built-in initializers."""
    return dist is not None and normalize_distribution(dist) == BUILTIN_DISTRIBUTION


def user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside minihaiku."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("minihaiku."):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def env_flag(name: str) -> bool:
    """Whether environment variable ``name`` is set to something other than 0/false/no."""
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def dist_of(ep: EntryPoint) -> tuple[str | None, str | None]:
    """The name and version of the distribution behind ``ep`` (None, None if unknown)."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def load_order(eps: list[EntryPoint]) -> list[EntryPoint]:
    """Built-ins first, then by normalized distribution name and entry-point name."""

    def key(ep: EntryPoint) -> tuple[bool, str, str, str]:
        dist = normalize_distribution(dist_of(ep)[0] or "")
        return (dist != BUILTIN_DISTRIBUTION, dist, ep.name, ep.value)

    return sorted(eps, key=key)


def autoload_disabled() -> bool:
    """Whether entry-point autoload is off (``MINIHAIKU_DISABLE_PLUGIN_AUTOLOAD`` set)."""
    return env_flag(AUTOLOAD_ENV)


def strict_mode(strict: bool | None = None) -> bool:
    """``strict`` if given, else whether ``MINIHAIKU_STRICT_PLUGINS`` is set."""
    return env_flag(STRICT_ENV) if strict is None else strict


def load_entry_points(
    register: RegisterLoaded,
    record_failure: Callable[[PluginFailure, PluginStatus], None],
    *,
    strict: bool,
) -> None:
    """Loads every ``minihaiku.initializers`` entry point, in load order, through ``register``.

    A plugin that fails is handed to ``record_failure`` (with its status) and
    warned about, and loading goes on; with ``strict`` the first failure raises
    :class:`~minihaiku.core.PluginLoadError` instead (the caller undoes what
    was registered).
    """
    for ep in load_order(list(entry_points(group=ENTRY_POINT_GROUP))):
        dist, version = dist_of(ep)
        try:
            register(ep.load(), ep.name, dist, version, ep.value)
        except Exception as e:
            failure = PluginFailure(ep.name, ep.value, dist, e)
            if strict:
                raise PluginLoadError(
                    failure.describe() + f". {STRICT_ENV} is set: unset it "
                    "to skip broken plugins, or fix or uninstall "
                    f"{dist or 'the plugin'}."
                ) from e
            error = f"{type(e).__name__}: {str(e).rstrip('.')}"
            status = PluginStatus(ep.name, ep.value, dist, version, is_builtin(dist), (), error)
            record_failure(failure, status)
            warnings.warn(
                failure.describe() + "; its initializers are not "
                "available, the other plugins keep working.",
                PluginLoadWarning,
                stacklevel=user_stacklevel(),
            )
