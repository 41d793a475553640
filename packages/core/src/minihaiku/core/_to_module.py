"""``to_module``: a function that uses ``get_param`` as a module class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from minihaiku.core._module import Module
from minihaiku.core._transform import check_callable

__all__ = ["to_module"]


def to_module(f: Callable[..., Any]) -> type[Module]:
    """A module class whose instances run ``f`` when called (dm-haiku's ``to_module``).

    Each instance has its own parameters: ``f``'s ``get_param`` calls create
    them under the instance's path, so calling one instance twice shares
    them. Instances are named after ``f`` (``bias_fn_0``; ``CallableModule_0``
    for a lambda) unless given ``name=``.

    Examples:
      >>> from minihaiku.core import get_param, to_module, transform
      >>> def bias_fn(x):
      ...   return x + get_param("b", (), init="ones")
      >>> Bias = to_module(bias_fn)
      >>> def net(x, y):
      ...   b = Bias(name="my_bias")
      ...   return b(x) * b(y)  # the same bias for x and y
      >>> transform(net).init(0, 1.0, 2.0)
      {'~/my_bias/__call__/b': Array(1., dtype=float32)}
      >>> list(transform(lambda x: Bias()(x)).init(0, 1.0))
      ['~/bias_fn_0/__call__/b']
    """
    check_callable(f, "to_module")
    name = getattr(f, "__name__", "")
    if not (isinstance(name, str) and name.isidentifier()):
        name = "CallableModule"

    def call(self: Module, *args: Any, **kwargs: Any) -> Any:
        return f(*args, **kwargs)

    call.__name__ = call.__qualname__ = "__call__"
    call.__doc__ = getattr(f, "__doc__", None)
    namespace = {
        "__call__": call,
        "__doc__": f"Module running {name} (made by to_module).",
        "__module__": getattr(f, "__module__", __name__),
        "__qualname__": name,
    }
    return type(name, (Module,), namespace)
