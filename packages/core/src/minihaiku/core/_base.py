"""``get_param``, ``get_state``, ``set_state`` and ``next_rng_key``."""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from minihaiku.core._errors import (
    InitializerError,
    InvalidArgumentTypeError,
    InvalidParamsError,
    MissingParameterError,
    MissingStateError,
    NotCallableError,
    ParameterDtypeError,
    ParameterShapeError,
    RngError,
    StateNotAllowedError,
    UnliftedTransformError,
)
from minihaiku.core._frame import Frame, current_frame, frame_or_none, trace_state
from minihaiku.core._keys import derive_key, host_key, path_salt
from minihaiku.core._naming import check_name
from minihaiku.core._registry import DEFAULT_INITIALIZER, get_initializer

__all__ = ["InitLike", "get_param", "get_state", "next_rng_key", "set_state"]

#: What ``init=`` accepts: a ``(key, shape, dtype) -> Array`` callable, or a
#: registered initializer name.
InitLike = Callable[..., Any] | str | None

_ARRAY_TYPES: set[type] = {np.ndarray}
_DTYPES: dict[Any, np.dtype[Any]] = {}
_RNG_SALT = path_salt("/rng")
#: Initializers known to ignore their key: no key is derived for them.
_KEYLESS = {jax.nn.initializers.zeros, jax.nn.initializers.ones}


def _canonical_dtype(dtype: Any) -> np.dtype[Any]:
    d = _DTYPES.get(dtype)
    if d is None:
        try:
            d = np.dtype(jax.dtypes.canonicalize_dtype(dtype))
        except TypeError as e:
            raise InvalidArgumentTypeError(
                f"{dtype!r} is not a dtype; pass a dtype such as jnp.float32."
            ) from e
        _DTYPES[dtype] = d
    return d


def _norm_shape(shape: Any, path: str) -> tuple[int, ...]:
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise ParameterShapeError(
            f"shape for {path!r} must be a sequence of non-negative ints, got "
            f"{shape!r}. Pass e.g. (x.shape[-1], 128)."
        ) from None
    if any(d < 0 for d in dims):
        raise ParameterShapeError(
            f"shape for {path!r} has a negative dimension: {shape!r}. Every dimension must be >= 0."
        )
    return dims


def _path(frame: Frame, name: Any, kind: str) -> str:
    paths = frame.scope_paths
    if type(name) is not str or not name or "/" in name:
        check_name(name, kind, paths[-1])
    if len(paths) == 1:
        return str(name)
    return paths[-1] + "/" + str(name)


def _is_array(value: Any) -> bool:
    t = type(value)
    if t in _ARRAY_TYPES:
        return True
    if isinstance(value, (jax.Array, np.ndarray)):
        _ARRAY_TYPES.add(t)
        return True
    return False


def _check_value(
    value: Any,
    path: str,
    kind: str,
    shape: tuple[int, ...],
    dtype: Any,
    initializing: bool = False,
    delivered: Any = None,
) -> None:
    """Raises if ``value`` is not an array of ``shape`` and ``dtype``."""
    if not _is_array(value):
        raise InvalidParamsError(
            f"{kind} {path!r} is a {type(value).__name__}, not an array. "
            f"{kind.capitalize()} values must be jax or numpy arrays (what init "
            "returns); convert with jnp.asarray, or pass the flat "
            "path-to-array dict that init returned."
        )
    if initializing:
        fix = (
            "It was created earlier in this init: a shared module is called "
            "with inputs of different sizes, or two get_param calls use one name."
        )
    else:
        fix = (
            "The params were made for other inputs or another model: run init "
            "again with the inputs you apply to."
        )
    if value.shape != shape:
        raise ParameterShapeError(
            f"{kind} {path!r} has shape {tuple(value.shape)}, but the code asks "
            f"for shape {shape}. {fix}"
        )
    want = _canonical_dtype(dtype)
    if value.dtype != want and getattr(delivered, "dtype", None) != want:
        raise ParameterDtypeError(
            f"{kind} {path!r} has dtype {value.dtype}, but the code asks for "
            f"dtype {want}. {fix} Or cast the value back to {want}."
        )


