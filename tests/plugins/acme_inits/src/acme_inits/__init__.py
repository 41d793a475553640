"""A third-party initializer plugin, used by minihaiku's tests."""

import jax.numpy as jnp

from minihaiku.core import hookimpl


def seven(value=7.0):
    """Fills with ``value`` (7 by default)."""

    def init(key, shape, dtype):
        return jnp.full(shape, value, dtype)

    return init


@hookimpl
def minihaiku_register_initializers(register):
    register("acme_seven", seven)
