"""``lift``, ``transparent_lift`` and their ``_with_state`` forms: an inner init's params, outside.

dm-haiku's parameter lifting: the ``init`` of another transformed function,
called inside this one, has the parameters (and state) it returns stored in
this transform's under a module name of their own (``lifted_0``), so that
the outer ``init`` returns them and the outer ``apply`` gives them back to
the same call. Inner paths ``~/Linear_0/__call__/w`` become
``<scope>/lifted_0/Linear_0/__call__/w`` (``transparent_lift``: no
``lifted_0`` segment).

Under the haiku scheme the inner init returns dm-haiku's nested
``{module: {name: array}}``: its module names go under the lift's module name,
as dm-haiku's (``{"lifted/mlp/~/linear_0": {"w": ...}}``; ``transparent_lift``:
under the current module's name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from minihaiku.core._errors import DuplicateNameError, InvalidParamsError
from minihaiku.core._frame import Frame, InitFrame, current_frame
from minihaiku.core._naming import check_name
from minihaiku.core._trace import check_trace
from minihaiku.core._transform import check_callable

__all__ = [
    "LiftWithStateUpdater",
    "lift",
    "lift_with_state",
    "transparent_lift",
    "transparent_lift_with_state",
]


def _prefix(what: str, name: str | None) -> str:
    """Takes a module name (``lifted_0``) in the current scope; ``None``: no segment."""
    frame = current_frame(what)
    top = frame.scopes.scopes[-1]
    if name is None:
        return top.prefix
    scheme = frame.scheme
    if scheme.nested:  # dm-haiku's names: ``lifted``, ``lifted_1``, ...
        return scheme.join(top.prefix, scheme.module_name(top, what, name))
    base = check_name(name, "module", top.prefix)
    return top.prefix + "/" + top.taken().auto(base)


def _outer(prefix: str, path: Any, what: str) -> str:
    if type(path) is not str or not path.startswith("~/"):
        raise InvalidParamsError(
            f"{what}: the lifted init returned the key {path!r}; lift expects the flat "
            "mapping a minihaiku init returns (paths such as '~/Linear_0/__call__/w'). "
            "Lift the init of minihaiku.core.transform(f)."
        )
    return prefix + path[1:] if prefix else path[2:]  # the haiku scheme's root: no prefix


def _inner(prefix: str, tree: Mapping[str, Any], nested: bool = False) -> Any:
    """The entries of ``tree`` under ``prefix``, with their inner paths.

    ``nested``: as the haiku scheme's ``{module: {name: value}}``.
    """
    if not nested:
        start = prefix + "/"
        return {"~/" + k[len(start) :]: v for k, v in tree.items() if k.startswith(start)}
    start = prefix + "/" if prefix else ""
    out: dict[str, dict[str, Any]] = {}
    for path, value in tree.items():
        if path.startswith(start):
            module, _, name = path[len(start) :].rpartition("/")
            out.setdefault(module, {})[name] = value
    return out


def _flat(tree: Mapping[str, Any], what: str) -> dict[str, Any]:
    """The haiku scheme's nested ``{module: {name: value}}`` as ``~/module/name`` paths."""
    flat: dict[str, Any] = {}
    for module, inner in tree.items():
        if not isinstance(inner, Mapping):
            raise InvalidParamsError(
                f"{what}: the lifted init returned a {type(inner).__name__}, not a "
                f"mapping, for {module!r}; under the haiku scheme lift expects the nested "
                "{module_name: {name: array}} mapping a minihaiku.haiku init returns. "
                "Lift the init of minihaiku.haiku.transform(f)."
            )
        for name, value in inner.items():
            flat[f"~/{module}/{name}"] = value
    return flat


