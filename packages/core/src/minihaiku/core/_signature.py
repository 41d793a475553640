"""``init``/``apply`` show the wrapped function's parameters to ``inspect.signature``.

dm-haiku's ``init`` reads ``(rng, *f's parameters)`` and its ``apply``
``(params, [state], [rng], *f's parameters)``; tools that inspect signatures
(IDEs, ``functools.partial`` users, argument parsers) see the same here. The
signature is computed once, when the pair is made: calls pay nothing.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["copy_signature", "show_signature"]

_POK = inspect.Parameter.POSITIONAL_OR_KEYWORD
_PO = inspect.Parameter.POSITIONAL_ONLY


def _params_of(f: Callable[..., Any]) -> list[inspect.Parameter] | None:
    try:
        return list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):  # builtins and C callables may have none
        return None


def show_signature(fn: Callable[..., Any], f: Callable[..., Any], leading: tuple[str, ...]) -> None:
    """Gives ``fn`` the signature ``(*leading, *f's parameters)``.

    The leading parameters are positional-only when ``f`` has positional-only
    parameters itself (or when a name clashes), so the signature stays valid;
    when ``f`` has no signature ``fn`` keeps its own.

    Examples:
      >>> def apply(*args, **kwargs): ...
      >>> show_signature(apply, lambda x, *, train=False: x, ("params", "rng"))
      >>> import inspect
      >>> inspect.signature(apply)
      <Signature (params, rng, x, *, train=False)>
    """
    params = _params_of(f)
    if params is None:
        return
    for kind in (_POK, _PO):
        head = [inspect.Parameter(name, kind) for name in leading]
        try:
            sig = inspect.Signature([*head, *params])
        except ValueError:  # order of kinds, or a name f uses too
            continue
        fn.__signature__ = sig  # type: ignore[attr-defined]
        return


def copy_signature(
    fn: Callable[..., Any], src: Callable[..., Any], *, drop: str = "", add: str = ""
) -> None:
    """Gives ``fn`` ``src``'s signature, less parameter ``drop`` / with ``add`` second.

    For ``without_state`` (``drop="state"``) and ``with_empty_state``
    (``add="state"``); nothing happens when ``src`` shows no signature of its own.

    Examples:
      >>> def apply(*args, **kwargs): ...
      >>> def src(params, state, x): ...
      >>> copy_signature(apply, src, drop="state")
      >>> import inspect
      >>> inspect.signature(apply)
      <Signature (params, x)>
    """
    params = _params_of(src)
    if params is None:
        return
    params = [p for p in params if p.name != drop]
    if add and params:
        params.insert(1, inspect.Parameter(add, params[0].kind))
    try:
        fn.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    except ValueError:
        return
