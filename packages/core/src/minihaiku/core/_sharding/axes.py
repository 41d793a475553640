"""Logical axis annotations (``get_param(..., axes=...)``): checking and recording them.

An annotation names each dimension of a parameter or state entry with a
logical axis name (a ``str``) or ``None``. ``init`` checks it against the
shape (only when ``axes`` is given, so unannotated parameters cost nothing);
it is recorded only while :func:`recording` is active, which
:func:`~minihaiku.core.param_axes` and the sharded init helpers do around an
abstract (``eval_shape``) trace of ``init``. ``apply`` never looks at it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from minihaiku.core._errors import InvalidArgumentTypeError, ShardingError
from minihaiku.core._frame import Frame
from minihaiku.core._hooks import set_axes_hook

__all__ = ["STACKED_AXIS", "Axes", "AxesRecord", "record_axes", "recording"]

#: What one parameter's annotation is: a logical name or ``None`` per dimension.
Axes = tuple[str | None, ...]

#: The logical name of the leading axis that ``layer_stack`` (and
#: ``vmap(split_params=True)``) adds to an annotated parameter created inside it.
#: Unless a rule maps it, it is replicated.
STACKED_AXIS = "layers"


class AxesRecord:
    """The annotations seen during one recorded ``init`` trace.

    Attributes:
      params: path -> axes of every annotated parameter (stacked axes included).
      state: path -> axes of every annotated state entry.
    """

    __slots__ = ("params", "state")

    def __init__(self) -> None:
        self.params: dict[str, Axes] = {}
        self.state: dict[str, Axes] = {}


_RECORD: contextvars.ContextVar[AxesRecord | None] = contextvars.ContextVar(
    "minihaiku_axes_record", default=None
)


@contextlib.contextmanager
def recording() -> Iterator[AxesRecord]:
    """Records the annotations of the parameters created inside the block.

    Examples:
      >>> from minihaiku.core import get_param, transform
      >>> f = transform(lambda: get_param("w", (2, 3), axes=("embed", None)))
      >>> with recording() as rec:
      ...   _ = jax.eval_shape(f.init, jax.random.PRNGKey(0))
      >>> rec.params
      {'~/w': ('embed', None)}
    """
    record = AxesRecord()
    token = _RECORD.set(record)
    try:
        yield record
    finally:
        _RECORD.reset(token)


def check_axes(axes: Any, path: str, kind: str, shape: tuple[int, ...]) -> Axes:
    """``axes`` as a tuple, after checking it is one name (or None) per dimension."""
    if type(axes) is tuple and len(axes) == len(shape):  # the common case, checked fast
        for a in axes:
            if a is not None and type(a) is not str:
                break
        else:
            return axes
    if isinstance(axes, str) or not isinstance(axes, (tuple, list)):
        hint = f" For a rank-1 {kind} write axes=({axes!r},)." if isinstance(axes, str) else ""
        raise InvalidArgumentTypeError(
            f"axes for {kind} {path!r} must be a tuple with one logical axis name "
            f"(str) or None per dimension, got {type(axes).__name__} {axes!r:.60}.{hint}"
        )
    out = tuple(axes)
    bad = [a for a in out if a is not None and not isinstance(a, str)]
    if bad:
        raise InvalidArgumentTypeError(
            f"axes for {kind} {path!r} must hold logical axis names (str) or None, "
            f"got {type(bad[0]).__name__} {bad[0]!r:.40} in {out!r:.80}. Name each "
            "dimension, e.g. axes=('embed', 'mlp'), or None for a dimension that "
            "is never sharded."
        )
    if len(out) != len(shape):
        raise ShardingError(
            f"{kind} {path!r} has rank {len(shape)} (shape {shape}) but axes={out!r} "
            f"names {len(out)} dimension(s). Give exactly one logical name (or None) "
            "per dimension."
        )
    return out


def record_axes(frame: Frame, path: str, shape: tuple[int, ...], axes: Any, kind: str) -> None:
    """Checks a new entry's annotation and records it when a recording is active.

    Inside ``layer_stack`` the stacked leading axes are named :data:`STACKED_AXIS`.
    """
    checked = check_axes(axes, path, kind, shape)
    record = _RECORD.get()
    if record is None:
        return
    if frame.stacks:
        checked = (STACKED_AXIS,) * len(frame.stacks) + checked
    (record.params if kind == "parameter" else record.state)[path] = checked


set_axes_hook(record_axes)
