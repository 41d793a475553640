"""``custom_creator``, ``custom_getter``, ``custom_setter``: dm-haiku's hooks on params and state.

Inside the ``with`` block of one of them, the function given sees every
parameter (and, when asked, state entry) as it is created, read or stored,
together with a context (:class:`GetterContext`, :class:`SetterContext`) that
names it on minihaiku's flat paths. Custom getters of parameters are parameter
interceptors (:func:`~minihaiku.core.intercept_params`) with dm-haiku's
calling convention, so the two kinds nest in the order they were entered.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from minihaiku.core._frame import Frame, current_frame
from minihaiku.core._init_plan import CannotPlanError, current_plan
from minihaiku.core.checks import check_bool, check_callable

__all__ = [
    "Customs",
    "Getter",
    "GetterContext",
    "SetterContext",
    "custom_creator",
    "custom_getter",
    "custom_setter",
]


@dataclass(frozen=True)
class GetterContext:
    """What a custom creator or getter learns about the entry.

    Attributes:
      full_name: the entry's path, e.g. ``"~/Linear_0/__call__/w"``
        (dm-haiku: ``"linear/w"``).
      module: the module whose method (or construction) is running, or ``None``
        outside any module.
      original_dtype: the dtype the code asked for.
      original_shape: the shape the code asked for (``None``: a ``get_state``
        without a shape).
      original_init: the initializer the code gave (a ``(key, shape, dtype)``
        callable, a registered name, or ``None`` for the default).

    Examples:
      >>> from minihaiku.core import GetterContext, custom_getter, get_param, transform
      >>> def show(next_getter, value, context):
      ...   print(context.full_name, context.module_name, context.name, context.original_shape)
      ...   return next_getter(value)
      >>> def f():
      ...   with custom_getter(show):
      ...     return get_param("w", (2,), init="ones")
      >>> _ = transform(f).init(0)
      ~/w ~ w (2,)
    """

    full_name: str
    module: Any
    original_dtype: Any
    original_shape: tuple[int, ...] | None
    original_init: Any = None

    @property
    def module_name(self) -> str:
        """The path without the entry's name: ``"~/Linear_0/__call__"`` (``"~"`` at the top)."""
        return self.full_name.rpartition("/")[0]

    @property
    def name(self) -> str:
        """The entry's own name: ``"w"``."""
        return self.full_name.rpartition("/")[2]


@dataclass(frozen=True)
class SetterContext:
    """What a custom setter learns about the state entry being stored.

    Attributes:
      full_name: the entry's path, e.g. ``"~/BatchNorm_0/__call__/mean"``.
      module: the module whose method is running, or ``None``.
      original_dtype: the dtype of the value given to ``set_state``.
      original_shape: its shape.

    Examples:
      >>> from minihaiku.core import custom_setter, set_state, transform_with_state
      >>> def show(next_setter, value, context):
      ...   print(context.full_name, context.module_name, context.name, context.original_shape)
      ...   return next_setter(value)
      >>> def f():
      ...   with custom_setter(show):
      ...     set_state("n", jnp.zeros(3))
      >>> _ = transform_with_state(f).init(0)
      ~/n ~ n (3,)
    """

    full_name: str
    module: Any
    original_dtype: Any
    original_shape: tuple[int, ...]

    @property
    def module_name(self) -> str:
        """The path without the entry's name."""
        return self.full_name.rpartition("/")[0]

    @property
    def name(self) -> str:
        """The entry's own name."""
        return self.full_name.rpartition("/")[2]


class Getter:
    """A custom getter of parameters, kept among the frame's parameter interceptors.

    Called as a plain interceptor (``(path, value) -> value``, by code that
    does not know custom getters) it runs ``getter`` with the next getter
    being the identity.
    """

    __slots__ = ("getter",)

    def __init__(self, getter: Callable[..., Any]) -> None:
        self.getter = getter

    def __call__(self, path: str, value: Any) -> Any:
        context = GetterContext(path, owner(), getattr(value, "dtype", None), value.shape)
        return self.getter(lambda v: v, value, context)


class Customs(NamedTuple):
    """The custom functions active in a frame, outermost first.

    Attributes:
      param_creators, state_creators, state_getters, setters: the functions.
      params: whether ``get_param`` must go through :mod:`._custom_run` (param
        creators or getters are active).
      state: whether ``get_state`` must (state creators or getters).
    """

    param_creators: tuple[Callable[..., Any], ...] = ()
    state_creators: tuple[Callable[..., Any], ...] = ()
    state_getters: tuple[Callable[..., Any], ...] = ()
    setters: tuple[Callable[..., Any], ...] = ()
    params: bool = False
    state: bool = False


def owner() -> Any:
    """The module owning the current scope, or ``None``."""
    frame = current_frame("a custom getter")
    return frame.scopes.scopes[-1].owner


def _check_fn(fn: Any, name: str, where: str, signature: str) -> None:
    check_callable(fn, name, where, expected=f"a function {signature}")


