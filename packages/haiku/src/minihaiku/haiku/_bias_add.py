"""dm-haiku's bias add: ``out + jnp.broadcast_to(b, out.shape)``, so the programs lower alike.

minihaiku.layers adds a bias as ``out + b`` (the hand-written spelling);
dm-haiku broadcasts ``b`` to the output's shape first. XLA compiles both to
the same program, but their StableHLO differs (rank promotion adds a reshape
and, in the gradient, a reduce). minihaiku.haiku's layers override the
layers' ``_add_bias`` hook with :func:`add_bias` (``Bias``: its
``_bias_as_added`` hook with :func:`broadcast_bias`), so a jitted hk program
lowers to dm-haiku's StableHLO. :func:`add_bias` is a ``jax.jit(inline=True)``
function: traced, its ops are inlined (the same StableHLO); called eagerly
(un-jitted ``apply``) it is one dispatch, not two.

Examples:
  >>> import minihaiku.haiku as hk
  >>> f = hk.without_apply_rng(hk.transform(lambda x: hk.Linear(2)(x)))
  >>> params = f.init(jax.random.PRNGKey(0), jnp.ones((3, 4)))
  >>> text = jax.jit(f.apply).lower(params, jnp.ones((3, 4))).as_text()
  >>> text.count("stablehlo.broadcast_in_dim")
  1
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import minihaiku.layers as ml

__all__ = ["BIAS_HOOK", "Linear", "add_bias", "broadcast_bias"]


def broadcast_bias(b: jax.Array, out: jax.Array) -> jax.Array:
    """``b`` broadcast to ``out``'s shape, as dm-haiku does before adding it.

    Examples:
      >>> broadcast_bias(jnp.arange(2.0), jnp.zeros((3, 2))).shape
      (3, 2)
    """
    return jnp.broadcast_to(b, out.shape)


def _add_bias(out: jax.Array, b: jax.Array) -> jax.Array:
    return out + jnp.broadcast_to(b, out.shape)


#: ``out + jnp.broadcast_to(b, out.shape)``: dm-haiku's bias add, inlined when traced.
add_bias = jax.jit(_add_bias, inline=True)

#: The class attributes that make a minihaiku.layers layer add its bias as dm-haiku does.
BIAS_HOOK = {
    "_add_bias": staticmethod(add_bias),
    "_bias_as_added": staticmethod(broadcast_bias),
}


class Linear(ml.Linear):
    """:class:`minihaiku.layers.Linear` adding its bias as dm-haiku does (same initializers).

    The ``Linear`` that minihaiku.layers' own layers build inside hk programs
    (``MultiHeadAttention``'s projections, the ResNets' ``logits``); ``hk.Linear``
    derives from it.

    Examples:
      >>> issubclass(Linear, ml.Linear)
      True
    """

    _add_bias = staticmethod(add_bias)
