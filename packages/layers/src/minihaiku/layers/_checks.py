"""Argument checks shared by the layers."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

from minihaiku.core import (
    InitLike,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    NotCallableError,
    UnknownInitializerError,
    get_initializer,
)

__all__ = [
    "channel_index",
    "check_init_needs_create",
    "check_no_call_arg",
    "check_positive_int",
    "check_size",
    "positive_ints",
    "replicate",
    "resolve_init",
]


def check_size(value: Any, what: str, where: str) -> int:
    """Returns ``value`` if it is a positive int, else raises.

    Examples:
      >>> check_size(3, "output_size", "Linear")
      3
    """
    if isinstance(value, bool):
        raise InvalidArgumentTypeError(
            f"{where}: {what} must be a positive int, got the bool {value!r}."
        )
    try:
        size = operator.index(value)
    except TypeError:
        raise InvalidArgumentTypeError(
            f"{where}: {what} must be a positive int, got "
            f"{type(value).__name__} {value!r}. Pass e.g. {what}=128."
        ) from None
    if size <= 0:
        raise InvalidArgumentError(
            f"{where}: {what} must be a positive int, got {size}. A layer needs "
            "at least one output unit."
        )
    return size


def resolve_init(
    init: InitLike, default: Callable[..., Any], what: str, where: str
) -> Callable[..., Any]:
    """Turns ``init`` (None, a registered name or a callable) into a callable."""
    if init is None:
        return default
    if isinstance(init, str):
        try:
            return get_initializer(init)
        except UnknownInitializerError as e:
            raise UnknownInitializerError(f"{where}: {what}={init!r}: {e}") from e
    if not callable(init):
        raise NotCallableError(
            f"{where}: {what} must be a (key, shape, dtype) -> Array callable or "
            f"a registered initializer name, got {type(init).__name__} {init!r:.60}."
        )
    return init


def check_positive_int(value: Any, what: str, where: str) -> int:
    """Returns ``value`` if it is a positive int (not a bool), else raises.

    Examples:
      >>> check_positive_int(2, "stride", "Conv2D ~/Conv2D_0")
      2
    """
    if not isinstance(value, bool):
        try:
            size = operator.index(value)
        except TypeError:
            pass
        else:
            if size > 0:
                return size
    raise InvalidArgumentError(
        f"{where}: {what} must be a positive int, got {type(value).__name__} {value!r:.60}."
    )


def replicate(value: Any, n: int, what: str, where: str) -> tuple[Any, ...]:
    """``value`` as an ``n``-tuple: a scalar or a length-1 sequence is repeated.

    As dm-haiku's ``utils.replicate``; any other length is an error naming
    ``what`` and ``where``.

    Examples:
      >>> replicate(3, 2, "kernel_shape", "Conv2D")
      (3, 3)
      >>> replicate([1, 2], 2, "stride", "Conv2D")
      (1, 2)
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return (value,) * n
    if len(value) == 1:
        return tuple(value) * n
    if len(value) == n:
        return tuple(value)
    raise InvalidArgumentTypeError(
        f"{where}: {what} must be an int or a sequence of length 1 or {n} (one per "
        f"spatial dimension), got {value!r:.60} of length {len(value)}. Pass e.g. "
        f"{what}={tuple(value[:1]) * n!r}."
    )


def positive_ints(value: Any, n: int, what: str, where: str) -> tuple[int, ...]:
    """``replicate`` then ``check_positive_int`` on every entry.

    Examples:
      >>> positive_ints(3, 3, "kernel_shape", "Conv3D")
      (3, 3, 3)
    """
    return tuple(check_positive_int(v, what, where) for v in replicate(value, n, what, where))


_CHANNELS_FIRST = re.compile("^NC[^C]*$")
_CHANNELS_LAST = re.compile("^N[^C]*C$")
_SEQUENTIAL = re.compile("^((BT)|(TB))[^D]*D$")


def channel_index(data_format: Any, where: str) -> int:
    """The channel axis (1 or -1) of ``data_format``, as dm-haiku's ``get_channel_index``.

    Accepts ``"channels_first"``, ``"channels_last"``, spatial formats such as
    ``"NCHW"`` / ``"NHWC"`` and sequential ones such as ``"BTHWD"``.

    Examples:
      >>> channel_index("NCHW", "Conv2D"), channel_index("channels_last", "Conv2D")
      (1, -1)
    """
    if not isinstance(data_format, str):
        raise InvalidArgumentTypeError(
            f"{where}: data_format must be a string such as 'channels_last', "
            f"got {type(data_format).__name__} {data_format!r:.60}."
        )
    if data_format == "channels_first" or _CHANNELS_FIRST.match(data_format):
        return 1
    if (
        data_format == "channels_last"
        or _CHANNELS_LAST.match(data_format)
        or _SEQUENTIAL.match(data_format)
    ):
        return -1
    raise InvalidArgumentError(
        f"{where}: unknown data_format {data_format!r:.60}. Pass a channels-last format "
        "such as 'NHWC' (or 'channels_last') or a channels-first one such as 'NCHW' "
        "(or 'channels_first')."
    )


def check_init_needs_create(init: Any, create: bool, what: str, where: str) -> None:
    """Refuses ``<what>_init`` when the parameter ``<what>`` is not created.

    Examples:
      >>> check_init_needs_create(None, False, "scale", "LayerNorm")
    """
    if not create and init is not None:
        raise InvalidArgumentError(
            f"{where}: cannot set {what}_init when create_{what}=False (no "
            f"{what!r} parameter is created). Pass create_{what}=True, or drop "
            f"{what}_init."
        )


def check_no_call_arg(value: Any, create: bool, what: str, where: str) -> None:
    """Refuses a ``scale``/``offset`` call argument when the module owns that parameter.

    Examples:
      >>> check_no_call_arg(None, True, "scale", "LayerNorm")
    """
    if create and value is not None:
        raise InvalidArgumentError(
            f"{where}: cannot pass {what} at call time when the module was "
            f"constructed with create_{what}=True (it owns the {what!r} "
            f"parameter). Construct it with create_{what}=False to pass {what} in."
        )
