"""The initializer registry: a pluggy hook spec, plugin loading and lookup.

Plugins are modules (or objects) with a ``minihaiku_register_initializers``
hook implementation. Installed plugins are found through the entry-point
group ``minihaiku.initializers`` the first time an initializer is looked up.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Protocol

import pluggy

from minihaiku.core._errors import (
    DuplicateInitializerError,
    NotCallableError,
    PluginLoadError,
    PluginLoadWarning,
    UnknownInitializerError,
)

__all__ = [
    "AUTOLOAD_ENV",
    "DEFAULT_INITIALIZER",
    "ENTRY_POINT_GROUP",
    "STRICT_ENV",
    "Initializer",
    "InitializerFactory",
    "InitializerInfo",
    "PluginFailure",
    "Registry",
    "failed_plugins",
    "get_initializer",
    "hookimpl",
    "hookspec",
    "list_initializers",
    "load_plugins",
    "register_plugin",
    "registry",
]

#: The entry-point group scanned for initializer plugins.
ENTRY_POINT_GROUP = "minihaiku.initializers"
#: Set to ``1`` to stop plugins being loaded from entry points.
AUTOLOAD_ENV = "MINIHAIKU_DISABLE_PLUGIN_AUTOLOAD"
#: Set to ``1`` to raise :class:`PluginLoadError` when a plugin fails to load.
STRICT_ENV = "MINIHAIKU_STRICT_PLUGINS"
#: The name ``get_param(..., init=None)`` uses.
DEFAULT_INITIALIZER = "normal"
#: The distribution that provides the built-in initializers.
BUILTIN_DISTRIBUTION = "minihaiku-initializers"

hookspec = pluggy.HookspecMarker("minihaiku")
hookimpl = pluggy.HookimplMarker("minihaiku")


class Initializer(Protocol):
    """A configured initializer: ``(key, shape, dtype) -> Array``."""

    def __call__(self, key: Any, shape: tuple[int, ...], dtype: Any) -> Any: ...


InitializerFactory = Callable[..., Initializer]
Register = Callable[[str, InitializerFactory], None]


class _Spec:
    """The hooks a minihaiku plugin can implement."""

    @hookspec
    def minihaiku_register_initializers(self, register: Register) -> None:
        """Registers named initializer factories.

        Args:
          register: call ``register(name, factory)`` once per initializer;
            ``factory(**kwargs)`` returns an ``(key, shape, dtype) -> Array``
            initializer.

        Examples:
          >>> @hookimpl
          ... def minihaiku_register_initializers(register):
          ...   register("seven", lambda: lambda k, s, d: jnp.full(s, 7, d))
        """


@dataclass(frozen=True)
class InitializerInfo:
    """Who registered one initializer name."""

    name: str
    factory: InitializerFactory
    plugin: str
    distribution: str | None


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded."""

    entry_point: str
    value: str
    distribution: str | None
    error: BaseException

    def describe(self) -> str:
        dist = self.distribution or "an unknown distribution"
        return (
            f"initializer plugin {self.entry_point!r} = {self.value!r} from "
            f"{dist} failed to load: {type(self.error).__name__}: {self.error}"
        )


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside minihaiku."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("minihaiku."):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def _dist_name(ep: EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return None if dist is None else dist.metadata["Name"]


