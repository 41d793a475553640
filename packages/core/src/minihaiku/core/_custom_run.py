"""How ``get_param``/``get_state``/``set_state`` run custom creators, getters and setters.

The kernel calls these (through ``HOOKS``) only while ``frame.custom`` says
some are active, and only off its fast path; they are registered when
``minihaiku.core`` is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax.numpy as jnp

from minihaiku.core._checks import check_value, is_array, norm_shape
from minihaiku.core._create import InitLike, create, zeros_init
from minihaiku.core._custom import Customs, Getter, GetterContext, SetterContext
from minihaiku.core._do_not_store import DO_NOT_STORE
from minihaiku.core._errors import MissingParameterError, MissingStateError, ParameterShapeError
from minihaiku.core._frame import Frame, InitFrame
from minihaiku.core._hooks import HOOKS, set_custom_hooks
from minihaiku.core._params import missing_message, unstack

__all__ = ["custom_get_state", "custom_param", "run_setters"]


def _creators(
    creators: Sequence[Callable[..., Any]],
    final: Callable[[Any, Any, Any], Any],
    shape: Any,
    dtype: Any,
    init: Any,
    context: GetterContext,
) -> Any:
    """Runs ``creators`` outermost first; the innermost ``next_creator`` is ``final``."""

    def call(i: int, s: Any, d: Any, ini: Any) -> Any:
        if i == len(creators):
            return final(s, d, ini)
        return creators[i](lambda s2, d2, i2: call(i + 1, s2, d2, i2), s, d, ini, context)

    return call(0, shape, dtype, init)


def _getters(chain: Sequence[Any], path: str, value: Any, context: GetterContext) -> Any:
    """Runs custom getters (dm-haiku's convention) and plain interceptors, outermost first."""

    def call(i: int, v: Any) -> Any:
        if i == len(chain):
            return v
        item = chain[i]
        if type(item) is Getter:
            return item.getter(lambda v2: call(i + 1, v2), v, context)
        return call(i + 1, item(path, v))

    return call(0, value)


def _shape(shape: Any, path: str) -> tuple[int, ...] | None:
    return None if shape is None else norm_shape(shape, path)


def custom_param(frame: Frame, path: str, shape: Any, dtype: Any, init: InitLike, axes: Any) -> Any:
    """``get_param`` with custom creators and getters (``frame.custom.params``)."""
    customs: Customs = frame.custom
    want = norm_shape(shape, path)
    context = GetterContext(path, frame.scopes.scopes[-1].owner, dtype, want, init)
    params = frame.params
    value = params.get(path)
    if value is None:

        def final(s: Any, d: Any, ini: Any) -> Any:
            if not frame.creates_params:
                raise MissingParameterError(missing_message(path, params, "parameter"))
            s = norm_shape(s, path)
            if axes is not None:
                HOOKS.record_axes(frame, path, s, axes, "parameter")
            if frame.param_interceptors:
                d = HOOKS.stored_dtype(frame.param_interceptors, d)
            return create(frame, path, s, d, ini, "parameter", path)  # type: ignore[arg-type]

        value = _creators(customs.param_creators, final, want, dtype, init, context)
        if value is not DO_NOT_STORE and isinstance(frame, InitFrame):
            frame.params[path] = value
    if frame.stacks and value is not DO_NOT_STORE:
        value = unstack(value, frame.stacks, None)
    return _getters(frame.param_interceptors, path, value, context)


def custom_get_state(
    frame: Frame, path: str, shape: Any, dtype: Any, init: InitLike, axes: Any
) -> Any:
    """``get_state`` with custom creators and getters of state (``frame.custom.state``)."""
    customs: Customs = frame.custom
    want = _shape(shape, path)
    context = GetterContext(path, frame.scopes.scopes[-1].owner, dtype, want, init)
    state = frame.state
    value = state.get(path)
    created = False
    if value is None:

        def final(s: Any, d: Any, ini: Any) -> Any:
            if not isinstance(frame, InitFrame):
                raise MissingStateError(missing_message(path, state, "state"))
            if s is None:
                raise ParameterShapeError(
                    f"state {path!r} does not exist yet, and get_state was called "
                    "without a shape. Pass shape= (and dtype=) the first time, or "
                    "set_state it first."
                )
            s = norm_shape(s, path)
            if axes is not None:
                HOOKS.record_axes(frame, path, s, axes, "state")
            ini = ini if ini is not None else zeros_init
            return create(frame, path, s, d, ini, "state", "/state/" + path)

        created = bool(customs.state_creators)
        value = _creators(customs.state_creators, final, want, dtype, init, context)
        if value is not DO_NOT_STORE:
            state[path] = value
            if isinstance(frame, InitFrame):
                frame.initial_state.setdefault(path, value)
    if frame.stacks and value is not DO_NOT_STORE:
        value = unstack(value, frame.stacks, None)
    if want is not None and not created and value is not DO_NOT_STORE:
        check_value(value, path, "state", want, dtype)
    chain = [Getter(g) for g in customs.state_getters]
    return _getters(chain, path, value, context)


def run_setters(frame: Frame, path: str, value: Any) -> Any:
    """The value ``set_state`` stores after the custom setters (or ``DO_NOT_STORE``)."""
    if not is_array(value):
        value = jnp.asarray(value)
    context = SetterContext(path, frame.scopes.scopes[-1].owner, value.dtype, tuple(value.shape))
    setters = frame.custom.setters

    def call(i: int, v: Any) -> Any:
        if i == len(setters):
            return v
        return setters[i](lambda v2: call(i + 1, v2), v, context)

    return call(0, value)


set_custom_hooks(custom_param, custom_get_state, run_setters)
