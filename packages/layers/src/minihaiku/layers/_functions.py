"""dm-haiku's layer-side functions: ``expand_apply``, ``one_hot``, ``multinomial``, etc."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core import InvalidArgumentError
from minihaiku.core.checks import check_callable, check_positive_int
from minihaiku.layers._checks import channel_index

__all__ = ["expand_apply", "get_channel_index", "multinomial", "one_hot"]


def expand_apply(f: Callable[..., Any], axis: int = 0) -> Callable[..., Any]:
    """Wraps ``f`` to take unbatched inputs, as dm-haiku's ``hk.expand_apply``.

    The wrapper adds an axis of size 1 at ``axis`` (0 or -1) to every array leaf
    of its positional and keyword arguments, calls ``f`` and removes that axis
    from every leaf of the output.

    Args:
      f: the function to wrap (for example a module that needs a batch axis).
      axis: where the axis goes: ``0`` (default) or ``-1``.

    Returns:
      The wrapped function.

    Raises:
      InvalidArgumentError: ``axis`` is neither 0 nor -1 (a ``ValueError``).
      NotCallableError: ``f`` is not callable (a ``TypeError``).

    Examples:
      >>> from minihaiku.layers import expand_apply
      >>> expand_apply(lambda x: x.sum(axis=1))(jnp.arange(3.0))
      Array(3., dtype=float32)
    """
    check_callable(f, "f", "expand_apply")
    if axis not in (0, -1):
        raise InvalidArgumentError(
            f"expand_apply: axis must be 0 or -1 (where the axis of size 1 is added), got "
            f"{axis!r:.40}. Pass axis=0 or axis=-1, or add the axis yourself with "
            "jnp.expand_dims."
        )

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        args, kwargs = jax.tree_util.tree_map(lambda t: jnp.expand_dims(t, axis), (args, kwargs))
        return jax.tree_util.tree_map(lambda t: jnp.squeeze(t, axis), f(*args, **kwargs))

    return wrapper


def one_hot(x: Any, num_classes: int, dtype: Any = jnp.float32) -> jax.Array:
    """One-hot encodes ``x`` with ``num_classes`` classes, as dm-haiku's ``hk.one_hot``.

    Out-of-range indices give all-zero rows (:func:`jax.nn.one_hot`).

    Args:
      x: integer class indices, of any shape.
      num_classes: the number of classes (the size of the new last axis).
      dtype: the output's dtype; default float32.

    Examples:
      >>> from minihaiku.layers import one_hot
      >>> one_hot(jnp.array([0, 2]), 3)
      Array([[1., 0., 0.],
             [0., 0., 1.]], dtype=float32)
    """
    return jax.nn.one_hot(x, num_classes, dtype=dtype)


def multinomial(rng: Any, logits: Any, num_samples: int) -> jax.Array:
    """Draws ``num_samples`` class indices from ``logits``, as dm-haiku's ``hk.multinomial``.

    Sampled with replacement along the last axis of ``logits``; the same
    samples as dm-haiku for the same key.

    Args:
      rng: a PRNG key.
      logits: unnormalized log-probabilities, ``[..., num_classes]``.
      num_samples: the number of samples per distribution.

    Returns:
      An int array of shape ``logits.shape[:-1] + (num_samples,)``.

    Examples:
      >>> from minihaiku.layers import multinomial
      >>> multinomial(jax.random.PRNGKey(0), jnp.zeros((2, 5)), 3).shape
      (2, 3)
    """
    num_samples = check_positive_int(num_samples, "num_samples", "multinomial")
    logits = jnp.asarray(logits)
    shape = (num_samples, *logits.shape[:-1])
    return jnp.moveaxis(jax.random.categorical(rng, logits, axis=-1, shape=shape), 0, -1)


def get_channel_index(data_format: str) -> int:
    """The channel axis (1 or -1) of ``data_format``, as dm-haiku's ``hk.get_channel_index``.

    Raises:
      InvalidArgumentError: an unknown format (a ``ValueError``).

    Examples:
      >>> from minihaiku.layers import get_channel_index
      >>> get_channel_index("NCHW"), get_channel_index("NHWC"), get_channel_index("channels_last")
      (1, -1, -1)
    """
    return channel_index(data_format, "data_format", "get_channel_index")
