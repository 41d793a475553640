"""dm-haiku's layers: minihaiku.layers' classes, taking dm-haiku initializers.

minihaiku.layers' layers already have dm-haiku's arguments; the only
difference is the initializer convention (``(key, shape, dtype)`` against
dm-haiku's ``(shape, dtype)``). Each layer with initializer arguments gets a
subclass of the same name (so the haiku scheme names it as dm-haiku does:
``linear``, ``conv2_d``) whose ``__init__`` converts them with
:func:`~minihaiku.haiku._inits.as_init`; the others are minihaiku.layers'
classes themselves.

Examples:
  >>> import minihaiku.haiku as hk
  >>> f = hk.transform(lambda x: hk.Linear(2, w_init=hk.initializers.Constant(0.5))(x))
  >>> params = f.init(None, jnp.ones((1, 3)))
  >>> params["linear"]["w"]
  Array([[0.5, 0.5],
         [0.5, 0.5],
         [0.5, 0.5]], dtype=float32)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

import minihaiku.initializers as mi
import minihaiku.layers as ml
from minihaiku.core import InitLike
from minihaiku.haiku import config
from minihaiku.haiku._bias_add import BIAS_HOOK
from minihaiku.haiku._bias_add import Linear as _BiasLinear
from minihaiku.haiku._inits import VarianceScaling, as_init

#: Where the arguments the user gave are kept (see ``minihaiku.haiku._summary``).
GIVEN_ARGS = "_minihaiku_hk_given_args"
#: Set on a layer built while ``module_auto_repr`` was off: its repr is ``object``'s.
PLAIN_REPR = "_minihaiku_hk_plain_repr"

__all__ = [
    "GRU",
    "Bias",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "DepthwiseConv3D",
    "InstanceNorm",
    "BatchNorm",
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Conv3DTranspose",
    "ConvND",
    "ConvNDTranspose",
    "Embed",
    "GroupNorm",
    "LayerNorm",
    "Linear",
    "MultiHeadAttention",
    "RMSNorm",
]


#: one initializer per stddev (building one checks its arguments: per-parameter work)
_truncated_normal = functools.lru_cache(maxsize=256)(mi.truncated_normal)


def _linear_w_init(key: Any, shape: tuple[int, ...], dtype: Any) -> jax.Array:
    """dm-haiku's default ``w`` of ``Linear``: truncated normal, stddev ``1/sqrt(input size)``."""
    value: jax.Array = _truncated_normal(float(1.0 / np.sqrt(shape[0])))(key, shape, dtype)
    return value


#: Where dm-haiku's default initializer differs from minihaiku.layers': from the
#: arguments given (which it may change), the initializer to pass instead of ``None``.
Defaults = dict[str, Callable[[dict[str, Any]], InitLike]]


def _scaled(given: dict[str, Any]) -> InitLike:
    """dm-haiku's ``MultiHeadAttention`` ``w`` default: ``VarianceScaling(w_init_scale)``.

    The scale is handed over as that initializer (and taken out of ``given``).
    """
    scale = given.get("w_init_scale")
    if scale is None:
        return None
    given["w_init_scale"] = None
    return as_init(VarianceScaling(scale))


def _fast_binding(
    signature: inspect.Signature,
) -> tuple[tuple[str, ...], frozenset[str], frozenset[str]] | None:
    """``(positional names, all names, required names)`` past ``self``; None: bind instead.

    None when the signature has ``*args``/``**kwargs`` or positional-only
    parameters, where binding by hand would not match :meth:`inspect.Signature.bind`.
    """
    params = list(signature.parameters.values())[1:]
    kind = inspect.Parameter
    if any(p.kind in (kind.VAR_POSITIONAL, kind.VAR_KEYWORD, kind.POSITIONAL_ONLY) for p in params):
        return None
    positional = tuple(p.name for p in params if p.kind is kind.POSITIONAL_OR_KEYWORD)
    required = frozenset(p.name for p in params if p.default is kind.empty)
    return positional, frozenset(p.name for p in params), required


