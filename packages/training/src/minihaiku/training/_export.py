"""Params to and from safetensors files: flat path keys, no pickle."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from minihaiku.training._errors import ParamsFileError
from minihaiku.training._nested_params import NESTED, file_layout, flatten, is_nested, nest

__all__ = ["load_params", "save_params"]

_FORMAT = "minihaiku.params/1"

#: safetensors' key for the file's metadata: never a tensor name.
_RESERVED = "__metadata__"

# safetensors' dtype tags, each one save_params writes and load_params reads
# (C64 since safetensors 0.7); its numpy loader lacks BF16 and float8 (numpy has
# neither), so the tags are read here, with JAX's numpy types (from ml_dtypes).
_DTYPES: dict[str, Any] = {
    "BOOL": np.bool_,
    "U8": np.uint8,
    "I8": np.int8,
    "U16": np.uint16,
    "I16": np.int16,
    "U32": np.uint32,
    "I32": np.int32,
    "U64": np.uint64,
    "I64": np.int64,
    "F16": np.float16,
    "BF16": jnp.bfloat16,
    "F32": np.float32,
    "F64": np.float64,
    "F8_E4M3": jnp.float8_e4m3fn,
    "F8_E5M2": jnp.float8_e5m2,
    "C64": np.complex64,
}
_SUPPORTED = {np.dtype(t) for t in _DTYPES.values()}


def save_params(path: str | Path, params: Mapping[str, Any]) -> Path:
    """Writes params to a safetensors file, one tensor per parameter path.

    Keys are minihaiku's flat paths (``'~/MLP_0/__call__/Linear_0/__call__/w'``),
    dtypes are kept (bfloat16 as safetensors' ``BF16``, complex64 as ``C64``), and the file is
    written to a temporary name and renamed, so a crash never leaves half a
    file. Any safetensors reader (PyTorch, JAX, Rust) can load it.

    Args:
      path: the file to write (``.safetensors`` by convention).
      params: a flat ``path -> array`` mapping, as ``init`` returns, or
        dm-haiku's nested ``{module: {name: array}}`` (``minihaiku.haiku``):
        written under ``module/name`` keys, read back nested.

    Returns:
      The absolute path written.

    Raises:
      ParamsFileError: ``params`` is not a flat mapping of arrays, a path is
        safetensors' reserved ``'__metadata__'``, an array's dtype has no
        safetensors tag that :func:`load_params` reads (complex128, int4, ...),
        or the file cannot be written.

    Examples:
      >>> import tempfile
      >>> from minihaiku.training import load_params, save_params
      >>> params = {"~/w": jnp.ones((2, 3), jnp.bfloat16)}
      >>> path = save_params(f"{tempfile.mkdtemp()}/params.safetensors", params)
      >>> load_params(path, like=params)["~/w"].dtype
      dtype(bfloat16)
    """
    from safetensors import SafetensorError
    from safetensors.numpy import save_file

    path = Path(path).absolute()
    if not isinstance(params, Mapping):
        raise ParamsFileError(
            f"save_params takes the flat params mapping init returns, got {type(params).__name__}."
        )
    metadata = {"format": _FORMAT}
    if is_nested(params):  # dm-haiku's layout: module/name keys, nested again on load
        params = flatten(params)
        metadata["layout"] = NESTED
    tensors: dict[str, np.ndarray] = {}
    for key, value in params.items():
        if not isinstance(key, str) or not isinstance(value, (jax.Array, np.ndarray, np.generic)):
            raise ParamsFileError(
                f"save_params: params[{key!r}] is a {type(value).__name__}; params must "
                "map path strings to arrays (a flat mapping, as init returns)."
            )
        if key == _RESERVED:
            raise ParamsFileError(
                f"save_params: {path}: the parameter path {_RESERVED!r} is reserved by "
                "safetensors for the file's metadata; rename that parameter."
            )
        array = np.asarray(jax.device_get(value), order="C")
        if array.dtype.byteorder == ">":  # safetensors is little-endian
            array = array.astype(array.dtype.newbyteorder("<"))
        if array.dtype not in _SUPPORTED:
            raise ParamsFileError(
                f"save_params: {path}: params[{key!r}] has dtype {array.dtype}, which a "
                f"params file cannot hold; supported: {_dtype_names()}. Cast it (e.g. "
                "complex128 to complex64) before saving."
            )
        tensors[key] = array
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    except (OSError, SafetensorError) as e:
        tmp.unlink(missing_ok=True)
        reason = getattr(e, "strerror", None) or str(e)
        raise ParamsFileError(f"cannot write {path} ({reason}). Choose a writable path.") from None
    return path


def load_params(path: str | Path, like: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Reads params written by :func:`save_params` (or any safetensors file).

    Args:
      path: the safetensors file.
      like: optional params to check against (e.g. a fresh ``init``, its
        ``jax.ShapeDtypeStruct``s, or Python scalars by JAX's rules): the
        file must hold exactly their paths, with the same shapes and dtypes.

    Returns:
      A flat ``path -> jax.Array`` dict, in the order of ``like`` if given;
      nested ``{module: {name: jax.Array}}`` when ``like`` is nested or the
      file was written from nested params.

    Raises:
      ParamsFileError: the file is missing or not safetensors, ``like`` is
        not a mapping of arrays (or Python scalars), or the file does not
        match ``like`` (each mismatch named by its path).

    Examples:
      >>> import tempfile
      >>> from minihaiku.training import load_params, save_params
      >>> path = save_params(f"{tempfile.mkdtemp()}/p.safetensors", {"~/b": jnp.zeros(2)})
      >>> load_params(path)
      {'~/b': Array([0., 0.], dtype=float32)}
    """
    from safetensors import SafetensorError, deserialize

    path = Path(path).absolute()
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ParamsFileError(f"cannot read {path} ({e.strerror or e}).") from None
    try:
        entries = deserialize(data)  # type: ignore[no-untyped-call]
    except (SafetensorError, ValueError) as e:
        raise ParamsFileError(
            f"{path} is not a safetensors file, or it is damaged ({e})."
        ) from None
    loaded: dict[str, np.ndarray] = {}
    for key, entry in entries:
        dtype = _DTYPES.get(entry["dtype"])
        if dtype is None:
            raise ParamsFileError(
                f"{path}: tensor {key!r} has dtype {entry['dtype']}, which minihaiku "
                f"cannot read; supported: {', '.join(_DTYPES)}."
            )
        loaded[key] = np.frombuffer(entry["data"], dtype=dtype).reshape(entry["shape"])
    if like is not None and isinstance(like, Mapping) and is_nested(like):
        flat_like = flatten(like)
        _check_like(path, loaded, flat_like)
        return nest({k: jnp.asarray(loaded[k]) for k in flat_like})
    if like is not None:
        _check_like(path, loaded, like)
        return {k: jnp.asarray(loaded[k]) for k in like}
    if file_layout(data) == NESTED:
        return nest({k: jnp.asarray(v) for k, v in loaded.items()})
    return {k: jnp.asarray(v) for k, v in loaded.items()}


def _dtype_names() -> str:
    return ", ".join(str(np.dtype(t)) for t in _DTYPES.values())


def _shape_dtype(path: Path, key: str, value: Any) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """The shape and dtype ``like[key]`` asks for: an array's, or by JAX's rules."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):  # arrays, ShapeDtypeStruct
        return tuple(value.shape), np.dtype(value.dtype)
    if isinstance(value, (bool, int, float, complex)):  # a Python scalar: jnp.asarray's
        return (), np.dtype(jax.eval_shape(lambda: jnp.asarray(value)).dtype)
    raise ParamsFileError(
        f"load_params: {path}: like[{key!r}] is a {type(value).__name__}; like= takes "
        "params (a flat mapping of arrays, e.g. a fresh init's, or their "
        "jax.ShapeDtypeStruct)."
    )


def _check_like(path: Path, loaded: Mapping[str, np.ndarray], like: Any) -> None:
    if not isinstance(like, Mapping):
        raise ParamsFileError(
            f"load_params: {path}: like= takes the flat params mapping init returns, "
            f"got {type(like).__name__}."
        )
    wanted = {key: _shape_dtype(path, key, value) for key, value in like.items()}
    problems = []
    missing = [k for k in like if k not in loaded]
    extra = [k for k in loaded if k not in like]
    if missing:
        problems.append(f"missing {', '.join(map(repr, missing[:5]))}")
    if extra:
        problems.append(f"not in the model: {', '.join(map(repr, extra[:5]))}")
    for key in like:
        if key in loaded:
            want_shape, want_dtype = wanted[key]
            got = loaded[key]
            if got.shape != want_shape or got.dtype != want_dtype:
                problems.append(
                    f"{key!r} is {got.dtype}{list(got.shape)} in the file but "
                    f"{want_dtype}{list(want_shape)} in the model"
                )
    if problems:
        raise ParamsFileError(
            f"{path} does not match the given params: " + "; ".join(problems) + ". Load "
            "it into the model that wrote it, or without like= to inspect it."
        )