class Registry:
    """Initializer factories by name, filled by pluggy plugins.

    Most code uses the module-level functions, which act on the shared
    :data:`registry`; a separate ``Registry`` is useful in tests.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._pm = pluggy.PluginManager("minihaiku")
        self._pm.add_hookspecs(_Spec)
        self._entries: dict[str, InitializerInfo] = {}
        self._failures: list[PluginFailure] = []
        self._dists: dict[str, str | None] = {}
        self._autoloaded = False
        self._default: Initializer | None = None

    # -- loading ---------------------------------------------------------
    def load_plugins(self, *, strict: bool | None = None) -> None:
        """Loads plugins from the ``minihaiku.initializers`` entry points.

        Runs once; later calls do nothing. Does nothing when the environment
        variable ``MINIHAIKU_DISABLE_PLUGIN_AUTOLOAD`` is set.

        Args:
          strict: raise :class:`PluginLoadError` on the first plugin that
            fails, instead of warning and going on. Defaults to the
            ``MINIHAIKU_STRICT_PLUGINS`` environment variable.
        """
        with self._lock:
            if self._autoloaded:
                return
            self._autoloaded = True
            if _env_flag(AUTOLOAD_ENV):
                return
            if strict is None:
                strict = _env_flag(STRICT_ENV)
            for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
                dist = _dist_name(ep)
                try:
                    plugin = ep.load()
                    self._register(plugin, ep.name, dist)
                except Exception as e:
                    failure = PluginFailure(ep.name, ep.value, dist, e)
                    if strict:
                        self._autoloaded = False
                        raise PluginLoadError(
                            failure.describe() + f". {STRICT_ENV} is set: unset it "
                            "to skip broken plugins, or fix or uninstall "
                            f"{dist or 'the plugin'}."
                        ) from e
                    self._failures.append(failure)
                    warnings.warn(
                        failure.describe() + "; its initializers are not "
                        "available, the other plugins keep working.",
                        PluginLoadWarning,
                        stacklevel=_user_stacklevel(),
                    )

    def register_plugin(self, plugin: object, name: str | None = None) -> str:
        """Registers a plugin object (a module or any object with hookimpls).

        Args:
          plugin: the object carrying ``minihaiku_register_initializers``.
          name: the plugin's name in listings; defaults to pluggy's.

        Returns:
          The name the plugin is registered under.

        Examples:
          >>> class Plugin:
          ...   @hookimpl
          ...   def minihaiku_register_initializers(self, register):
          ...     register("twos", lambda: lambda k, s, d: jnp.full(s, 2, d))
          >>> Registry().register_plugin(Plugin(), name="twos-plugin")
          'twos-plugin'
        """
        with self._lock:
            return self._register(plugin, name, None)

    def _register(self, plugin: object, name: str | None, dist: str | None) -> str:
        staged: dict[str, InitializerInfo] = {}
        plugin_name = self._pm.register(plugin, name=name)
        if plugin_name is None:  # pragma: no cover - pluggy blocked it
            raise PluginLoadError(f"plugin {name!r} is blocked")
        try:
            impls = [
                i
                for i in self._pm.hook.minihaiku_register_initializers.get_hookimpls()
                if i.plugin is plugin
            ]

            def register(init_name: str, factory: InitializerFactory) -> None:
                self._stage(staged, init_name, factory, plugin_name, dist)

            for impl in impls:
                impl.function(register=register)
        except BaseException:
            self._pm.unregister(plugin)
            raise
        self._entries.update(staged)
        self._dists[plugin_name] = dist
        self._default = None
        return plugin_name

    def _stage(
        self,
        staged: dict[str, InitializerInfo],
        name: str,
        factory: InitializerFactory,
        plugin: str,
        dist: str | None,
    ) -> None:
        if type(name) is not str or not name:
            raise TypeError(
                f"plugin {plugin!r} registered an initializer under {name!r}; "
                "names must be non-empty strings."
            )
        if not callable(factory):
            raise NotCallableError(
                f"plugin {plugin!r} registered initializer {name!r} with a "
                f"{type(factory).__name__}, not a callable factory. Register "
                "a function factory(**kwargs) -> (key, shape, dtype) -> Array."
            )
        other = staged.get(name) or self._entries.get(name)
        if other is not None:
            raise DuplicateInitializerError(
                f"initializer {name!r} is registered twice: by plugin "
                f"{other.plugin!r} ({other.distribution or 'not installed from a distribution'}) "
                f"and by plugin {plugin!r} ({dist or 'not installed from a distribution'}). "
                "Uninstall one of them, or rename the initializer in one plugin."
            )
        staged[name] = InitializerInfo(name, factory, plugin, dist)

    # -- lookup ----------------------------------------------------------
    def get_initializer(self, name: str, **kwargs: Any) -> Initializer:
        """Returns the initializer registered as ``name``, configured by ``kwargs``.

        Examples:
          >>> init = get_initializer("constant", value=3.0)
          >>> init(jax.random.key(0), (2,), jnp.float32)
          Array([3., 3.], dtype=float32)
        """
        if not kwargs and name == DEFAULT_INITIALIZER and self._default is not None:
            return self._default
        self.load_plugins()
        info = self._entries.get(name)
        if info is None:
            raise self._unknown(name)
        init = info.factory(**kwargs)
        if not callable(init):
            raise NotCallableError(
                f"initializer factory {name!r} of plugin {info.plugin!r} returned "
                f"a {type(init).__name__}, not an initializer; it must return a "
                "(key, shape, dtype) -> Array function."
            )
        if not kwargs and name == DEFAULT_INITIALIZER:
            self._default = init
        return init

    def _unknown(self, name: str) -> UnknownInitializerError:
        known = ", ".join(sorted(self._entries)) or "none"
        hint = ""
        if name == DEFAULT_INITIALIZER:
            hint = (
                f" {name!r} is the default initializer (used when init=None); "
                f"it is provided by the {BUILTIN_DISTRIBUTION} package: pip "
                f"install {BUILTIN_DISTRIBUTION}, or pass init= a callable such "
                "as jax.nn.initializers.normal(1.0)."
            )
        elif not self._entries:
            hint = f" The built-in initializers come with {BUILTIN_DISTRIBUTION}."
        if _env_flag(AUTOLOAD_ENV):
            hint += f" Plugin autoload is off ({AUTOLOAD_ENV} is set)."
        for failure in self._failures:
            hint += f" Note: {failure.describe()}."
        return UnknownInitializerError(
            f"no initializer named {name!r} is registered (known: {known}).{hint}"
        )

    def list_initializers(self) -> Mapping[str, InitializerInfo]:
        """Every registered initializer name with the plugin and distribution behind it.

        Examples:
          >>> list_initializers()["normal"].distribution
          'minihaiku-initializers'
        """
        self.load_plugins()
        with self._lock:
            return dict(sorted(self._entries.items()))

    def failed_plugins(self) -> list[PluginFailure]:
        """The plugins that failed to load, with their errors."""
        self.load_plugins()
        with self._lock:
            return list(self._failures)


#: The registry shared by the whole process.
registry = Registry()
load_plugins = registry.load_plugins
register_plugin = registry.register_plugin
get_initializer = registry.get_initializer
list_initializers = registry.list_initializers
failed_plugins = registry.failed_plugins