def _with_hk_inits(
    base: type[Any],
    inits: tuple[str, ...],
    defaults: Defaults | None = None,
    attributes: dict[str, Any] | None = None,
) -> type[Any]:
    """A subclass of ``base`` (same name) whose ``inits`` arguments are dm-haiku initializers.

    ``defaults`` replaces minihaiku.layers' default where dm-haiku's differs;
    ``attributes`` are more class attributes (e.g. the bias-add hook).
    """
    defaults = defaults or {}
    signature = inspect.signature(base.__init__)
    base_init = base.__init__
    fast = _fast_binding(signature)

    def replace(arguments: dict[str, Any]) -> None:
        for name in inits:
            given = arguments.get(name)
            if given is not None:
                arguments[name] = as_init(given)
            elif name in defaults:
                arguments[name] = defaults[name](arguments)

    @functools.wraps(base_init)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        self.__dict__.setdefault(GIVEN_ARGS, (args, kwargs))  # for tabulate's Config column
        if not config.get_config().module_auto_repr:  # decided when built, as dm-haiku
            self.__dict__[PLAIN_REPR] = True
        if fast is not None:
            # The common call (known names, no duplicates): bound by hand, as
            # inspect's bind would (it costs more than the rest of __init__).
            positional, names, required = fast
            if len(args) <= len(positional):
                arguments = dict(zip(positional, args, strict=False))
                if names.issuperset(kwargs) and arguments.keys().isdisjoint(kwargs):
                    arguments.update(kwargs)
                    if required.issubset(arguments):
                        replace(arguments)
                        # positional as far as they run unbroken, as BoundArguments.args
                        call_args = []
                        for name in positional:
                            if name not in arguments:
                                break
                            call_args.append(arguments.pop(name))
                        base_init(self, *call_args, **arguments)
                        return
        bound = signature.bind(self, *args, **kwargs)
        replace(bound.arguments)
        base_init(*bound.args, **bound.kwargs)

    def module_repr(self: Any) -> str:
        """dm-haiku's repr: ``Linear(output_size=3)`` (the arguments given, defaults left out)."""
        given = self.__dict__.get(GIVEN_ARGS)
        if given is None or self.__dict__.get(PLAIN_REPR):
            return object.__repr__(self)
        from minihaiku.haiku._tabulate import auto_repr  # (it imports this module)

        try:
            bound = signature.bind(self, *given[0], **given[1])
        except TypeError:
            return object.__repr__(self)
        return auto_repr(self, bound)

    name = base.__name__
    doc = (
        f"dm-haiku's ``hk.{name}``: :class:`minihaiku.layers.{name}` taking dm-haiku\n"
        f"initializers ``(shape, dtype) -> Array`` for {', '.join(inits)}.\n\n"
        "Examples:\n"
        "  >>> import minihaiku.haiku as hk, minihaiku.layers as ml\n"
        f"  >>> issubclass(hk.{name}, ml.{name})\n"
        "  True\n"
    )
    namespace = {
        "__init__": init,
        "__repr__": module_repr,
        "__doc__": doc,
        "__module__": __name__,
        **(attributes or {}),
    }
    return type(name, (base,), namespace)


Linear = _with_hk_inits(_BiasLinear, ("w_init", "b_init"), {"w_init": lambda _: _linear_w_init})
ConvND = _with_hk_inits(ml.ConvND, ("w_init", "b_init"), attributes=BIAS_HOOK)
Conv1D = _with_hk_inits(ml.Conv1D, ("w_init", "b_init"), attributes=BIAS_HOOK)
Conv2D = _with_hk_inits(ml.Conv2D, ("w_init", "b_init"), attributes=BIAS_HOOK)
Conv3D = _with_hk_inits(ml.Conv3D, ("w_init", "b_init"), attributes=BIAS_HOOK)
ConvNDTranspose = _with_hk_inits(ml.ConvNDTranspose, ("w_init", "b_init"), attributes=BIAS_HOOK)
Conv1DTranspose = _with_hk_inits(ml.Conv1DTranspose, ("w_init", "b_init"), attributes=BIAS_HOOK)
Conv2DTranspose = _with_hk_inits(ml.Conv2DTranspose, ("w_init", "b_init"), attributes=BIAS_HOOK)
Conv3DTranspose = _with_hk_inits(ml.Conv3DTranspose, ("w_init", "b_init"), attributes=BIAS_HOOK)
Embed = _with_hk_inits(ml.Embed, ("w_init",))
BatchNorm = _with_hk_inits(ml.BatchNorm, ("scale_init", "offset_init"))
GroupNorm = _with_hk_inits(ml.GroupNorm, ("scale_init", "offset_init"))
GRU = _with_hk_inits(
    ml.GRU,
    ("w_i_init", "w_h_init", "b_init"),
    {  # dm-haiku's VarianceScaling(): lecun_normal may differ from it in the last bit
        "w_i_init": lambda _: as_init(VarianceScaling()),
        "w_h_init": lambda _: as_init(VarianceScaling()),
    },
)
LayerNorm = _with_hk_inits(ml.LayerNorm, ("scale_init", "offset_init"))
RMSNorm = _with_hk_inits(ml.RMSNorm, ("scale_init",))
MultiHeadAttention = _with_hk_inits(
    ml.MultiHeadAttention,
    ("w_init", "b_init"),
    {"w_init": _scaled},
    {"linear_cls": _BiasLinear},
)
Bias = _with_hk_inits(ml.Bias, ("b_init",), attributes=BIAS_HOOK)
DepthwiseConv1D = _with_hk_inits(ml.DepthwiseConv1D, ("w_init", "b_init"), attributes=BIAS_HOOK)
DepthwiseConv2D = _with_hk_inits(ml.DepthwiseConv2D, ("w_init", "b_init"), attributes=BIAS_HOOK)
DepthwiseConv3D = _with_hk_inits(ml.DepthwiseConv3D, ("w_init", "b_init"), attributes=BIAS_HOOK)
InstanceNorm = _with_hk_inits(ml.InstanceNorm, ("scale_init", "offset_init"))
