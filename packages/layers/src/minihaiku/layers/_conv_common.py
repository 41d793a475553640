"""Layouts, padding and axis names of the convolutions (``ConvBase`` holds the rest)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
from jax import lax

from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError
from minihaiku.core.checks import prefix
from minihaiku.layers import pad as pad_lib
from minihaiku.layers._checks import replicate

__all__ = [
    "PADDING_STRINGS",
    "Padding",
    "conv_axes",
    "padding_pairs",
    "padding_string",
    "resolve_padding",
    "to_dimension_numbers",
]

Padding: TypeAlias = str | Sequence[tuple[int, int]] | pad_lib.PadFn | Sequence[pad_lib.PadFn]
PADDING_STRINGS = ("SAME", "VALID", "SAME_LOWER")


def to_dimension_numbers(
    num_spatial_dims: int, channels_last: bool, transpose: bool
) -> lax.ConvDimensionNumbers:
    """The ``lax.ConvDimensionNumbers`` of dm-haiku's convolutions."""
    num_dims = num_spatial_dims + 2
    if channels_last:
        image = (0, num_dims - 1, *range(1, num_dims - 1))
    else:
        image = (0, 1, *range(2, num_dims))
    if transpose:
        kernel = (num_dims - 2, num_dims - 1, *range(num_dims - 2))
    else:
        kernel = (num_dims - 1, num_dims - 2, *range(num_dims - 2))
    return lax.ConvDimensionNumbers(lhs_spec=image, rhs_spec=kernel, out_spec=image)


def padding_string(value: str, name: str, where: str) -> str:
    """``value`` upper-cased, if it is one that ``lax`` knows."""
    padding = value
    upper = padding.upper()
    if upper not in PADDING_STRINGS:
        raise InvalidArgumentError(
            f"{prefix(where)}unknown {name} {padding!r}. Pass 'SAME' or 'VALID', a sequence "
            "of (low, high) pairs, or a padding function such as "
            "minihaiku.layers.pad.causal."
        )
    return upper


def padding_pairs(value: Any, name: str, where: str, *, n: int) -> tuple[tuple[int, int], ...]:
    """``n`` ``(low, high)`` int pairs from one pair or a sequence of 1 or ``n``."""
    if isinstance(value, Sequence) and len(value) == 2 and isinstance(value[0], (int, np.integer)):
        value = [value]
    pairs = replicate(value, name, where, n=n)
    for pair in pairs:
        if (
            isinstance(pair, str)
            or not isinstance(pair, Sequence)
            or len(pair) != 2
            or not all(isinstance(p, (int, np.integer)) for p in pair)
        ):
            raise InvalidArgumentTypeError(
                f"{prefix(where)}{name} must be a string, a padding function or (low, high) "
                f"int pairs, got {value!r:.80}. Pass e.g. {name}=[(1, 1)] * {n}."
            )
    return tuple((int(lo), int(hi)) for lo, hi in pairs)


def resolve_padding(
    padding: Any, kernel: tuple[int, ...], rate: tuple[int, ...], where: str
) -> str | tuple[tuple[int, int], ...]:
    """A conv's ``padding`` argument as a ``lax`` padding string or pairs."""
    n = len(kernel)
    if isinstance(padding, str):
        return padding_string(padding, "padding", where)
    if pad_lib.is_padfn(padding):
        fns = replicate(padding, "padding", where, n=n)
        if not all(callable(fn) for fn in fns):
            raise InvalidArgumentTypeError(
                f"{where}: padding mixes padding functions and other values: "
                f"{padding!r:.80}. Pass one function, or one per spatial dimension."
            )
        pairs = [fn((k - 1) * r + 1) for fn, k, r in zip(fns, kernel, rate, strict=True)]
        return padding_pairs(pairs, "padding", where, n=n)
    return padding_pairs(padding, "padding", where, n=n)


def conv_axes(
    axes: tuple[str | None, str | None] | None, n: int, channel_index: int, transpose: bool
) -> tuple[tuple[str | None, ...] | None, tuple[str | None, ...] | None]:
    """The annotations of ``w`` and ``b`` from a layer's (input, output) channel names.

    ``w`` is ``(*kernel, in, out)`` (``(*kernel, out, in)`` when ``transpose``),
    its spatial axes unnamed; ``b`` is ``(out,)``, or ``(out, 1, ...)`` with
    channels first.
    """
    if axes is None:
        return None, None
    channels = (axes[1], axes[0]) if transpose else axes
    b_rank = 1 + (n if channel_index == 1 else 0)
    return (None,) * n + channels, (axes[1],) + (None,) * (b_rank - 1)
