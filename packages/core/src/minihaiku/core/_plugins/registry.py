"""The :class:`Registry`: initializer factories by name, filled by pluggy plugins.

Registration and lookup; ``loading.py`` finds the installed plugins (and the
load order), ``checks.py`` says what a registration must satisfy. A plugin
that registers a name already taken is the one reported and skipped (all of
its initializers).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pluggy

from minihaiku.core._errors import (
    InvalidArgumentTypeError,
    NotCallableError,
    PluginLoadError,
)
from minihaiku.core._plugins.checks import check_hooks, duplicate_error, unknown_error
from minihaiku.core._plugins.contract import (
    DEFAULT_INITIALIZER,
    Initializer,
    InitializerFactory,
    InitializerInfo,
    Spec,
)
from minihaiku.core._plugins.loading import (
    NO_DIST,
    PluginFailure,
    autoload_disabled,
    is_builtin,
    load_entry_points,
    strict_mode,
)
from minihaiku.core._plugins.report import PluginStatus, RegistryReport

__all__ = ["Registry"]


class Registry:
    """Initializer factories by name, filled by pluggy plugins.

    Most code uses the module-level functions, which act on the process
    registry :data:`registry`; a separate ``Registry`` is useful in tests:
    what is registered in it is not seen elsewhere.

    Examples:
      >>> from minihaiku.core import Registry, hookimpl
      >>> class Sevens:
      ...   @hookimpl
      ...   def minihaiku_register_initializers(self, register):
      ...     register("sevens", lambda: lambda key, shape, dtype: jnp.full(shape, 7, dtype))
      >>> reg = Registry()
      >>> reg.register_plugin(Sevens(), name="sevens-plugin")
      'sevens-plugin'
      >>> reg.get_initializer("sevens")(jax.random.key(0), (2,), jnp.float32)
      Array([7., 7.], dtype=float32)
      >>> reg.list_initializers()["sevens"].plugin, reg.list_initializers()["he_normal"].plugin
      ('sevens-plugin', 'builtin')
      >>> "sevens" in Registry().list_initializers()
      False
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._pm = pluggy.PluginManager("minihaiku")
        self._pm.add_hookspecs(Spec)
        self._entries: dict[str, InitializerInfo] = {}
        self._failures: list[PluginFailure] = []
        self._plugins: list[PluginStatus] = []
        # True once loading finished (or was skipped); read without the lock.
        self._autoloaded = False
        # True while this registry's lock holder loads plugins (re-entrant calls
        # from a plugin being loaded see what is loaded so far).
        self._loading = False
        self._default: Initializer | None = None

    # -- loading ---------------------------------------------------------
    def load_plugins(self, *, strict: bool | None = None) -> None:
        """Loads plugins from the ``minihaiku.initializers`` entry points.

        Runs once; later calls do nothing. Does nothing when the environment
        variable ``MINIHAIKU_DISABLE_PLUGIN_AUTOLOAD`` is set. Order: the
        built-ins (``minihaiku-initializers``) first, then the others by
        distribution name and entry-point name.

        Args:
          strict: raise :class:`PluginLoadError` on the first plugin that
            fails, instead of warning and going on; nothing stays loaded
            then, so a later call starts again. Defaults to the
            ``MINIHAIKU_STRICT_PLUGINS`` environment variable.

        Examples:
          >>> from minihaiku.core import Registry
          >>> reg = Registry()
          >>> reg.load_plugins()
          >>> reg.registry_report().plugins[0].distribution
          'minihaiku-initializers'
        """
        if self._autoloaded:
            return
        with self._lock:
            if self._autoloaded or self._loading:
                return
            if autoload_disabled():
                self._autoloaded = True
                return
            self._loading = True
            try:
                self._load_entry_points(strict_mode(strict))
            finally:
                self._loading = False

    def _load_entry_points(self, strict: bool) -> None:
        saved = (dict(self._entries), list(self._failures), list(self._plugins))
        added: list[object] = []

        def register(
            plugin: object, name: str, dist: str | None, version: str | None, value: str
        ) -> str:
            plugin_name = self._register(plugin, name, dist, version, value)
            added.append(plugin)
            return plugin_name

        def record_failure(failure: PluginFailure, status: PluginStatus) -> None:
            self._failures.append(failure)
            self._plugins.append(status)

        try:
            load_entry_points(register, record_failure, strict=strict)
        except PluginLoadError:
            for p in added:
                self._pm.unregister(p)
            self._entries, self._failures, self._plugins = saved
            self._default = None
            raise
        self._autoloaded = True

    def register_plugin(self, plugin: object, name: str | None = None) -> str:
        """Registers a plugin object (a module or any object with hookimpls).

        Installed plugins are loaded first, so a plugin registered by hand
        cannot replace their names.

        Args:
          plugin: the object carrying ``minihaiku_register_initializers``.
          name: the plugin's name in listings; defaults to pluggy's.

        Returns:
          The name the plugin is registered under.

        Raises:
          DuplicateInitializerError: it registers a name that is taken.
          PluginLoadError: it has no minihaiku hook, a misspelled one, or its
            name is taken by another plugin.

        Examples:
          >>> from minihaiku.core import Registry, hookimpl
          >>> class Plugin:
          ...   @hookimpl
          ...   def minihaiku_register_initializers(self, register):
          ...     register("twos", lambda: lambda k, s, d: jnp.full(s, 2, d))
          >>> Registry().register_plugin(Plugin(), name="twos-plugin")
          'twos-plugin'
        """
        self.load_plugins()
        with self._lock:
            return self._register(plugin, name, None, None, None)

    def _register(
        self,
        plugin: object,
        name: str | None,
        dist: str | None,
        version: str | None,
        value: str | None,
    ) -> str:
        if name is not None and self._pm.has_plugin(name):
            other = next((p for p in self._plugins if p.name == name), None)
            owner = (other.distribution if other else None) or NO_DIST
            raise PluginLoadError(
                f"a plugin named {name!r} ({owner}) is already registered; "
                "give this plugin another name."
            )
        try:
            plugin_name = self._pm.register(plugin, name=name)
        except BaseException:
            if self._pm.is_registered(plugin):  # pragma: no cover - older pluggy
                self._pm.unregister(plugin)
            raise
        if plugin_name is None:  # pragma: no cover - pluggy blocked it
            raise PluginLoadError(f"plugin {name!r} is blocked")
        staged: dict[str, InitializerInfo] = {}
        try:
            impls = check_hooks(self._pm, plugin, plugin_name)

            def register(init_name: str, factory: InitializerFactory) -> None:
                self._stage(staged, init_name, factory, plugin_name, dist, version)

            for impl in impls:
                impl.function(register=register)
        except BaseException:
            self._pm.unregister(plugin)
            raise
        self._entries.update(staged)
        builtin = is_builtin(dist)
        self._plugins.append(
            PluginStatus(plugin_name, value, dist, version, builtin, tuple(staged))
        )
        self._default = None
        return plugin_name

    def _stage(
        self,
        staged: dict[str, InitializerInfo],
        name: str,
        factory: InitializerFactory,
        plugin: str,
        dist: str | None,
        version: str | None,
    ) -> None:
        if type(name) is not str or not name:
            raise InvalidArgumentTypeError(
                f"plugin {plugin!r} registered an initializer under {name!r}; "
                "names must be non-empty strings: call register('my_init', factory)."
            )
        if not callable(factory):
            raise NotCallableError(
                f"plugin {plugin!r} registered initializer {name!r} with a "
                f"{type(factory).__name__}, not a callable factory. Register "
                "a function factory(**kwargs) -> (key, shape, dtype) -> Array."
            )
        other = staged.get(name) or self._entries.get(name)
        if other is not None:
            raise duplicate_error(name, other, plugin, dist)
        staged[name] = InitializerInfo(name, factory, plugin, dist, version)

    # -- lookup ----------------------------------------------------------
    def get_initializer(self, name: str, **kwargs: Any) -> Initializer:
        """Returns the initializer registered as ``name``, configured by ``kwargs``.

        Examples:
          >>> from minihaiku.core import Registry
          >>> init = Registry().get_initializer("constant", value=3.0)
          >>> init(jax.random.key(0), (2,), jnp.float32)
          Array([3., 3.], dtype=float32)
        """
        if not kwargs and name == DEFAULT_INITIALIZER and self._default is not None:
            return self._default
        self.load_plugins()
        info = self._entries.get(name)
        if info is None:
            raise unknown_error(name, self._entries, self._failures)
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

    def cached_default(self) -> Initializer | None:
        """The default initializer if it is ready, else ``None`` (no plugin loading).

        Examples:
          >>> from minihaiku.core import Registry
          >>> r = Registry()
          >>> r.cached_default() is None
          True
          >>> init = r.get_initializer("normal")
          >>> r.cached_default() is init
          True
        """
        return self._default

    def list_initializers(self) -> Mapping[str, InitializerInfo]:
        """Every registered initializer name with the plugin and distribution behind it.

        Examples:
          >>> from minihaiku.core import Registry
          >>> Registry().list_initializers()["normal"].distribution
          'minihaiku-initializers'
        """
        self.load_plugins()
        with self._lock:
            return dict(sorted(self._entries.items()))

    def failed_plugins(self) -> list[PluginFailure]:
        """The plugins that failed to load, with their errors.

        Examples:
          >>> from minihaiku.core import Registry
          >>> [f.entry_point for f in Registry().failed_plugins()]  # doctest: +SKIP
          ['broken']
        """
        self.load_plugins()
        with self._lock:
            return list(self._failures)

    def registry_report(self) -> RegistryReport:
        """Initializers, plugins in load order (failed ones too), autoload and strict mode.

        Examples:
          >>> from minihaiku.core import Registry
          >>> report = Registry().registry_report()
          >>> report.plugins[0].name, report.plugins[0].builtin
          ('builtin', True)
        """
        self.load_plugins()
        with self._lock:
            return RegistryReport(
                initializers=tuple(info for _, info in sorted(self._entries.items())),
                plugins=tuple(self._plugins),
                autoload=not autoload_disabled(),
                strict=strict_mode(),
            )