@contextlib.contextmanager
def _active(frame: Frame, customs: Customs, interceptors: tuple[Any, ...]) -> Iterator[None]:
    plan = current_plan()
    if plan is not None and plan.haiku is not None:  # haiku's abstract init: fall back
        raise CannotPlanError("custom creators, getters or setters are installed")  # now
    before = frame.custom, frame.param_interceptors
    frame.custom, frame.param_interceptors = customs, interceptors
    try:
        yield
    finally:
        frame.custom, frame.param_interceptors = before


def _customs(frame: Frame) -> Customs:
    custom = frame.custom
    return custom if isinstance(custom, Customs) else Customs()


def _check_flags(params: Any, state: Any, what: str) -> None:
    check_bool(params, "params", what)
    check_bool(state, "state", what)


@contextlib.contextmanager
def custom_creator(
    creator: Callable[..., Any], *, params: bool = True, state: bool = False
) -> Iterator[None]:
    """Inside the block, ``creator`` makes each new parameter (and state entry, if ``state``).

    ``creator(next_creator, shape, dtype, init, context)`` returns the value;
    ``next_creator(shape, dtype, init)`` creates it as usual (minihaiku's
    ``init`` is a ``(key, shape, dtype)`` callable or a registered name), so a
    creator may change the shape, dtype or initializer, return a value of its
    own, or return :data:`DO_NOT_STORE` (the entry is not stored; a custom
    getter must then give the code a value). minihaiku does not check a value
    a creator returns against what the code asked for. In ``apply`` a creator
    runs for a parameter missing from the given params (``next_creator`` then
    raises ``MissingParameterError``). ``context`` is a :class:`GetterContext`.

    Examples:
      >>> from minihaiku.core import custom_creator, get_param, transform
      >>> def zeros_instead(next_creator, shape, dtype, init, context):
      ...   return next_creator(shape, dtype, "zeros")
      >>> def f():
      ...   with custom_creator(zeros_instead):
      ...     return get_param("w", (2,), init="ones")
      >>> transform(f).init(0)
      {'~/w': Array([0., 0.], dtype=float32)}
    """
    _check_fn(creator, "creator", "custom_creator", "(next_creator, shape, dtype, init, context)")
    _check_flags(params, state, "custom_creator")
    frame = current_frame("custom_creator")
    c = _customs(frame)
    customs = c._replace(
        param_creators=(*c.param_creators, creator) if params else c.param_creators,
        state_creators=(*c.state_creators, creator) if state else c.state_creators,
        params=c.params or params,
        state=c.state or state,
    )
    with _active(frame, customs, frame.param_interceptors):
        yield


@contextlib.contextmanager
def custom_getter(
    getter: Callable[..., Any], *, params: bool = True, state: bool = False
) -> Iterator[None]:
    """Inside the block, every parameter read (state too, if ``state``) goes through ``getter``.

    ``getter(next_getter, value, context)`` returns what the code gets;
    ``next_getter(value)`` runs the getters (and parameter interceptors)
    entered after it. ``context`` is a :class:`GetterContext`. A getter may
    cast (mixed precision), stop gradients, or replace :data:`DO_NOT_STORE`.

    Examples:
      >>> from minihaiku.core import custom_getter, get_param, transform
      >>> def doubled(next_getter, value, context):
      ...   return next_getter(2 * value)
      >>> def f():
      ...   with custom_getter(doubled):
      ...     return get_param("w", (), init="ones")
      >>> transform(f).apply({"~/w": jnp.ones(())})
      Array(2., dtype=float32)
    """
    _check_fn(getter, "getter", "custom_getter", "(next_getter, value, context)")
    _check_flags(params, state, "custom_getter")
    frame = current_frame("custom_getter")
    c = _customs(frame)
    customs = c._replace(
        state_getters=(*c.state_getters, getter) if state else c.state_getters,
        params=c.params or params,
        state=c.state or state,
    )
    interceptors = frame.param_interceptors
    if params:
        interceptors = (*interceptors, Getter(getter))
    with _active(frame, customs, interceptors):
        yield


@contextlib.contextmanager
def custom_setter(setter: Callable[..., Any]) -> Iterator[None]:
    """Inside the block, every ``set_state`` goes through ``setter``.

    ``setter(next_setter, value, context)`` returns the value to store;
    ``next_setter(value)`` runs the setters entered after it. Returning
    :data:`DO_NOT_STORE` leaves the state unchanged. ``context`` is a
    :class:`SetterContext`.

    Examples:
      >>> from minihaiku.core import custom_setter, get_state, set_state, transform_with_state
      >>> def clip(next_setter, value, context):
      ...   return next_setter(jnp.minimum(value, 3))
      >>> def f():
      ...   with custom_setter(clip):
      ...     set_state("n", get_state("n", (), init="zeros") + 5)
      >>> f = transform_with_state(f)
      >>> params, state = f.init(0)
      >>> f.apply(params, state)[1]
      {'~/n': Array(3., dtype=float32)}
    """
    _check_fn(setter, "setter", "custom_setter", "(next_setter, value, context)")
    frame = current_frame("custom_setter")
    c = _customs(frame)
    with _active(frame, c._replace(setters=(*c.setters, setter)), frame.param_interceptors):
        yield