def _store(
    frame: Frame,
    target: dict[str, Any],
    prefix: str,
    entries: Mapping[str, Any],
    kind: str,
    what: str,
    allow_reuse: bool,
) -> None:
    check_trace(frame.trace, f"{what} storing lifted {kind}s")
    for path, value in entries.items():
        dest = _outer(prefix, path, what)
        if dest in target and not allow_reuse:
            raise DuplicateNameError(
                f"{what}: {kind} {dest!r} already exists in this transform. A lifted "
                "init stores each of its entries once: create a new lift for each "
                "call, or pass allow_reuse=True to call this one again."
            )
        target[dest] = value


class _Lifted:
    __slots__ = ("allow_reuse", "init_fn", "nested", "prefix", "state", "what")

    def __init__(
        self, init_fn: Any, prefix: str, allow_reuse: bool, state: bool, what: str
    ) -> None:
        self.init_fn = init_fn
        self.nested = current_frame(what).scheme.nested
        self.prefix = prefix
        self.allow_reuse = allow_reuse
        self.state = state
        self.what = what

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        frame = current_frame(self.what)
        if isinstance(frame, InitFrame):
            out = self.init_fn(*args, **kwargs)
            params, state = out if self.state else (out, {})
            if self.nested:
                params, state = _flat(params, self.what), _flat(state, self.what)
            _store(
                frame, frame.params, self.prefix, params, "parameter", self.what, self.allow_reuse
            )
            if state:
                _store(frame, frame.state, self.prefix, state, "state", self.what, self.allow_reuse)
                for path, value in state.items():
                    frame.initial_state.setdefault(_outer(self.prefix, path, self.what), value)
            return out
        prefix, nested = self.prefix, self.nested
        params = _inner(prefix, frame.params, nested)
        return (params, _inner(prefix, frame.state, nested)) if self.state else params


class LiftWithStateUpdater:
    """Writes a lifted function's new state back (the second result of :func:`lift_with_state`).

    Examples:
      >>> from minihaiku.core import get_state, lift_with_state, maybe_next_rng_key, set_state
      >>> from minihaiku.core import transform_with_state
      >>> def count():
      ...   set_state("n", get_state("n", (), init="zeros") + 1)
      >>> inner = transform_with_state(count)
      >>> def outer():
      ...   init, updater = lift_with_state(inner.init)
      ...   params, state = init(maybe_next_rng_key())
      ...   _, state = inner.apply(params, state)
      ...   updater.update(state)
      >>> f = transform_with_state(outer)
      >>> params, state = f.init(0)
      >>> state
      {'~/lifted_0/n': Array(0., dtype=float32)}
      >>> f.apply(params, state)[1]
      {'~/lifted_0/n': Array(1., dtype=float32)}
    """

    __slots__ = ("_lifted",)

    def __init__(self, lifted: _Lifted) -> None:
        self._lifted = lifted

    def update(self, state: Mapping[str, Any]) -> None:
        """Stores ``state`` (the inner ``apply``'s new state) in this transform's state."""
        lifted = self._lifted
        frame = current_frame(f"{lifted.what} updater.update")
        check_trace(frame.trace, f"{lifted.what} updater.update")
        if frame.in_init:  # init returns the initial state, not an update of it
            return
        if lifted.nested:
            state = _flat(state, f"{lifted.what} updater.update")
        for path, value in state.items():
            frame.state[_outer(lifted.prefix, path, lifted.what)] = value

    def ignore_update(self) -> None:
        """Leaves the lifted state as it is (dm-haiku's ``ignore_update``)."""


def _make(
    init_fn: Callable[..., Any], allow_reuse: bool, name: str | None, state: bool, what: str
) -> _Lifted:
    check_callable(init_fn, what)
    return _Lifted(init_fn, _prefix(what, name), bool(allow_reuse), state, what)