def _resolve_init(init: InitLike, path: str) -> tuple[Callable[..., Any], str]:
    if init is None:
        return get_initializer(DEFAULT_INITIALIZER), DEFAULT_INITIALIZER
    if type(init) is str:
        return get_initializer(init), repr(init)
    if not callable(init):
        raise NotCallableError(
            f"init for {path!r} must be a callable (key, shape, dtype) -> Array "
            f"or a registered initializer name, got {type(init).__name__} "
            f"{init!r:.60}."
        )
    return init, getattr(init, "__qualname__", None) or repr(init)


def _raw_transform_hint() -> str:
    """Names the raw JAX transform the caller runs under, and the lifted one to use."""
    try:
        from jax._src.core import trace_ctx

        kind = type(trace_ctx.trace).__name__
    except Exception:  # pragma: no cover - JAX internals moved
        kind = ""
    if kind == "BatchTrace":
        return "jax.vmap; use minihaiku.core.vmap"
    if kind in ("JVPTrace", "LinearizeTrace"):
        return "jax.grad or jax.jvp; use minihaiku.core.grad or value_and_grad"
    return (
        "jax.jit, lax.scan, lax.cond, lax.switch, lax.fori_loop, lax.while_loop, "
        "lax.map or jax.checkpoint; use minihaiku.core.scan, cond, switch, fori_loop, "
        "while_loop, map or remat, and jit the whole init/apply instead of parts"
    )


def check_trace(frame: Frame, what: str) -> None:
    """Raises if the caller runs inside a JAX transform entered after ``frame``."""
    if frame.trace_state != trace_state():
        raise UnliftedTransformError(
            f"{what} inside a raw JAX transform that was applied inside the "
            f"transformed function ({_raw_transform_hint()}). The value would leak "
            "out of that transform as a tracer. The lifted forms in minihaiku.core "
            "thread parameters, state and keys through the transform for you."
        )


def _checked_init(
    initializer: Callable[..., Any],
    label: str,
    key: Any,
    shape: tuple[int, ...],
    dtype: Any,
    kind: str,
    path: str,
) -> Any:
    try:
        value = initializer(key, shape, dtype)
    except InitializerError as e:
        raise InitializerError(f"{e} (while creating {kind} {path!r})") from e
    if not hasattr(value, "shape") or not hasattr(value, "dtype"):
        raise InitializerError(
            f"initializer {label} returned a {type(value).__name__}, not an "
            f"array, for {kind} {path!r}. An initializer must return an array "
            "of the shape and dtype it is given."
        )
    if value.shape != shape or value.dtype != _canonical_dtype(dtype):
        raise InitializerError(
            f"initializer {label} returned shape {tuple(value.shape)} and dtype "
            f"{value.dtype} for {kind} {path!r}; expected shape {shape} and "
            f"dtype {_canonical_dtype(dtype)}. An initializer must return an "
            "array of exactly the shape and dtype it is given."
        )
    return value


def _create(
    frame: Frame,
    path: str,
    shape: tuple[int, ...],
    dtype: Any,
    init: InitLike,
    kind: str,
    salt_path: str,
) -> Any:
    check_trace(frame, f"creating {kind} {path!r}")
    _canonical_dtype(dtype)  # a bad dtype is reported before any initializer runs
    initializer, label = _resolve_init(init, path)
    if frame.rng is None:  # pragma: no cover - init always has a key
        raise RngError(f"creating {kind} {path!r} needs a key; pass one to init.")
    if frame.rng_host is None:
        frame.rng_host = host_key(frame.rng) or False
    if not frame.stacks:
        keyless = initializer in _KEYLESS or getattr(initializer, "minihaiku_keyless", False)
        key = None if keyless else _param_key(frame, salt_path)
        return _checked_init(initializer, label, key, shape, dtype, kind, path)
    key = _param_key(frame, salt_path)

    def make_one(k: Any) -> Any:
        return _checked_init(initializer, label, k, shape, dtype, kind, path)

    make: Callable[[Any], Any] = make_one
    for size, _ in reversed(frame.stacks):  # one leading axis per enclosing stack
        make = _stacked(make, size)
    return make(key)


