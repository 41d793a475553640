"""What a registration must satisfy: the plugin's hooks, unique names; the lookup error."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

import pluggy

from minihaiku.core._errors import (
    DuplicateInitializerError,
    PluginLoadError,
    UnknownInitializerError,
)
from minihaiku.core._plugins.contract import (
    AUTOLOAD_ENV,
    BUILTIN_DISTRIBUTION,
    DEFAULT_INITIALIZER,
    HOOK_NAME,
    InitializerInfo,
)
from minihaiku.core._plugins.loading import NO_DIST, PluginFailure, env_flag, is_builtin

__all__ = ["check_hooks", "duplicate_error", "unknown_error"]


def check_hooks(pm: pluggy.PluginManager, plugin: object, name: str) -> list[pluggy.HookImpl]:
    """The plugin's hookimpls; an error for unknown hooks or none at all."""
    for caller in pm.get_hookcallers(plugin) or []:
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
    hook = pm.hook.minihaiku_register_initializers
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


def duplicate_error(
    name: str, other: InitializerInfo, plugin: str, dist: str | None
) -> DuplicateInitializerError:
    """Initializer ``name`` of ``other`` is registered again by ``plugin`` of ``dist``."""
    both = (
        f"initializer {name!r} is registered twice: by plugin "
        f"{other.plugin!r} ({other.distribution or NO_DIST}) "
        f"and by plugin {plugin!r} ({dist or NO_DIST}). "
    )
    if is_builtin(other.distribution):
        fix = f"Built-in names cannot be replaced: rename the initializer in plugin {plugin!r}."
    else:
        fix = "Uninstall one of them, or rename the initializer in one plugin."
    return DuplicateInitializerError(both + fix)


def unknown_error(
    name: str, known_names: Iterable[str], failures: Sequence[PluginFailure]
) -> UnknownInitializerError:
    """No initializer ``name``: lists the known names, says who provides the default."""
    names = sorted(known_names)
    known = ", ".join(names) or "none"
    hint = ""
    if name == DEFAULT_INITIALIZER:
        hint = (
            f" {name!r} is the default initializer (used when init=None); "
            f"it is provided by the {BUILTIN_DISTRIBUTION} package: pip "
            f"install {BUILTIN_DISTRIBUTION}, or pass init= a callable such "
            "as jax.nn.initializers.normal(1.0)."
        )
    elif not names:
        hint = f" The built-in initializers come with {BUILTIN_DISTRIBUTION}."
    if env_flag(AUTOLOAD_ENV):
        hint += f" Plugin autoload is off ({AUTOLOAD_ENV} is set)."
    for failure in failures:
        hint += f" Note: {failure.describe()}."
    return UnknownInitializerError(
        f"no initializer named {name!r} is registered (known: {known}).{hint}"
    )
