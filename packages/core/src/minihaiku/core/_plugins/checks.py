"""Helpers of the registry: load order, hook checks, error messages, environment flags."""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable, Sequence
from importlib.metadata import EntryPoint

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
    PluginFailure,
    normalize_distribution,
)

__all__ = [
    "NO_DIST",
    "check_hooks",
    "dist_of",
    "duplicate_error",
    "env_flag",
    "is_builtin",
    "load_order",
    "unknown_error",
    "user_stacklevel",
]

NO_DIST = "not installed from a distribution"


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