def _param_key(frame: Frame, salt_path: str) -> Any:
    """``fold_in(frame.rng, crc32(salt_path))``, on the host when the key allows."""
    return derive_key(frame.rng, frame.rng_host or None, path_salt(salt_path))


def _stacked(inner: Callable[[Any], Any], size: int) -> Callable[[Any], Any]:
    def make(key: Any) -> Any:
        return jax.vmap(lambda i: inner(jax.random.fold_in(key, i)))(jnp.arange(size))

    return make


def _unstack(value: Any, stacks: tuple[tuple[int, Any], ...], shape: tuple[int, ...]) -> Any:
    """The slice of a stacked parameter for the current layer(s); others unchanged."""
    extra = getattr(value, "ndim", 0) - len(shape)
    if extra <= 0 or extra > len(stacks):
        return value
    if tuple(value.shape[:extra]) != tuple(n for n, _ in stacks[:extra]):
        return value
    for _, index in stacks[:extra]:
        value = jax.lax.dynamic_index_in_dim(value, index, keepdims=False)
    return value


def _missing(path: str, available: Mapping[str, Any], kind: str) -> str:
    near = difflib.get_close_matches(path, list(available), n=3, cutoff=0.5)
    hint = f" Nearest existing names: {near}." if near else ""
    return (
        f"{kind} {path!r} is not in the {kind} given to apply "
        f"({len(available)} entries).{hint} apply never creates {kind}s: run "
        "init with the same function to get a mapping that holds it, and check "
        "that module names and order match."
    )


def get_param(
    name: str,
    shape: Sequence[int],
    dtype: Any = jnp.float32,
    init: InitLike = None,
) -> jax.Array:
    """Creates (in ``init``) or reads (in ``apply``) the parameter ``name``.

    The parameter's path is the current scope plus ``name``:
    ``~/Linear_0/__call__/w`` inside ``Linear_0.__call__``, ``w`` outside any
    module. Its initial value depends only on the init key, the path, the
    shape, the dtype and the initializer.

    Args:
      name: the parameter's name in its scope (no ``/``).
      shape: its shape.
      dtype: its dtype (default float32).
      init: a ``(key, shape, dtype) -> Array`` callable (every
        ``jax.nn.initializers`` function works) or a registered name; ``None``
        uses ``"normal"`` (stddev 1, from minihaiku-initializers).

    Returns:
      The parameter's value.

    Examples:
      >>> def f(x):
      ...   w = get_param("w", (x.shape[-1], 2), init=jax.nn.initializers.ones)
      ...   return x @ w
      >>> params = transform(f).init(0, jnp.ones((1, 3)))
      >>> {k: v.shape for k, v in params.items()}
      {'w': (3, 2)}
    """
    frame = frame_or_none()
    if frame is None:
        frame = current_frame("get_param")
    path = _path(frame, name, "parameter")
    if type(shape) is not tuple:
        shape = _norm_shape(shape, path)
    params = frame.params
    if frame.initializing:
        value = params.get(path)
        if value is None:
            value = params[path] = _create(  # type: ignore[index]
                frame, path, _norm_shape(shape, path), dtype, init, "parameter", path
            )
            if not frame.stacks and not frame.interceptors:
                return value  # type: ignore[no-any-return]
    else:
        try:
            value = params[path]
        except KeyError:
            raise MissingParameterError(_missing(path, params, "parameter")) from None
    if frame.stacks:
        value = _unstack(value, frame.stacks, shape)
    want = _DTYPES.get(dtype) or _canonical_dtype(dtype)
    ok = (
        type(value) in _ARRAY_TYPES
        and value.shape == shape
        and (value.dtype is want or value.dtype == want)
    )
    if frame.interceptors:
        stored = value
        for interceptor in frame.interceptors:
            value = interceptor(path, value)
        if not ok:  # an interceptor may deliver the asked dtype (mixed precision)
            _check_value(
                stored,
                path,
                "parameter",
                _norm_shape(shape, path),
                dtype,
                frame.initializing,
                delivered=value,
            )
    elif not ok:
        _check_value(value, path, "parameter", _norm_shape(shape, path), dtype, frame.initializing)
    return value  # type: ignore[no-any-return]


def _zeros(key: Any, shape: tuple[int, ...], dtype: Any) -> jax.Array:
    return jnp.zeros(shape, dtype)


