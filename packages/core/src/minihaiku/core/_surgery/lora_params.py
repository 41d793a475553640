"""LoRA's parameter arithmetic: choosing the weights, making adapters, folding them in.

Everything here works on the flat ``path -> array`` params that ``init``
returns; :mod:`minihaiku.core._surgery.lora` wraps it around a transformed
function.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core._errors import InvalidArgumentError
from minihaiku.core._keys import as_key, derive_key, host_key, path_salt
from minihaiku.core._sharding.axes import Axes, AxesRecord
from minihaiku.core._tree import PathFilter, filter_params

__all__ = [
    "SUFFIX_A",
    "SUFFIX_B",
    "LoraError",
    "add_adapters",
    "adapter_paths",
    "fold",
    "is_adapter",
    "record_adapter_axes",
    "select",
]

#: Adapter ``a`` of the weight at ``path`` lives at ``path + SUFFIX_A``, ``b`` at ``+ SUFFIX_B``.
SUFFIX_A = "_lora_a"
SUFFIX_B = "_lora_b"


class LoraError(InvalidArgumentError):
    """LoRA cannot adapt what it was asked to, or its params lack adapters.

    Also a ``ValueError``. The message names the parameter path and what to
    pass instead.

    Examples:
      >>> from minihaiku.core import get_param, lora, transform
      >>> f = transform(lambda x: x @ get_param("w", (3, 2)) + get_param("b", (2,)))
      >>> lora(f, "*/b", rank=1).init(0, jnp.ones((1, 3)))
      Traceback (most recent call last):
        ...
      minihaiku.core._surgery.lora_params.LoraError: lora: parameter '~/b' (matched by
      where='*/b') has shape (2,); LoRA adapts 2-D weights and conv kernels (over their
      last two axes). ...
    """


def adapter_paths(path: str) -> tuple[str, str]:
    """The paths of the two adapters of the weight at ``path``.

    Examples:
      >>> adapter_paths("~/Linear_0/__call__/w")
      ('~/Linear_0/__call__/w_lora_a', '~/Linear_0/__call__/w_lora_b')
    """
    return path + SUFFIX_A, path + SUFFIX_B


def is_adapter(path: str) -> bool:
    """Whether ``path`` is an adapter's path (ends in ``_lora_a`` or ``_lora_b``).

    Examples:
      >>> is_adapter("~/Linear_0/__call__/w_lora_a"), is_adapter("~/Linear_0/__call__/w")
      (True, False)
    """
    return path.endswith((SUFFIX_A, SUFFIX_B))


def select(params: Mapping[str, Any], where: PathFilter, rank: int) -> list[str]:
    """The paths of the weights ``where`` matches, after checking each can take rank ``rank``."""
    matched = list(filter_params(params, where))
    if not matched:
        some = list(params)[:3]
        raise LoraError(
            f"lora: where={where!r:.80} matches no parameter of the model ({len(params)} "
            f"parameters, e.g. {some}). Pass a glob that matches weight paths, such as "
            "'*/w', a list of globs, or a predicate (path, value) -> bool."
        )
    for path in matched:
        value = params[path]
        shape = tuple(value.shape)
        dtype = jnp.dtype(value.dtype)
        hint = f"Narrow where={where!r:.60} to leave it out, e.g. '*/w'."
        if is_adapter(path):
            raise LoraError(
                f"lora: parameter {path!r} (matched by where={where!r:.60}) is already a "
                f"LoRA adapter; LoRA adapts base weights only. {hint}"
            )
        if not jnp.issubdtype(dtype, jnp.floating):
            raise LoraError(
                f"lora: parameter {path!r} (matched by where={where!r:.60}) has dtype "
                f"{dtype}; LoRA adapts floating-point weights only. {hint}"
            )
        if len(shape) < 2:
            raise LoraError(
                f"lora: parameter {path!r} (matched by where={where!r:.60}) has shape "
                f"{shape}; LoRA adapts 2-D weights and conv kernels (over their last two "
                f"axes). {hint}"
            )
        if rank > min(shape[-2:]):
            raise LoraError(
                f"lora: rank={rank} is larger than parameter {path!r} (shape {shape}) "
                f"allows: at most min{shape[-2:]} = {min(shape[-2:])}, the smaller of its "
                "last two axes. Pass a smaller rank, or narrow where to leave it out."
            )
        for adapter in adapter_paths(path):
            if adapter in params:
                raise LoraError(
                    f"lora: the model already has a parameter {adapter!r}, the path of an "
                    f"adapter of {path!r}. Rename that parameter, or do not apply lora "
                    "twice to one model."
                )
    return matched


def add_adapters(
    params: Mapping[str, Any], bases: list[str], rank: int, rng: Any
) -> dict[str, Any]:
    """``params`` with ``a`` and ``b`` after each weight in ``bases``.

    For a weight of shape ``(*lead, n_in, n_out)``, ``a`` has shape
    ``(*lead, n_in, rank)`` and is drawn from a normal with stddev
    ``1/sqrt(n_in)`` with the key ``fold_in(init_key, crc32(path of a))`` (the
    rule of every parameter), and ``b`` of shape ``(*lead, rank, n_out)`` is
    zero; both take the weight's dtype.
    """
    key = as_key(rng, "init")
    host = host_key(key)
    wanted = set(bases)
    out: dict[str, Any] = {}
    for path, value in params.items():
        out[path] = value
        if path not in wanted:
            continue
        *lead, n_in, n_out = value.shape
        path_a, path_b = adapter_paths(path)
        k = derive_key(key, host, path_salt(path_a))
        a = jax.random.normal(k, (*lead, n_in, rank), value.dtype)
        out[path_a] = a * jnp.asarray(1.0 / math.sqrt(n_in), value.dtype)
        out[path_b] = jnp.zeros((*lead, rank, n_out), value.dtype)
    return out


def record_adapter_axes(record: AxesRecord, bases: list[str]) -> None:
    """Gives each adapter its weight's annotation: ``a`` keeps the input axis, ``b`` the output."""
    for path in bases:
        axes: Axes | None = record.params.get(path)
        if axes is None:
            continue
        *lead, ax_in, ax_out = axes
        path_a, path_b = adapter_paths(path)
        record.params[path_a] = (*lead, ax_in, None)
        record.params[path_b] = (*lead, None, ax_out)


def fold(params: Mapping[str, Any], scale: float, what: str) -> dict[str, Any]:
    """The base model's params: each adapted weight ``w`` becomes ``w + scale * a @ b``.

    The adapters are left out; every other entry is passed on as it is, in
    its order.
    """
    out: dict[str, Any] = {}
    found = 0
    for path, value in params.items():
        if not path.endswith(SUFFIX_A):
            if not path.endswith(SUFFIX_B):
                out[path] = value
            continue
        found += 1
        base = path[: -len(SUFFIX_A)]
        path_b = base + SUFFIX_B
        if base not in params or path_b not in params:
            missing = base if base not in params else path_b
            raise LoraError(
                f"{what}: params have the adapter {path!r} but not {missing!r}. Pass "
                "the params that the LoRA model's init returned (or trained), with "
                "every weight and both adapters."
            )
    if not found:
        raise LoraError(
            f"{what}: the params have no LoRA adapters (no path ends in {SUFFIX_A!r}). "
            "Pass what the LoRA model's init returned (or trained); for plain params "
            "use the base model itself."
        )
    for path, value in params.items():
        if path.endswith(SUFFIX_A):
            base = path[: -len(SUFFIX_A)]
            w = out[base]
            delta = jnp.matmul(value, params[base + SUFFIX_B]) * scale
            out[base] = (w + delta).astype(w.dtype)
    return out
