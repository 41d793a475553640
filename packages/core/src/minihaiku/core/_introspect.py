"""``get_params``, ``get_current_state``, ``get_initial_state``: the frame's entries."""

from __future__ import annotations

from typing import Any

from minihaiku.core._frame import current_frame

__all__ = ["get_current_state", "get_initial_state", "get_params"]


def get_params() -> dict[str, Any]:
    """All parameters of the current transform, by path (a new dict).

    In ``init``: the parameters created so far; in ``apply``: the params
    given to ``apply``. Changing the dict changes nothing in the transform.

    Examples:
      >>> from minihaiku.core import get_param, get_params, transform
      >>> def f():
      ...   before = get_params()
      ...   get_param("w", (), init="ones")
      ...   return before, get_params()
      >>> params = transform(f).init(0)
      >>> transform(f).apply(params)
      ({'~/w': Array(1., dtype=float32)}, {'~/w': Array(1., dtype=float32)})
      >>> f()
      Traceback (most recent call last):
      ...
      minihaiku.core._errors.NotInTransformError: get_params must be called inside ...
    """
    return dict(current_frame("get_params").params)


def get_current_state() -> dict[str, Any]:
    """The current value of every state entry, by path (a new dict).

    What ``set_state`` has stored so far in this call, else the value the
    call started with. Empty under plain ``transform``.

    Examples:
      >>> from minihaiku.core import get_current_state, get_state, set_state
      >>> from minihaiku.core import transform_with_state
      >>> def f():
      ...   set_state("n", get_state("n", (), init="zeros") + 1)
      ...   return get_current_state()
      >>> f = transform_with_state(f)
      >>> params, state = f.init(0)
      >>> f.apply(params, state)[0]
      {'~/n': Array(1., dtype=float32)}
    """
    return dict(current_frame("get_current_state").state)


def get_initial_state() -> dict[str, Any]:
    """The state this call started with, by path (a new dict).

    In ``init``: each entry's initial value (what ``init`` returns); in
    ``apply``: the state given to ``apply``, unchanged by ``set_state``.

    Examples:
      >>> from minihaiku.core import get_initial_state, get_state, set_state
      >>> from minihaiku.core import transform_with_state
      >>> def f():
      ...   set_state("n", get_state("n", (), init="zeros") + 1)
      ...   return get_initial_state()
      >>> f = transform_with_state(f)
      >>> params, state = f.init(0)
      >>> f.apply(params, state)[0]
      {'~/n': Array(0., dtype=float32)}
    """
    given = current_frame("get_initial_state").given_state
    return dict(given) if given is not None else {}
