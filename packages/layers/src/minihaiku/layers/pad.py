"""Padding functions for the convolutions, as dm-haiku's ``hk.pad``.

A padding function takes the *effective* kernel size of one spatial dimension
(``(kernel - 1) * rate + 1``) and returns ``(pad_before, pad_after)``. Pass one
(or one per spatial dimension) as ``padding=`` to ``Conv1D``/``Conv2D``/``Conv3D``.

Examples:
  >>> from minihaiku.layers import pad
  >>> pad.same(3), pad.full(3), pad.causal(3), pad.reverse_causal(3), pad.valid(3)
  ((1, 1), (2, 2), (2, 0), (0, 2), (0, 0))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from minihaiku.layers._checks import replicate

__all__ = [
    "PadFn",
    "causal",
    "create",
    "create_from_padfn",
    "create_from_tuple",
    "full",
    "is_padfn",
    "reverse_causal",
    "same",
    "valid",
]

PadFn = Callable[[int], tuple[int, int]]


def valid(effective_kernel_size: int) -> tuple[int, int]:
    """No padding.

    Examples:
      >>> valid(5)
      (0, 0)
    """
    del effective_kernel_size
    return (0, 0)


def same(effective_kernel_size: int) -> tuple[int, int]:
    """Pads so that the output size is the input size at stride 1.

    Examples:
      >>> same(4)
      (1, 2)
    """
    return ((effective_kernel_size - 1) // 2, effective_kernel_size // 2)


def full(effective_kernel_size: int) -> tuple[int, int]:
    """Maximal padding whilst not convolving over padding alone.

    Examples:
      >>> full(3)
      (2, 2)
    """
    return (effective_kernel_size - 1, effective_kernel_size - 1)


def causal(effective_kernel_size: int) -> tuple[int, int]:
    """Pads before only, so that no output depends on later inputs.

    Examples:
      >>> causal(3)
      (2, 0)
    """
    return (effective_kernel_size - 1, 0)


def reverse_causal(effective_kernel_size: int) -> tuple[int, int]:
    """Pads after only, so that no output depends on earlier inputs.

    Examples:
      >>> reverse_causal(3)
      (0, 2)
    """
    return (0, effective_kernel_size - 1)


def create_from_padfn(
    padding: PadFn | Sequence[PadFn],
    kernel: int | Sequence[int],
    rate: int | Sequence[int],
    n: int,
) -> tuple[tuple[int, int], ...]:
    """The ``(before, after)`` padding of each of ``n`` spatial dimensions.

    Args:
      padding: a padding function, or a sequence of 1 or ``n`` of them.
      kernel: the kernel size: an int or a sequence of 1 or ``n`` ints.
      rate: the dilation rate: an int or a sequence of 1 or ``n`` ints.
      n: the number of spatial dimensions.

    Returns:
      ``n`` pairs ``(pad_before, pad_after)``.

    Examples:
      >>> create_from_padfn(same, kernel=3, rate=(1, 2), n=2)
      ((1, 1), (2, 2))
    """
    where = "pad.create_from_padfn"
    kernels = replicate(kernel, "kernel", where, n=n)
    rates = replicate(rate, "rate", where, n=n)
    fns = replicate(padding, "padding", where, n=n)
    pairs = (fn((k - 1) * r + 1) for fn, k, r in zip(fns, kernels, rates, strict=True))
    return tuple((int(lo), int(hi)) for lo, hi in pairs)


def create_from_tuple(
    padding: tuple[int, int] | Sequence[tuple[int, int]], n: int
) -> tuple[tuple[int, int], ...]:
    """``n`` padding pairs from one pair, or from a sequence of 1 or ``n`` pairs.

    Examples:
      >>> create_from_tuple((1, 2), 2)
      ((1, 2), (1, 2))
      >>> create_from_tuple([(0, 1), (2, 3)], 2)
      ((0, 1), (2, 3))
    """
    if isinstance(padding, Sequence) and padding and isinstance(padding[0], int):
        return (tuple(padding),) * n  # type: ignore[return-value]
    pairs = replicate(padding, "padding", "pad.create_from_tuple", n=n)
    return tuple(tuple(p) for p in pairs)


def is_padfn(padding: Any) -> bool:
    """Whether ``padding`` is a padding function or a sequence of them.

    Examples:
      >>> is_padfn(same), is_padfn([same, causal]), is_padfn("SAME"), is_padfn([(1, 1)])
      (True, True, False, False)
    """
    if isinstance(padding, str):
        return False
    if isinstance(padding, Sequence):
        if not padding:
            return False
        padding = padding[0]
    return callable(padding)


#: dm-haiku's other name of :func:`create_from_padfn` (``hk.pad.create``).
create = create_from_padfn
