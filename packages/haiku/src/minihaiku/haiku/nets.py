"""dm-haiku's ``haiku.nets``: ``MLP``, ``MobileNetV1``, the ResNets, ``VectorQuantizer(EMA)``.

The ResNets and vector quantizers are minihaiku.layers.nets' (their layers and
initial values already are dm-haiku's; the ResNets' ``logits`` add the bias as
dm-haiku does); ``MLP`` and ``MobileNetV1`` build
dm-haiku's ``Linear`` (its truncated normal default ``w``).

Examples:
  >>> import minihaiku.haiku as hk
  >>> f = hk.transform(lambda x: hk.nets.MLP([3, 2])(x))
  >>> params = f.init(jax.random.PRNGKey(0), jnp.ones((1, 4)))
  >>> list(params)
  ['mlp/~/linear_0', 'mlp/~/linear_1']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import jax

import minihaiku.layers as ml
import minihaiku.layers.nets as mn
from minihaiku.core import InvalidArgumentError, Module, PRNGSequence
from minihaiku.haiku._bias_add import Linear as BiasLinear
from minihaiku.haiku._inits import Initializer
from minihaiku.haiku._layers import Linear

__all__ = [
    "MLP",
    "MobileNetV1",
    "ResNet",
    "ResNet18",
    "ResNet34",
    "ResNet50",
    "ResNet101",
    "ResNet152",
    "ResNet200",
    "VectorQuantizer",
    "VectorQuantizerEMA",
]


def _with_bias_linear(base: type[Any]) -> type[Any]:
    """``base`` (a minihaiku.layers.nets ResNet, same name), its ``logits`` adding b as dm-haiku.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> issubclass(hk.nets.ResNet18, mn.ResNet18), hk.nets.ResNet18.__name__
      (True, 'ResNet18')
    """
    doc = (
        f"dm-haiku's ``hk.nets.{base.__name__}``: :class:`minihaiku.layers.nets.{base.__name__}`\n"
        "whose ``logits`` ``Linear`` adds its bias as dm-haiku's does (same StableHLO).\n\n"
        "Examples:\n"
        "  >>> import minihaiku.haiku as hk, minihaiku.layers.nets as mn\n"
        f"  >>> issubclass(hk.nets.{base.__name__}, mn.{base.__name__})\n"
        "  True\n"
    )
    namespace = {"linear_cls": BiasLinear, "__doc__": doc, "__module__": __name__}
    return type(base.__name__, (base,), namespace)


ResNet = _with_bias_linear(mn.ResNet)
ResNet18 = _with_bias_linear(mn.ResNet18)
ResNet34 = _with_bias_linear(mn.ResNet34)
ResNet50 = _with_bias_linear(mn.ResNet50)
ResNet101 = _with_bias_linear(mn.ResNet101)
ResNet152 = _with_bias_linear(mn.ResNet152)
ResNet200 = _with_bias_linear(mn.ResNet200)
VectorQuantizer = mn.VectorQuantizer
VectorQuantizerEMA = mn.VectorQuantizerEMA


class MobileNetV1(mn.MobileNetV1):
    """dm-haiku's ``hk.nets.MobileNetV1``: its ``logits`` layer is dm-haiku's ``Linear``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.transform_with_state(lambda x: hk.nets.MobileNetV1(num_classes=3)(x, True))
      >>> params, state = f.init(jax.random.PRNGKey(0), jnp.ones((1, 32, 32, 3)))
      >>> params["mobile_net_v1/logits"]["w"].shape
      (1024, 3)
    """

    logits_class = Linear


class MLP(Module):
    """dm-haiku's ``hk.nets.MLP``: its layers ``linear_0``, ``linear_1``... built at construction.

    Args:
      output_sizes: the width of each layer.
      w_init: dm-haiku initializer of every ``w`` (default: dm-haiku's Linear's).
      b_init: dm-haiku initializer of every ``b`` (default zeros).
      with_bias: give each layer a bias.
      activation: applied between layers (and after the last with ``activate_final``).
      activate_final: activate the last layer's output too.
      name: the module's name (default ``mlp``).

    Raises:
      InvalidArgumentError: ``b_init`` given with ``with_bias=False``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.transform(lambda x: hk.nets.MLP([3, 2], name="net")(x))
      >>> params = f.init(jax.random.PRNGKey(0), jnp.ones((1, 4)))
      >>> {k: v["w"].shape for k, v in params.items()}
      {'net/~/linear_0': (4, 3), 'net/~/linear_1': (3, 2)}
    """

    def __init__(
        self,
        output_sizes: Iterable[int],
        w_init: Initializer | None = None,
        b_init: Initializer | None = None,
        with_bias: bool = True,
        activation: Callable[[jax.Array], jax.Array] = jax.nn.relu,
        activate_final: bool = False,
        name: str | None = None,
    ) -> None:
        if not with_bias and b_init is not None:
            raise InvalidArgumentError(
                f"MLP {name or 'mlp'}: b_init was given with with_bias=False; with no "
                "bias there is nothing to initialize. Drop b_init or set with_bias=True."
            )
        super().__init__(name=name)
        self.with_bias = with_bias
        self.w_init = w_init
        self.b_init = b_init
        self.activation = activation
        self.activate_final = activate_final
        self.layers = tuple(
            Linear(size, with_bias=with_bias, w_init=w_init, b_init=b_init, name=f"linear_{i}")
            for i, size in enumerate(output_sizes)
        )

    def __call__(
        self, inputs: jax.Array, dropout_rate: float | None = None, rng: Any = None
    ) -> jax.Array:
        """Applies the layers; with ``dropout_rate`` and ``rng``, dropout before activations."""
        if dropout_rate is not None and rng is None:
            raise InvalidArgumentError(
                f"{self.module_label}: dropout_rate={dropout_rate} needs rng; pass "
                "rng=hk.next_rng_key() or leave dropout_rate out."
            )
        if dropout_rate is None and rng is not None:
            raise InvalidArgumentError(
                f"{self.module_label}: rng was given without dropout_rate (dm-haiku's "
                "rule: rng is only for dropout). Pass dropout_rate too, or no rng."
            )
        keys = PRNGSequence(rng) if rng is not None else None
        out = inputs
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            out = layer(out)
            if i < last or self.activate_final:
                if dropout_rate is not None and keys is not None:
                    out = ml.dropout(next(keys), dropout_rate, out)
                out = self.activation(out)
        return out