_zeros.minihaiku_keyless = True  # type: ignore[attr-defined]


def _state_frame(what: str) -> Frame:
    frame = current_frame(what)
    if not frame.allow_state:
        raise StateNotAllowedError(
            f"{what} was called in a function transformed with transform, which "
            "has no state. Use transform_with_state: its init returns "
            "(params, state) and its apply takes and returns state."
        )
    return frame


def get_state(
    name: str,
    shape: Sequence[int] | None = None,
    dtype: Any = jnp.float32,
    init: InitLike = None,
) -> jax.Array:
    """Reads the state entry ``name``, creating it during ``init``.

    In ``init`` a missing entry is created with ``init`` (default: zeros) and
    the given shape and dtype. In ``apply`` the value is the one given to
    ``apply`` or the last one stored with :func:`set_state`.

    Examples:
      >>> def f():
      ...   n = get_state("count", (), jnp.int32)
      ...   set_state("count", n + 1)
      >>> params, state = transform_with_state(f).init(0)
      >>> state
      {'count': Array(1, dtype=int32)}
    """
    frame = _state_frame("get_state")
    path = _path(frame, name, "state")
    state = frame.state
    value = state.get(path)
    if value is None:
        if not frame.initializing:
            raise MissingStateError(_missing(path, state, "state"))
        if shape is None:
            raise ParameterShapeError(
                f"state {path!r} does not exist yet, and get_state was called "
                "without a shape. Pass shape= (and dtype=) the first time, or "
                "set_state it first."
            )
        shape = _norm_shape(shape, path)
        value = state[path] = _create(
            frame,
            path,
            shape,
            dtype,
            init if init is not None else _zeros,
            "state",
            "/state/" + path,
        )
        if frame.state_created is not None:
            frame.state_created[path] = value
    elif shape is not None:
        _check_value(value, path, "state", _norm_shape(shape, path), dtype)
    return value  # type: ignore[no-any-return]


def set_state(name: str, value: Any) -> None:
    """Stores ``value`` as state entry ``name``.

    During ``init`` this sets the entry's initial value; during ``apply`` the
    new value is returned in the updated state. The entry must keep its shape.

    Examples:
      >>> def f(x):
      ...   set_state("last", x)
      ...   return x
      >>> _, state = transform_with_state(f).init(0, jnp.ones(2))
      >>> state
      {'last': Array([1., 1.], dtype=float32)}
    """
    frame = _state_frame("set_state")
    path = _path(frame, name, "state")
    check_trace(frame, f"set_state({name!r})")
    state = frame.state
    if not _is_array(value):
        value = jnp.asarray(value)
    old = state.get(path)
    if old is None:
        if frame.state_created is not None:
            frame.state_created[path] = value
        if not frame.initializing:
            raise MissingStateError(
                f"set_state({name!r}) in apply: state {path!r} was not created "
                "during init, so it is not in the state given to apply. Call "
                "set_state or get_state for it during init too."
            )
    elif old.shape != value.shape:
        raise ParameterShapeError(
            f"set_state: state {path!r} has shape {tuple(old.shape)}, got a "
            f"value of shape {tuple(value.shape)}. State entries keep their "
            "shape; reshape the value or use another name."
        )
    state[path] = value


def next_rng_key() -> jax.Array:
    """Returns a fresh random key, different at each call.

    During ``init`` keys come from the init key; during ``apply`` from the key
    given to ``apply`` (``transform(f, apply_rng=True)``).

    Examples:
      >>> def f():
      ...   return jax.random.normal(next_rng_key(), (2,))
      >>> out = transform(f, apply_rng=True).apply({}, jax.random.key(1))
    """
    frame = current_frame("next_rng_key")
    if frame.rng is None:
        raise RngError(
            "next_rng_key was called but apply was given no key. Transform "
            "with transform(f, apply_rng=True) and call apply(params, rng, "
            "...) with rng = jax.random.key(seed)."
        )
    check_trace(frame, "next_rng_key()")
    n = frame.rng_count
    frame.rng_count = n + 1
    return jax.random.fold_in(jax.random.fold_in(frame.rng, _RNG_SALT), n)
