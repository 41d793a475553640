"""The exceptions minihaiku raises.

Every error derives from :class:`MinihaikuError` and also from the built-in
exception a Python user would catch for that kind of mistake (``ValueError``,
``TypeError``, ``KeyError``, ...). Messages say what was wrong, where (the
parameter path or the module) and what to do instead.
"""

from __future__ import annotations

__all__ = [
    "DuplicateInitializerError",
    "DuplicateNameError",
    "InitializerError",
    "InvalidArgumentError",
    "InvalidArgumentTypeError",
    "InvalidNameError",
    "InvalidParamsError",
    "MinihaikuError",
    "MissingParameterError",
    "MissingStateError",
    "ModuleConstructionError",
    "NotCallableError",
    "NotInTransformError",
    "ParameterDtypeError",
    "ParameterShapeError",
    "PluginLoadError",
    "PluginLoadWarning",
    "RngError",
    "StateNotAllowedError",
    "UnknownInitializerError",
    "UnliftedTransformError",
]


class MinihaikuError(Exception):
    """Base class of every error raised by minihaiku."""


class _MessageKeyError(KeyError):
    """A ``KeyError`` whose ``str()`` is its message, not the message's repr."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NotInTransformError(MinihaikuError, RuntimeError):
    """A minihaiku function that needs a transform was called outside one."""


class MissingParameterError(MinihaikuError, _MessageKeyError):
    """``apply`` read a parameter that the given params do not hold."""


class MissingStateError(MinihaikuError, _MessageKeyError):
    """``apply`` read a state entry that the given state does not hold."""


class ParameterShapeError(MinihaikuError, ValueError):
    """A parameter or state value has another shape than the one asked for."""


class ParameterDtypeError(MinihaikuError, ValueError):
    """A parameter or state value has another dtype than the one asked for."""


class InvalidParamsError(MinihaikuError, TypeError):
    """Params (or state) given to ``apply`` are not a mapping of arrays."""


class InvalidNameError(MinihaikuError, ValueError):
    """A module, parameter or state name is not a usable name."""


class DuplicateNameError(MinihaikuError, ValueError):
    """Two modules were given the same explicit name in one scope."""


class ModuleConstructionError(MinihaikuError, TypeError):
    """A ``Module`` subclass was not constructed correctly."""


class RngError(MinihaikuError, ValueError):
    """A random key was needed but none was given, or the given one is not a key."""


class StateNotAllowedError(MinihaikuError, RuntimeError):
    """State was used inside a function transformed with plain ``transform``."""


class InitializerError(MinihaikuError, ValueError):
    """An initializer was configured wrongly or returned a wrong value."""


class UnknownInitializerError(MinihaikuError, _MessageKeyError):
    """No initializer is registered under the requested name."""


class DuplicateInitializerError(MinihaikuError, ValueError):
    """Two plugins registered an initializer under the same name."""


class NotCallableError(MinihaikuError, TypeError):
    """Something that must be callable is not."""


class PluginLoadError(MinihaikuError, ImportError):
    """An initializer plugin failed to load (raised in strict mode only)."""


class PluginLoadWarning(UserWarning):
    """An initializer plugin failed to load; the other plugins keep working."""


class InvalidArgumentError(MinihaikuError, ValueError):
    """A module or function was given an argument value it cannot use."""


class InvalidArgumentTypeError(InvalidArgumentError, TypeError):
    """A module or function was given an argument of the wrong type."""


class UnliftedTransformError(MinihaikuError, RuntimeError):
    """A raw JAX transform inside a transformed function would leak tracers."""
