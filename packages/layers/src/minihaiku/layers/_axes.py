"""The logical axis names the layers give their parameters by default (sharding).

Every layer annotates its parameters (``get_param(..., axes=...)``) so that
one rules table (``minihaiku.core.axis_rules``) shards a whole model; each
layer takes a keyword-only ``axes=`` to override its names per instance, and
``axes=None`` leaves its parameters unannotated (replicated). The names, and
a transformer rules table that uses them, are in docs/sharding.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from minihaiku.core import InvalidArgumentTypeError
from minihaiku.core.checks import prefix

__all__ = [
    "CONV_AXES",
    "EMBED_AXES",
    "LINEAR_AXES",
    "NORM_AXIS",
    "ATTENTION_AXES",
    "Pair",
    "check_axis_name",
    "check_axis_pair",
    "one_axis",
    "swap",
]

#: (input features, output features) of a weight, or None (unannotated).
Pair = tuple[str | None, str | None] | None

LINEAR_AXES: Pair = ("embed", "mlp")
EMBED_AXES: Pair = ("vocab", "embed")
ATTENTION_AXES: Pair = ("embed", "heads")
CONV_AXES: Pair = ("conv_in", "conv_out")
#: The feature axis of LayerNorm/RMSNorm parameters (BatchNorm/GroupNorm: ``"conv_out"``).
NORM_AXIS = "embed"


def check_axis_pair(value: Any, name: str, where: str) -> Pair:
    """``value`` as an (input, output) pair of logical axis names, or None; else raises.

    Examples:
      >>> check_axis_pair(["embed", None], "axes", "Linear ~/Linear_0")
      ('embed', None)
    """
    axes = value
    if axes is None:
        return None
    if type(axes) is tuple and len(axes) == 2:  # the usual case, without the ABC checks
        first, second = axes
        if (first is None or type(first) is str) and (second is None or type(second) is str):
            return axes
    if (
        isinstance(axes, Sequence)
        and not isinstance(axes, str)
        and len(axes) == 2
        and all(a is None or isinstance(a, str) for a in axes)
    ):
        return (axes[0], axes[1])
    raise InvalidArgumentTypeError(
        f"{prefix(where)}{name} must be a pair (input name, output name) of logical axis "
        f"names (str or None), or None for no annotation, got "
        f"{type(axes).__name__} {axes!r:.60}. Example: {name}=('embed', 'mlp')."
    )


def check_axis_name(value: Any, name: str, where: str) -> str | None:
    """``value`` if it is one logical axis name (str) or None; else raises.

    Not core's ``check_name`` (a module or parameter name): this one checks the
    logical axis name of a parameter's feature axis, used by sharding rules.

    Examples:
      >>> check_axis_name("embed", "axes", "LayerNorm ~/LayerNorm_0")
      'embed'
    """
    axis = value
    if axis is None or isinstance(axis, str):
        return axis
    raise InvalidArgumentTypeError(
        f"{prefix(where)}{name} must be one logical axis name (str) for the feature axis of "
        f"the parameters, or None for no annotation, got {type(axis).__name__} "
        f"{axis!r:.60}. Example: {name}='embed'."
    )


def swap(pair: Pair) -> Pair:
    """``(b, a)`` for ``(a, b)``: the names of a layer mapping back."""
    return None if pair is None else (pair[1], pair[0])


def one_axis(rank: int, index: int, name: str | None) -> tuple[str | None, ...] | None:
    """An annotation of ``rank`` dimensions naming only ``index`` (None if no name)."""
    if name is None:
        return None
    out: list[str | None] = [None] * rank
    out[index] = name
    return tuple(out)
