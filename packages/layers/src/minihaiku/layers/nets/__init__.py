"""minihaiku.layers.nets: whole networks and network parts, as dm-haiku's ``hk.nets``.

Examples:
  >>> import jax.numpy as jnp
  >>> from minihaiku.core import transform
  >>> from minihaiku.layers.nets import VectorQuantizer
  >>> f = transform(lambda x: VectorQuantizer(2, 8, 0.25)(x, is_training=False)["loss"])
  >>> f.apply(f.init(0, jnp.ones((3, 2))), jnp.ones((3, 2))).shape
  ()
"""

from minihaiku.layers.nets._vqvae import VectorQuantizer

__all__ = ["VectorQuantizer"]
