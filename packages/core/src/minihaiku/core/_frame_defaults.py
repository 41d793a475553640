"""What every new frame starts with: its parameter interceptors and custom functions.

Empty unless a process-wide switch (``check_jax_usage``) installs checks;
a frame reads these once when it is made, so parameter reads pay nothing.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FRAME_DEFAULTS", "FrameDefaults"]


class FrameDefaults:
    """The initial ``param_interceptors`` and ``custom`` of a new frame."""

    __slots__ = ("custom", "param_interceptors")

    def __init__(self) -> None:
        self.param_interceptors: tuple[Any, ...] = ()
        self.custom: Any = None


FRAME_DEFAULTS = FrameDefaults()
