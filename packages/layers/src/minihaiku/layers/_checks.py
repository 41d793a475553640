"""Argument checks of the layers that :mod:`minihaiku.core.checks` does not hold.

Every check takes ``(value, name, where, ...)`` as core's do: the value
given, the argument's name, and where it was given (a module's
``module_label``); extra options are keyword-only. A bad argument is an
:class:`~minihaiku.core.InvalidArgumentError` or an
:class:`~minihaiku.core.InvalidArgumentTypeError`.
"""

from __future__ import annotations

import numbers
import operator
import re
from collections.abc import Sequence
from typing import Any

from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError
from minihaiku.core.checks import check_positive_int, prefix

__all__ = [
    "channel_index",
    "check_init_needs_create",
    "check_no_call_arg",
    "check_real",
    "check_size",
    "positive_ints",
    "replicate",
]


def check_size(value: Any, name: str, where: str) -> int:
    """``value`` if it is a positive int (a layer's size), else raises.

    Examples:
      >>> check_size(3, "output_size", "Linear ~/Linear_0")
      3
      >>> check_size(0, "output_size", "Linear ~/Linear_0")
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.InvalidArgumentError: Linear ~/Linear_0: output_size must be a
      positive int, got 0. A layer needs at least one output unit.
    """
    if type(value) is int and value > 0:  # the usual case
        return value
    if isinstance(value, bool):
        raise InvalidArgumentTypeError(
            f"{prefix(where)}{name} must be a positive int, got the bool {value!r}."
        )
    try:
        size = operator.index(value)
    except TypeError:
        raise InvalidArgumentTypeError(
            f"{prefix(where)}{name} must be a positive int, got "
            f"{type(value).__name__} {value!r}. Pass e.g. {name}=128."
        ) from None
    if size <= 0:
        raise InvalidArgumentError(
            f"{prefix(where)}{name} must be a positive int, got {size}. A layer needs "
            "at least one output unit."
        )
    return size


def check_real(value: Any, name: str, where: str, *, example: float = 0.25) -> float:
    """``value`` as a float if it is a real number (not a bool), else raises.

    ``example`` is the value the message suggests.

    Examples:
      >>> check_real(1, "commitment_cost", "VectorQuantizer ~/VectorQuantizer_0")
      1.0
      >>> check_real("high", "commitment_cost", "VectorQuantizer ~/VectorQuantizer_0")
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.InvalidArgumentTypeError: VectorQuantizer ~/VectorQuantizer_0:
      commitment_cost must be a number, got str 'high'. Pass e.g. commitment_cost=0.25.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgumentTypeError(
            f"{prefix(where)}{name} must be a number, got {type(value).__name__} "
            f"{value!r:.40}. Pass e.g. {name}={example!r}."
        )
    return float(value)


def replicate(value: Any, name: str, where: str, *, n: int) -> tuple[Any, ...]:
    """``value`` as an ``n``-tuple: a scalar or a length-1 sequence is repeated.

    As dm-haiku's ``utils.replicate``; any other length is an error naming
    ``name`` and ``where``.

    Examples:
      >>> replicate(3, "kernel_shape", "Conv2D ~/Conv2D_0", n=2)
      (3, 3)
      >>> replicate([1, 2], "stride", "Conv2D ~/Conv2D_0", n=2)
      (1, 2)
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return (value,) * n
    if len(value) == 1:
        return tuple(value) * n
    if len(value) == n:
        return tuple(value)
    raise InvalidArgumentTypeError(
        f"{prefix(where)}{name} must be an int or a sequence of length 1 or {n} (one per "
        f"spatial dimension), got {value!r:.60} of length {len(value)}. Pass e.g. "
        f"{name}={tuple(value[:1]) * n!r}."
    )


def positive_ints(value: Any, name: str, where: str, *, n: int) -> tuple[int, ...]:
    """``replicate`` then core's ``check_positive_int`` on every entry.

    Examples:
      >>> positive_ints(3, "kernel_shape", "Conv3D ~/Conv3D_0", n=3)
      (3, 3, 3)
    """
    return tuple(check_positive_int(v, name, where) for v in replicate(value, name, where, n=n))


_CHANNELS_FIRST = re.compile("^NC[^C]*$")
_CHANNELS_LAST = re.compile("^N[^C]*C$")
_SEQUENTIAL = re.compile("^((BT)|(TB))[^D]*D$")


def channel_index(value: Any, name: str, where: str) -> int:
    """The channel axis (1 or -1) of the data format ``value``, as dm-haiku's ``get_channel_index``.

    Accepts ``"channels_first"``, ``"channels_last"``, spatial formats such as
    ``"NCHW"`` / ``"NHWC"`` and sequential ones such as ``"BTHWD"``.

    Examples:
      >>> channel_index("NCHW", "data_format", "Conv2D ~/Conv2D_0")
      1
      >>> channel_index("channels_last", "data_format", "Conv2D ~/Conv2D_0")
      -1
    """
    if not isinstance(value, str):
        raise InvalidArgumentTypeError(
            f"{prefix(where)}{name} must be a string such as 'channels_last', "
            f"got {type(value).__name__} {value!r:.60}."
        )
    if value == "channels_first" or _CHANNELS_FIRST.match(value):
        return 1
    if value == "channels_last" or _CHANNELS_LAST.match(value) or _SEQUENTIAL.match(value):
        return -1
    raise InvalidArgumentError(
        f"{prefix(where)}unknown {name} {value!r:.60}. Pass a channels-last format "
        "such as 'NHWC' (or 'channels_last') or a channels-first one such as 'NCHW' "
        "(or 'channels_first')."
    )


def check_init_needs_create(value: Any, name: str, where: str, *, create: bool) -> None:
    """Refuses ``<param>_init`` (named ``name``) when the parameter ``<param>`` is not created.

    Examples:
      >>> check_init_needs_create(None, "scale_init", "LayerNorm ~/LayerNorm_0", create=False)
      >>> check_init_needs_create("ones", "scale_init", "LayerNorm ~/LayerNorm_0", create=False)
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.InvalidArgumentError: LayerNorm ~/LayerNorm_0: cannot set
      scale_init when create_scale=False (no 'scale' parameter is created). Pass
      create_scale=True, or drop scale_init.
    """
    param = name.removesuffix("_init")
    if not create and value is not None:
        raise InvalidArgumentError(
            f"{prefix(where)}cannot set {name} when create_{param}=False (no "
            f"{param!r} parameter is created). Pass create_{param}=True, or drop "
            f"{name}."
        )


def check_no_call_arg(value: Any, name: str, where: str, *, create: bool) -> None:
    """Refuses a ``scale``/``offset`` call argument when the module owns that parameter.

    Examples:
      >>> check_no_call_arg(None, "scale", "LayerNorm ~/LayerNorm_0", create=True)
      >>> check_no_call_arg(2.0, "scale", "LayerNorm ~/LayerNorm_0", create=True)
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.InvalidArgumentError: LayerNorm ~/LayerNorm_0: cannot pass
      scale at call time when the module was constructed with create_scale=True (it owns
      the 'scale' parameter). Construct it with create_scale=False to pass scale in.
    """
    if create and value is not None:
        raise InvalidArgumentError(
            f"{prefix(where)}cannot pass {name} at call time when the module was "
            f"constructed with create_{name}=True (it owns the {name!r} "
            f"parameter). Construct it with create_{name}=False to pass {name} in."
        )
