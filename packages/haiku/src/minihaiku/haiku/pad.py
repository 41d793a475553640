"""dm-haiku's ``haiku.pad``: padding functions for the convolutions (minihaiku.layers.pad's).

Examples:
  >>> import minihaiku.haiku as hk
  >>> hk.pad.causal(3)
  (2, 0)
  >>> f = hk.transform(lambda x: hk.Conv1D(2, 3, padding=hk.pad.causal)(x))
  >>> f.init(jax.random.PRNGKey(0), jnp.ones((1, 5, 1)))["conv1_d"]["w"].shape
  (3, 1, 2)
"""

from minihaiku.layers.pad import (
    PadFn,
    causal,
    create,
    create_from_padfn,
    create_from_tuple,
    full,
    is_padfn,
    reverse_causal,
    same,
    valid,
)

__all__ = [
    "PadFn",
    "causal",
    "create",
    "create_from_padfn",
    "create_from_tuple",
    "full",
    "is_padfn",
    "reverse_causal",
    "same",
    "valid",
]
