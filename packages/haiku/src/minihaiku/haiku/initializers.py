"""dm-haiku's ``haiku.initializers``: ``(shape, dtype) -> Array`` initializers.

Random ones draw ``hk.next_rng_key()`` when called, as dm-haiku's do, so
under ``minihaiku.haiku.transform`` they give dm-haiku's values.
"""

from minihaiku.haiku._inits import (
    Constant,
    Identity,
    Initializer,
    Orthogonal,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    UniformScaling,
    VarianceScaling,
)

__all__ = [
    "Constant",
    "Identity",
    "Initializer",
    "Orthogonal",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "UniformScaling",
    "VarianceScaling",
]
