"""The pluggy plugin that registers the built-in initializers.

It is found through this distribution's entry point
``[project.entry-points."minihaiku.initializers"] builtin = ...``.
"""

from __future__ import annotations

from collections.abc import Callable

from minihaiku.core import InitializerFactory, hookimpl
from minihaiku.initializers import _inits

__all__ = ["BUILTINS", "minihaiku_register_initializers"]

#: Every built-in name and its factory.
BUILTINS: dict[str, InitializerFactory] = {
    "constant": _inits.constant,
    "zeros": _inits.zeros,
    "ones": _inits.ones,
    "normal": _inits.normal,
    "truncated_normal": _inits.truncated_normal,
    "uniform": _inits.uniform,
    "variance_scaling": _inits.variance_scaling,
    "glorot_normal": _inits.glorot_normal,
    "glorot_uniform": _inits.glorot_uniform,
    "xavier_normal": _inits.glorot_normal,
    "xavier_uniform": _inits.glorot_uniform,
    "he_normal": _inits.he_normal,
    "he_uniform": _inits.he_uniform,
    "kaiming_normal": _inits.he_normal,
    "kaiming_uniform": _inits.he_uniform,
    "lecun_normal": _inits.lecun_normal,
    "lecun_uniform": _inits.lecun_uniform,
    "orthogonal": _inits.orthogonal,
}


@hookimpl
def minihaiku_register_initializers(
    register: Callable[[str, InitializerFactory], None],
) -> None:
    """Registers every entry of :data:`BUILTINS`."""
    for name, factory in BUILTINS.items():
        register(name, factory)
