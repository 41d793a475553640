"""``get_param``: create (in ``init``) or read (in ``apply``) one parameter."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core._checks import ARRAY_TYPES, DTYPES, canonical_dtype, check_value, norm_shape
from minihaiku.core._create import InitLike, create
from minihaiku.core._errors import MissingParameterError
from minihaiku.core._frame import Frame, InitFrame, Stack, current_frame, frame_or_none
from minihaiku.core._hooks import HOOKS
from minihaiku.core._naming import check_name

__all__ = ["get_param", "missing_message", "scoped_path", "unstack"]


def scoped_path(frame: Frame, name: Any, kind: str) -> str:
    """The path of ``name`` in the current scope: ``~/Linear_0/__call__/w``."""
    scope = frame.scopes.scopes[-1].path
    if type(name) is not str or not name or "/" in name:
        check_name(name, kind, scope)
    return scope + "/" + name  # type: ignore[no-any-return]


def unstack(value: Any, stacks: tuple[Stack, ...], shape: tuple[int, ...] | None) -> Any:
    """The current layer's slice of a stacked value (``layer_stack``); others unchanged.

    A value is stacked when it has one leading axis per enclosing stack, of
    the stack's size, in front of ``shape`` (any shape when ``shape`` is None).
    """
    ndim = getattr(value, "ndim", 0)
    extra = len(stacks) if shape is None else ndim - len(shape)
    if extra <= 0 or extra > len(stacks) or ndim < extra:
        return value
    if tuple(value.shape[:extra]) != tuple(n for n, _ in stacks[:extra]):
        return value
    for _, index in stacks[:extra]:
        value = jax.lax.dynamic_index_in_dim(value, index, keepdims=False)
    return value


def missing_message(path: str, available: Mapping[Any, Any], kind: str) -> str:
    """The message for a parameter or state entry that ``apply`` did not get."""
    keys = [k for k in available if type(k) is str]
    odd = [k for k in available if type(k) is not str]
    near = difflib.get_close_matches(path, keys, n=3, cutoff=0.5)
    hint = f" Nearest existing names: {near}." if near else ""
    if odd:
        hint += (
            f" The mapping also has {len(odd)} key(s) that are not path strings, "
            f"e.g. {odd[0]!r} ({type(odd[0]).__name__}): keys must be the path "
            "strings init returned."
        )
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
    *,
    axes: Sequence[str | None] | None = None,
) -> jax.Array:
    """Creates (in ``init``) or reads (in ``apply``) the parameter ``name``.

    The parameter's path is the current scope plus ``name``:
    ``~/Linear_0/__call__/w`` inside ``Linear_0.__call__``, ``~/w`` outside any
    module. Its initial value depends only on the init key, the path, the
    shape, the dtype and the initializer.

    Args:
      name: the parameter's name in its scope (no ``/``).
      shape: its shape.
      dtype: its dtype (default float32).
      init: a ``(key, shape, dtype) -> Array`` callable (every
        ``jax.nn.initializers`` function works) or a registered name; ``None``
        uses ``"normal"`` (stddev 1, from minihaiku-initializers).
      axes: a logical axis name (``str``) or ``None`` per dimension, for
        sharding (see :func:`~minihaiku.core.axis_rules`). Checked against the
        rank when the parameter is created in ``init``; ignored by ``apply``.

    Returns:
      The parameter's value.

    Examples:
      >>> from minihaiku.core import get_param, transform
      >>> def f(x):
      ...   w = get_param("w", (x.shape[-1], 2), init=jax.nn.initializers.ones)
      ...   return x @ w
      >>> params = transform(f).init(0, jnp.ones((1, 3)))
      >>> {k: v.shape for k, v in params.items()}
      {'~/w': (3, 2)}
      >>> from minihaiku.core import param_axes
      >>> g = transform(lambda x: x @ get_param("w", (3, 4), axes=("embed", "mlp")))
      >>> param_axes(g, jnp.ones((1, 3)))
      {'~/w': ('embed', 'mlp')}
    """
    frame = frame_or_none()
    if frame is None:
        frame = current_frame("get_param")
    if type(name) is not str or not name or "/" in name:  # scoped_path, inlined
        check_name(name, "parameter", frame.scopes.scopes[-1].path)
    path = frame.scopes.scopes[-1].path + "/" + name
    if type(shape) is not tuple:
        shape = norm_shape(shape, path)
    params = frame.params
    if frame.creates_params:
        value = params.get(path)
        if value is None:
            if frame.custom is not None and frame.custom.params:
                return HOOKS.custom_param(frame, path, shape, dtype, init, axes)  # type: ignore[no-any-return]
            assert isinstance(frame, InitFrame)
            if axes is not None:
                HOOKS.record_axes(frame, path, norm_shape(shape, path), axes, "parameter")
            if frame.param_interceptors:  # a mixed-precision policy's param dtype
                dtype = HOOKS.stored_dtype(frame.param_interceptors, dtype)
            value = frame.params[path] = create(
                frame, path, norm_shape(shape, path), dtype, init, "parameter", path
            )
            if not frame.stacks and not frame.param_interceptors:
                return value  # type: ignore[no-any-return]
    else:
        try:
            value = params[path]
        except KeyError:
            if frame.custom is not None and frame.custom.params:  # a creator may supply it
                return HOOKS.custom_param(frame, path, shape, dtype, init, axes)  # type: ignore[no-any-return]
            raise MissingParameterError(missing_message(path, params, "parameter")) from None
    if frame.stacks:
        value = unstack(value, frame.stacks, shape)
    try:
        want = DTYPES[dtype]
    except (KeyError, TypeError):  # first use of this dtype-like, or not a dtype
        want = canonical_dtype(dtype, path)
    ok = (
        type(value) in ARRAY_TYPES
        and value.shape == shape
        and (value.dtype is want or value.dtype == want)
    )
    if frame.param_interceptors:
        if frame.custom is not None and frame.custom.params:  # custom getters are interceptors
            return HOOKS.custom_param(frame, path, shape, dtype, init, axes)  # type: ignore[no-any-return]
        stored = value
        for interceptor in frame.param_interceptors:
            value = interceptor(path, value)
        if not ok:  # an interceptor may deliver the asked dtype (mixed precision)
            check_value(
                stored,
                path,
                "parameter",
                norm_shape(shape, path),
                HOOKS.stored_dtype(frame.param_interceptors, dtype),
                frame.creates_params,
                delivered=value,
            )
    elif not ok:
        if frame.custom is not None and frame.custom.params:  # a creator changed it: no check
            return HOOKS.custom_param(frame, path, shape, dtype, init, axes)  # type: ignore[no-any-return]
        check_value(value, path, "parameter", norm_shape(shape, path), dtype, frame.creates_params)
    return value  # type: ignore[no-any-return]
