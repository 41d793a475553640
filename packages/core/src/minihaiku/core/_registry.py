"""The initializer registry: plugin loading and lookup.

Plugins are modules (or objects) with a ``minihaiku_register_initializers``
hook implementation. Installed plugins are found through the entry-point
group ``minihaiku.initializers`` the first time an initializer is looked up.

Load order (never depends on entry-point names alone): the entry points of
``minihaiku-initializers`` first, so that built-in names can never be
replaced; then every other entry point sorted by normalized distribution
name, then entry-point name. A plugin that registers a name already taken is
the one reported and skipped (all of its initializers).
"""

from __future__ import annotations

import difflib
import os
import sys
import threading
import warnings
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from minihaiku.core._errors import (
    DuplicateInitializerError,
    NotCallableError,
    PluginLoadError,
    PluginLoadWarning,
    UnknownInitializerError,
)
from minihaiku.core._registry_types import (
    AUTOLOAD_ENV,
    BUILTIN_DISTRIBUTION,
    DEFAULT_INITIALIZER,
    ENTRY_POINT_GROUP,
    HOOK_NAME,
    STRICT_ENV,
    Initializer,
    InitializerFactory,
    InitializerInfo,
    PluginFailure,
    PluginStatus,
    RegistryReport,
    Spec,
    hookimpl,
    hookspec,
    normalize_distribution,
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

_NO_DIST = "not installed from a distribution"


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


def _dist_of(ep: EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def _load_order(eps: list[EntryPoint]) -> list[EntryPoint]:
    """Built-ins first, then by normalized distribution name and entry-point name."""

    def key(ep: EntryPoint) -> tuple[bool, str, str, str]:
        dist = normalize_distribution(_dist_of(ep)[0] or "")
        return (dist != BUILTIN_DISTRIBUTION, dist, ep.name, ep.value)

    return sorted(eps, key=key)


class Registry:
    """Initializer factories by name, filled by pluggy plugins.

    Most code uses the module-level functions, which act on the process
    registry :data:`registry`; a separate ``Registry`` is useful in tests.

    Examples:
      >>> from minihaiku.core import Registry
      >>> reg = Registry()
      >>> reg.list_initializers()["he_normal"].plugin
      'builtin'
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
            if _env_flag(AUTOLOAD_ENV):
                self._autoloaded = True
                return
            if strict is None:
                strict = _env_flag(STRICT_ENV)
            self._loading = True
            try:
                self._load_entry_points(strict)
            finally:
                self._loading = False

    def _load_entry_points(self, strict: bool) -> None:
        saved = (dict(self._entries), list(self._failures), list(self._plugins))
        added: list[object] = []
        for ep in _load_order(list(entry_points(group=ENTRY_POINT_GROUP))):
            dist, version = _dist_of(ep)
            builtin = dist is not None and normalize_distribution(dist) == BUILTIN_DISTRIBUTION
            try:
                plugin = ep.load()
                self._register(plugin, ep.name, dist, version, ep.value)
                added.append(plugin)
            except Exception as e:
                failure = PluginFailure(ep.name, ep.value, dist, e)
                if strict:
                    for p in added:
                        self._pm.unregister(p)
                    self._entries, self._failures, self._plugins = saved
                    self._default = None
                    raise PluginLoadError(
                        failure.describe() + f". {STRICT_ENV} is set: unset it "
                        "to skip broken plugins, or fix or uninstall "
                        f"{dist or 'the plugin'}."
                    ) from e
                self._failures.append(failure)
                error = f"{type(e).__name__}: {str(e).rstrip('.')}"
                self._plugins.append(
                    PluginStatus(ep.name, ep.value, dist, version, builtin, (), error)
                )
                warnings.warn(
                    failure.describe() + "; its initializers are not "
                    "available, the other plugins keep working.",
                    PluginLoadWarning,
                    stacklevel=_user_stacklevel(),
                )
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
            owner = (other.distribution if other else None) or _NO_DIST
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
            impls = self._check_hooks(plugin, plugin_name)

            def register(init_name: str, factory: InitializerFactory) -> None:
                self._stage(staged, init_name, factory, plugin_name, dist, version)

            for impl in impls:
                impl.function(register=register)
        except BaseException:
            self._pm.unregister(plugin)
            raise
        self._entries.update(staged)
        builtin = dist is not None and normalize_distribution(dist) == BUILTIN_DISTRIBUTION
        self._plugins.append(
            PluginStatus(plugin_name, value, dist, version, builtin, tuple(staged))
        )
        self._default = None
        return plugin_name

    def _check_hooks(self, plugin: object, name: str) -> list[pluggy.HookImpl]:
        """The plugin's hookimpls; an error for unknown hooks or none at all."""
        for caller in self._pm.get_hookcallers(plugin) or []:
            if caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and not impl.optionalhook:
                    close = difflib.get_close_matches(caller.name, [HOOK_NAME], n=1)
                    hint = f"did you mean {HOOK_NAME!r}? " if close else ""
                    raise PluginLoadError(
                        f"plugin {name!r} implements the hook {caller.name!r}, which "
                        f"minihaiku does not define; {hint}The only minihaiku hook "
                        f"is {HOOK_NAME}(register)."
                    )
        hook = self._pm.hook.minihaiku_register_initializers
        impls = [i for i in hook.get_hookimpls() if i.plugin is plugin]
        if not impls:
            undecorated = callable(getattr(plugin, HOOK_NAME, None))
            why = (
                f"its {HOOK_NAME} is not decorated with @minihaiku.core.hookimpl"
                if undecorated
                else f"it has no {HOOK_NAME} hook"
            )
            raise PluginLoadError(
                f"plugin {name!r} registers no initializers: {why}. Define "
                f"@hookimpl def {HOOK_NAME}(register) in it "
                "(from minihaiku.core import hookimpl)."
            )
        return impls

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
            both = (
                f"initializer {name!r} is registered twice: by plugin "
                f"{other.plugin!r} ({other.distribution or _NO_DIST}) "
                f"and by plugin {plugin!r} ({dist or _NO_DIST}). "
            )
            if other.distribution is not None and (
                normalize_distribution(other.distribution) == BUILTIN_DISTRIBUTION
            ):
                fix = (
                    f"Built-in names cannot be replaced: rename the initializer in "
                    f"plugin {plugin!r}."
                )
            else:
                fix = "Uninstall one of them, or rename the initializer in one plugin."
            raise DuplicateInitializerError(both + fix)
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
                autoload=not _env_flag(AUTOLOAD_ENV),
                strict=_env_flag(STRICT_ENV),
            )


#: The registry shared by the whole process.
registry = Registry()


def load_plugins(*, strict: bool | None = None) -> None:
    """Loads the installed initializer plugins into the process registry.

    Lookups do this by themselves the first time; call it early to choose
    ``strict`` or to see load warnings at a known point. See
    :meth:`Registry.load_plugins`.

    Examples:
      >>> from minihaiku.core import load_plugins
      >>> load_plugins()
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
        init = registry._default
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

    Examples:
      >>> from minihaiku.core import failed_plugins
      >>> all(f.describe().startswith("initializer plugin") for f in failed_plugins())
      True
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
