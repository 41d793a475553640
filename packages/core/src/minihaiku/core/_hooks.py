"""The kernel's extension points for creating parameters and state.

``get_param``/``get_state``/``set_state`` know nothing of mixed precision or
sharding: those subsystems register here when ``minihaiku.core`` is imported.
The kernel calls the hooks only off its fast path: ``stored_dtype`` when a
parameter is created (or mismatches) under parameter interceptors, and
``record_axes`` when an entry with ``axes=`` is created.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minihaiku.core._frame import Frame

__all__ = ["HOOKS", "Hooks", "set_axes_hook", "set_custom_hooks", "set_stored_dtype_hook"]


def _same_dtype(interceptors: tuple[Any, ...], dtype: Any) -> Any:
    return dtype


def _no_record(frame: Frame, path: str, shape: tuple[int, ...], axes: Any, kind: str) -> None:
    return None


def _no_custom(*args: Any) -> Any:  # pragma: no cover - set at import by _custom_run
    raise AssertionError("custom creators/getters/setters are active but not installed")


class Hooks:
    """The registered hooks (one slot each).

    Attributes:
      stored_dtype: ``(param_interceptors, dtype) -> dtype``: the dtype a new
        parameter asked for as ``dtype`` is stored in (precision registers it).
      record_axes: ``(frame, path, shape, axes, kind) -> None``: checks and
        records an ``axes=`` annotation (sharding registers it).
      custom_param, custom_get_state, run_setters: ``get_param``, ``get_state``
        and the setter chain of ``set_state`` while custom creators, getters
        or setters are active (``frame.custom``; ``_custom_run`` registers them).
    """

    __slots__ = ("custom_get_state", "custom_param", "record_axes", "run_setters", "stored_dtype")

    def __init__(self) -> None:
        self.stored_dtype: Callable[[tuple[Any, ...], Any], Any] = _same_dtype
        self.record_axes: Callable[[Frame, str, tuple[int, ...], Any, str], None] = _no_record
        self.custom_param: Callable[..., Any] = _no_custom
        self.custom_get_state: Callable[..., Any] = _no_custom
        self.run_setters: Callable[..., Any] = _no_custom


HOOKS = Hooks()


def set_stored_dtype_hook(hook: Callable[[tuple[Any, ...], Any], Any]) -> None:
    """Registers the function deciding the stored dtype of a new parameter."""
    HOOKS.stored_dtype = hook


def set_axes_hook(hook: Callable[[Frame, str, tuple[int, ...], Any, str], None]) -> None:
    """Registers the function checking and recording ``axes=`` annotations."""
    HOOKS.record_axes = hook


def set_custom_hooks(
    custom_param: Callable[..., Any],
    custom_get_state: Callable[..., Any],
    run_setters: Callable[..., Any],
) -> None:
    """Registers the functions that run custom creators, getters and setters."""
    HOOKS.custom_param = custom_param
    HOOKS.custom_get_state = custom_get_state
    HOOKS.run_setters = run_setters
