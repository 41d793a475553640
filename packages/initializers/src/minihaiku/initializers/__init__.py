"""minihaiku.initializers: the built-in initializers, registered as a plugin.

Installing this package registers every name below with minihaiku.core's
registry (through the ``minihaiku.initializers`` entry point), so that
``get_param(..., init="he_normal")`` and ``get_initializer("uniform",
minval=-1.0)`` work. The factories can also be called directly.

Examples:
  >>> import jax, jax.numpy as jnp
  >>> from minihaiku.initializers import constant
  >>> constant(2.0)(jax.random.key(0), (2,), jnp.float32)
  Array([2., 2.], dtype=float32)
"""

from minihaiku.initializers._inits import (
    constant,
    glorot_normal,
    glorot_uniform,
    he_normal,
    he_uniform,
    lecun_normal,
    lecun_uniform,
    normal,
    ones,
    orthogonal,
    truncated_normal,
    uniform,
    variance_scaling,
    zeros,
)
from minihaiku.initializers._plugin import BUILTINS
from minihaiku.initializers._version import __version__

xavier_normal = glorot_normal
xavier_uniform = glorot_uniform
kaiming_normal = he_normal
kaiming_uniform = he_uniform

__all__ = [
    "BUILTINS",
    "__version__",
    "constant",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "ones",
    "orthogonal",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]
