"""The dm-haiku names minihaiku.haiku leaves out: each raises :class:`LeftOutError`.

Five names (the issue allows five): ``to_dot`` and ``experimental.to_dot``
and ``experimental.abstract_to_dot`` (Graphviz drawings of a program's jaxpr),
``experimental.flax`` (the bridge to Flax modules) and
``experimental.jaxpr_info`` (a jaxpr pretty-printer). They exist, so a program
that imports them loads, and raise on use, saying why and what to use instead.

Examples:
  >>> import minihaiku.haiku as hk
  >>> hk.to_dot(lambda x: x)
  Traceback (most recent call last):
  ...
  minihaiku.haiku._left_out.LeftOutError: hk.to_dot is left out of minihaiku.haiku: ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from minihaiku.core import MinihaikuError

__all__ = ["LeftOutError", "LeftOutModule", "abstract_to_dot", "flax", "jaxpr_info", "to_dot"]

_DOT = (
    "it draws the jaxpr with Graphviz, a dependency minihaiku does not take. Use "
    "hk.experimental.tabulate(f)(*args) for the modules, or "
    "print(jax.make_jaxpr(hk.transform(f).apply)(params, rng, *args)) for the program"
)
_WHY = {
    "hk.to_dot": _DOT,
    "hk.experimental.to_dot": _DOT,
    "hk.experimental.abstract_to_dot": _DOT,
    "hk.experimental.flax": (
        "it bridges to Flax modules and needs flax installed; minihaiku has no Flax "
        "bridge. Keep the Flax part in Flax and pass its params alongside, or port the "
        "module to hk.Module"
    ),
    "hk.experimental.jaxpr_info": (
        "it pretty-prints jaxprs with per-module annotations from dm-haiku's internals. "
        "Use hk.experimental.eval_summary(f)(*args) for per-module shapes, or "
        "jax.make_jaxpr(f) for the program"
    ),
}


class LeftOutError(MinihaikuError, NotImplementedError):
    """A dm-haiku name that minihaiku.haiku leaves out was used (docs/haiku.md lists them).

    Examples:
      >>> issubclass(LeftOutError, NotImplementedError)
      True
    """


def _refuse(name: str) -> NoReturn:
    raise LeftOutError(f"{name} is left out of minihaiku.haiku: {_WHY[name]}.")


class LeftOutModule:
    """Stands for a dm-haiku submodule that is left out: any attribute use raises.

    Examples:
      >>> LeftOutModule("hk.experimental.flax").lift
      Traceback (most recent call last):
      ...
      minihaiku.haiku._left_out.LeftOutError: hk.experimental.flax is left out ...
    """

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # copy, pickle, hasattr(__wrapped__), doctest probes
            raise AttributeError(attr)
        _refuse(object.__getattribute__(self, "_name"))

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(object.__getattribute__(self, "_name"))

    def __repr__(self) -> str:
        return f"<left out: {object.__getattribute__(self, '_name')}>"


def to_dot(fun: Callable[..., Any]) -> Callable[..., str]:
    """Left out (dm-haiku's ``hk.to_dot`` draws a jaxpr with Graphviz): raises.

    Raises:
      LeftOutError: always (a ``NotImplementedError``); the message says what to use.

    Examples:
      >>> to_dot(lambda x: x)
      Traceback (most recent call last):
      ...
      minihaiku.haiku._left_out.LeftOutError: hk.to_dot is left out of minihaiku.haiku: ...
    """
    _refuse("hk.to_dot")


def experimental_to_dot(fun: Callable[..., Any]) -> Callable[..., str]:
    """Left out (dm-haiku's ``hk.experimental.to_dot``): raises :class:`LeftOutError`.

    Examples:
      >>> experimental_to_dot(lambda x: x)
      Traceback (most recent call last):
      ...
      minihaiku.haiku._left_out.LeftOutError: hk.experimental.to_dot is left out ...
    """
    _refuse("hk.experimental.to_dot")


def abstract_to_dot(fun: Callable[..., Any]) -> Callable[..., str]:
    """Left out (dm-haiku's ``hk.experimental.abstract_to_dot``): raises :class:`LeftOutError`.

    Examples:
      >>> abstract_to_dot(lambda x: x)
      Traceback (most recent call last):
      ...
      minihaiku.haiku._left_out.LeftOutError: hk.experimental.abstract_to_dot is left out ...
    """
    _refuse("hk.experimental.abstract_to_dot")


experimental_to_dot.__name__ = "to_dot"
flax = LeftOutModule("hk.experimental.flax")
jaxpr_info = LeftOutModule("hk.experimental.jaxpr_info")
