"""Weight-only int8 (or int4) quantization by path, dequantized when the model reads it."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

import jax
import jax.numpy as jnp

from minihaiku.core._errors import InvalidArgumentTypeError, MinihaikuError
from minihaiku.core._surgery.layout import as_flat, is_nested, restore
from minihaiku.core._tree import PathFilter, _predicate

__all__ = ["SCALE_SUFFIX", "QuantizeError", "dequantize", "quantize", "quantized"]

#: A quantized weight ``p`` keeps its path (int8 values); its scales go under ``p + SCALE_SUFFIX``.
SCALE_SUFFIX = "@scale"

_BITS = (8, 4)

T = TypeVar("T")


class QuantizeError(MinihaikuError, ValueError):
    """A parameter cannot be quantized, or ``where`` matches nothing.

    Examples:
      >>> from minihaiku.core import QuantizeError, quantize
      >>> try:
      ...   quantize({"~/Linear_0/__call__/b": jnp.zeros(3)}, "*/b")
      ... except QuantizeError as e:
      ...   print(str(e)[:75])
      quantize: parameter '~/Linear_0/__call__/b' has shape (3,): only parameters
    """


def _check_bits(bits: Any) -> int:
    if type(bits) is not int or bits not in _BITS:
        raise QuantizeError(
            f"quantize: bits must be 8 or 4, got {bits!r:.40}. Use bits=8 (int8 "
            "values) or bits=4 (values in [-7, 7], still stored as int8)."
        )
    return bits


def _check_weight(path: str, value: Any) -> None:
    if not hasattr(value, "dtype") or not hasattr(value, "shape"):
        raise QuantizeError(
            f"quantize: parameter {path!r} is a {type(value).__name__}, not an array. "
            "Pass the flat path -> array params that init returned."
        )
    if not jnp.issubdtype(value.dtype, jnp.floating):
        raise QuantizeError(
            f"quantize: parameter {path!r} has dtype {value.dtype}: only float "
            "parameters can be quantized. Leave it out of `where` (e.g. where='*/w')."
        )
    if value.ndim < 2 or value.size == 0:
        raise QuantizeError(
            f"quantize: parameter {path!r} has shape {tuple(value.shape)}: only parameters "
            "with at least 2 dimensions and at least one element (weight matrices, "
            "conv kernels) are quantized, per output channel (the last axis). Leave "
            "biases and norm scales out of `where` (e.g. where='*/w')."
        )


@functools.partial(jax.jit, static_argnums=1)  # one compile per shape, not one per op
def _quantize_one(value: Any, bits: int) -> tuple[jax.Array, jax.Array]:
    """int8 values and per-last-axis scales (in the value's dtype) of one float array."""
    qmax = 2 ** (bits - 1) - 1
    w = jnp.asarray(value)
    wf = w.astype(jnp.float32)
    amax = jnp.max(jnp.abs(wf), axis=tuple(range(w.ndim - 1)))
    scale = jnp.where(amax > 0, amax / qmax, 1.0).astype(w.dtype)
    q = jnp.clip(jnp.round(wf / scale.astype(jnp.float32)), -qmax, qmax).astype(jnp.int8)
    return q, scale


def quantize(params: Mapping[str, Any], where: PathFilter, *, bits: int = 8) -> dict[str, Any]:
    """Weight-only symmetric quantization of the params that ``where`` matches.

    Each matched parameter ``p`` (float, at least 2-D) becomes int8 values
    under the same path ``p`` and float scales, one per output channel (the
    last axis), under ``p + "@scale"`` (shape ``(out,)``, the weight's dtype):
    ``w ~= q * scale`` with ``scale = max|w[..., j]| / 127`` (``/ 7`` with
    ``bits=4``, whose values are still stored as int8). The dequantized value
    is within half a step (``scale / 2``) of the original. Other params are
    kept as they are. Apply the result with :func:`quantized`.

    A ``layer_stack``'s stacked weight ``(layers, in, out)`` gets one scale
    per output channel shared by all its layers.

    Args:
      params: what ``init`` returns: flat ``path -> array`` params, or
        dm-haiku's nested ``{module: {name: array}}`` (``minihaiku.haiku``),
        matched by ``module/name`` paths and returned nested, each scale in
        its weight's module dict (``"w@scale"``).
      where: which params to quantize: a glob, several globs or a predicate
        ``(path, value) -> bool`` (core's path filters), e.g. ``"*/w"``.
      bits: 8 (default) or 4.

    Returns:
      A new flat params dict, in the order of ``params``, each scale right
      after its weight.

    Raises:
      QuantizeError: ``where`` matches nothing, or a matched parameter is not
        float, has fewer than 2 dimensions or no elements (the message names
        its path); ``bits`` is not 8 or 4.

    Examples:
      >>> from minihaiku.core import quantize, tree_bytes
      >>> params = {"~/Linear_0/__call__/w": jnp.array([[1.0, -0.5], [0.5, 2.0]]),
      ...           "~/Linear_0/__call__/b": jnp.zeros(2)}
      >>> q = quantize(params, "*/w")
      >>> {k: (v.dtype.name, v.shape) for k, v in q.items()}  # doctest: +NORMALIZE_WHITESPACE
      {'~/Linear_0/__call__/w': ('int8', (2, 2)),
       '~/Linear_0/__call__/w@scale': ('float32', (2,)),
       '~/Linear_0/__call__/b': ('float32', (2,))}
      >>> q["~/Linear_0/__call__/w"]
      Array([[127, -32],
             [ 64, 127]], dtype=int8)
    """
    bits = _check_bits(bits)
    if not isinstance(params, Mapping):
        raise InvalidArgumentTypeError(
            f"quantize expects the flat path -> array params that init returns, got "
            f"{type(params).__name__}."
        )
    params, nested = as_flat(params)
    match = _predicate(where)
    out: dict[str, Any] = {}
    matched = 0
    for path, value in params.items():
        if not match(path, value):
            out[path] = value
            continue
        _check_weight(path, value)
        if path + SCALE_SUFFIX in params:
            raise QuantizeError(
                f"quantize: parameter {path!r} is already quantized (params hold "
                f"{path + SCALE_SUFFIX!r}). Quantize the float params once."
            )
        out[path], out[path + SCALE_SUFFIX] = _quantize_one(value, bits)
        matched += 1
    if not matched:
        some = ", ".join(repr(p) for p in list(params)[:5])
        raise QuantizeError(
            f"quantize: `where` ({where!r:.60}) matches none of the {len(params)} "
            f"params (e.g. {some}). Use a glob on those paths, e.g. '*/w'."
        )
    return restore(out, nested)  # type: ignore[no-any-return]


def _split(params: Mapping[str, Any], where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values by path, scales by weight path) of quantized params."""
    values: dict[str, Any] = {}
    scales: dict[str, Any] = {}
    for path, value in params.items():
        if type(path) is str and path.endswith(SCALE_SUFFIX):
            scales[path[: -len(SCALE_SUFFIX)]] = value
        else:
            values[path] = value
    for path in scales:
        if path not in values:
            raise QuantizeError(
                f"{where}: params hold the scales {path + SCALE_SUFFIX!r} but not the "
                f"weight {path!r}. Pass every entry that quantize returned."
            )
    return values, scales


def _dequantize_one(value: Any, scale: Any) -> Any:
    return value.astype(scale.dtype) * scale


class Dequantizing(Mapping[str, Any]):
    """Quantized params as a read-only mapping that dequantizes each weight when it is read.

    ``apply`` reads every parameter through its params mapping (lifted
    transforms and ``layer_stack`` included), so the model's code gets float
    values and never changes. Each read costs one multiply per element.
    """

    __slots__ = ("_scales", "_values")

    def __init__(self, values: dict[str, Any], scales: dict[str, Any]) -> None:
        self._values = values
        self._scales = scales

    def __getitem__(self, path: str) -> Any:
        value = self._values[path]
        scale = self._scales.get(path)
        return value if scale is None else _dequantize_one(value, scale)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, path: object) -> bool:
        return path in self._values


def dequantize(params: Mapping[str, Any]) -> dict[str, Any]:
    """Float params of the original model from :func:`quantize`'s output.

    Each quantized weight becomes ``q * scale`` (its original dtype and
    path); the ``@scale`` entries are dropped. Params never quantized are
    returned unchanged.

    Raises:
      QuantizeError: a scale entry has no weight.

    Examples:
      >>> from minihaiku.core import dequantize, quantize
      >>> w = jnp.array([[1.0, -0.5], [0.5, 2.0]])
      >>> dequantize(quantize({"~/w": w}, "~/w"))
      {'~/w': Array([[ 1.      , -0.503937],
             [ 0.503937,  2.      ]], dtype=float32)}
    """
    flat, nested = as_flat(params)
    values, scales = _split(flat, "dequantize")
    view = Dequantizing(values, scales)
    return restore({path: view[path] for path in values}, nested)  # type: ignore[no-any-return]


def quantized(transformed: T) -> T:
    """``transformed`` whose ``apply`` takes :func:`quantize`'s params.

    Works with :func:`~minihaiku.core.transform` and
    :func:`~minihaiku.core.transform_with_state` (any named tuple of ``init``
    and ``apply(params, ...)``). ``init`` is unchanged (float params: quantize
    them after training); ``apply(qparams, ...)`` dequantizes each weight when
    the model reads it, inside the same trace (under ``jax.jit`` the int8
    values are the inputs), so the model's code does not change. Float params
    work too.

    Examples:
      >>> from minihaiku.core import quantize, quantized, transform
      >>> from minihaiku.core import Module, get_param
      >>> class Linear(Module):
      ...   def __call__(self, x):
      ...     return x @ get_param("w", (x.shape[-1], 3))
      >>> model = transform(lambda x: Linear()(x))
      >>> x = jnp.ones((1, 4))
      >>> params = model.init(0, x)
      >>> qparams = quantize(params, "*/w")
      >>> qparams["~/Linear_0/__call__/w"].dtype
      dtype('int8')
      >>> out = quantized(model).apply(qparams, x)
      >>> bool(jnp.allclose(out, model.apply(params, x), atol=0.05))
      True
    """
    apply = getattr(transformed, "apply", None)
    if not callable(apply) or not hasattr(transformed, "_replace"):
        raise InvalidArgumentTypeError(
            f"quantized expects what transform or transform_with_state returns, got "
            f"{type(transformed).__name__} {transformed!r:.60}."
        )

    def quantized_apply(params: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(params, Mapping):
            return apply(params, *args, **kwargs)  # apply reports it
        if is_nested(params):  # dm-haiku's layout: one dequantizing mapping per module
            nested = {
                m: Dequantizing(*_split(inner, "quantized apply")) for m, inner in params.items()
            }
            return apply(nested, *args, **kwargs)
        return apply(Dequantizing(*_split(params, "quantized apply")), *args, **kwargs)

    return transformed._replace(apply=quantized_apply)  # type: ignore[no-any-return]