def lift(
    init_fn: Callable[..., Any], *, allow_reuse: bool = False, name: str = "lifted"
) -> Callable[..., Any]:
    """Stores the params an inner ``init`` returns in this transform (dm-haiku's ``lift``).

    Call it inside a transformed function; call the result like ``init_fn``.
    During ``init`` it runs ``init_fn`` and stores what it returns under a
    new module name (``lifted_0``, ``lifted_1``, ...: ``name`` numbered in the
    current scope); during ``apply`` it returns those params again, without
    running ``init_fn`` (so its key may be ``maybe_next_rng_key()``, ``None``
    in an ``apply`` without a key). A lift stores its params once, unless
    ``allow_reuse``.

    Examples:
      >>> from minihaiku.core import get_param, lift, maybe_next_rng_key, transform
      >>> inner = transform(lambda x: x * get_param("w", (), init="ones"))
      >>> def outer(x):
      ...   params = lift(inner.init)(maybe_next_rng_key(), x)
      ...   return inner.apply(params, x)
      >>> f = transform(outer)
      >>> params = f.init(0, 2.0)
      >>> params
      {'~/lifted_0/w': Array(1., dtype=float32)}
      >>> f.apply(params, 2.0)
      Array(2., dtype=float32)
    """
    return _make(init_fn, allow_reuse, name, False, "lift")


def transparent_lift(
    init_fn: Callable[..., Any], *, allow_reuse: bool = False
) -> Callable[..., Any]:
    """Like :func:`lift`, without a module name of its own: inner paths kept as they are.

    In ``apply`` it returns every param under the current scope (at the top,
    all of them), as dm-haiku's does.

    Examples:
      >>> from minihaiku.core import get_param, maybe_next_rng_key, transform, transparent_lift
      >>> inner = transform(lambda x: x * get_param("w", (), init="ones"))
      >>> def outer(x):
      ...   return inner.apply(transparent_lift(inner.init)(maybe_next_rng_key(), x), x)
      >>> transform(outer).init(0, 2.0)
      {'~/w': Array(1., dtype=float32)}
    """
    return _make(init_fn, allow_reuse, None, False, "transparent_lift")


def lift_with_state(
    init_fn: Callable[..., Any], *, allow_reuse: bool = False, name: str = "lifted"
) -> tuple[Callable[..., Any], LiftWithStateUpdater]:
    """:func:`lift` for a ``transform_with_state`` init: returns ``(lifted_init, updater)``.

    ``lifted_init(*args)`` returns ``(params, state)``; in ``apply``, pass
    the inner ``apply``'s new state to ``updater.update(state)`` to keep it.

    Examples:
      >>> from minihaiku.core import get_state, lift_with_state, maybe_next_rng_key
      >>> from minihaiku.core import transform_with_state
      >>> inner = transform_with_state(lambda: get_state("n", (), init="ones"))
      >>> def outer():
      ...   init, updater = lift_with_state(inner.init, name="counter")
      ...   params, state = init(maybe_next_rng_key())
      ...   out, state = inner.apply(params, state)
      ...   updater.update(state)
      ...   return out
      >>> transform_with_state(outer).init(0)
      ({}, {'~/counter_0/n': Array(1., dtype=float32)})
    """
    lifted = _make(init_fn, allow_reuse, name, True, "lift_with_state")
    return lifted, LiftWithStateUpdater(lifted)


def transparent_lift_with_state(
    init_fn: Callable[..., Any], *, allow_reuse: bool = False
) -> tuple[Callable[..., Any], LiftWithStateUpdater]:
    """:func:`lift_with_state` without a module name of its own (see :func:`transparent_lift`).

    Examples:
      >>> from minihaiku.core import get_state, maybe_next_rng_key, transform_with_state
      >>> from minihaiku.core import transparent_lift_with_state
      >>> inner = transform_with_state(lambda: get_state("n", (), init="ones"))
      >>> def outer():
      ...   init, updater = transparent_lift_with_state(inner.init)
      ...   params, state = init(maybe_next_rng_key())
      ...   updater.update(inner.apply(params, state)[1])
      >>> transform_with_state(outer).init(0)
      ({}, {'~/n': Array(1., dtype=float32)})
    """
    lifted = _make(init_fn, allow_reuse, None, True, "transparent_lift_with_state")
    return lifted, LiftWithStateUpdater(lifted)
