"""``Reshape`` and ``Flatten``, as dm-haiku's."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError, Module

__all__ = ["Flatten", "Reshape"]


class Reshape(Module):
    """Reshapes the input, keeping its leading axes, as dm-haiku's ``hk.Reshape``.

    Args:
      output_shape: the new shape of the axes after the first
        ``preserve_dims``; one entry may be ``-1`` (inferred).
      preserve_dims: the number of leading axes kept as they are (an input
        with no more axes than that is returned unchanged); a negative value
        is the number of trailing axes replaced by ``output_shape``.
      name: the module's name; default ``Reshape_N``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import Reshape
      >>> x = jnp.ones((2, 3, 4, 5))
      >>> f = transform(lambda x: Reshape((-1, 5))(x))
      >>> f.apply({}, x).shape
      (2, 12, 5)
      >>> transform(lambda x: Reshape((-1, 5), preserve_dims=-2)(x)).apply({}, x[0]).shape
      (3, 4, 5)
    """

    def __init__(
        self, output_shape: Sequence[int], preserve_dims: int = 1, name: str | None = None
    ) -> None:
        super().__init__(name=name)
        where = self.module_label
        try:
            shape = tuple(operator.index(d) for d in output_shape)
        except TypeError:
            raise InvalidArgumentTypeError(
                f"{where}: output_shape must be a sequence of ints, got {output_shape!r:.60}. "
                "Pass e.g. output_shape=(-1, 8)."
            ) from None
        if preserve_dims == 0:
            raise InvalidArgumentError(
                f"{where}: preserve_dims must not be 0. Pass a positive number of leading "
                "axes to keep, or a negative number of trailing axes to reshape."
            )
        if shape.count(-1) > 1:
            raise InvalidArgumentError(
                f"{where}: output_shape {shape} has more than one -1; only one size can "
                "be inferred."
            )
        if any(d < -1 for d in shape):
            raise InvalidArgumentError(
                f"{where}: output_shape {shape} has a negative size other than -1."
            )
        self.output_shape = shape
        self.preserve_dims = operator.index(preserve_dims)

    def __call__(self, inputs: Any) -> jax.Array:
        """Reshapes ``inputs`` (returned as is when it has ``<= preserve_dims`` axes)."""
        x: jax.Array = jnp.asarray(inputs)
        if x.ndim <= self.preserve_dims:
            return x
        keep, rest = x.shape[: self.preserve_dims], x.shape[self.preserve_dims :]
        new = self.output_shape
        if -1 in new:
            known = abs(math.prod(new)) or 1
            new = tuple(math.prod(rest) // known if d == -1 else d for d in new)
        if math.prod(new) != math.prod(rest):
            raise InvalidArgumentError(
                f"{self.module_label} cannot reshape the axes {rest} of the input of shape "
                f"{x.shape} to output_shape {self.output_shape}: the sizes differ "
                f"({math.prod(rest)} vs {math.prod(new)}). Check output_shape and "
                "preserve_dims."
            )
        return jnp.reshape(x, keep + new)


class Flatten(Reshape):
    """Flattens every axis after the first ``preserve_dims``, as dm-haiku's ``hk.Flatten``.

    Args:
      preserve_dims: the number of leading axes kept (an input with no more
        axes than that is returned unchanged); a negative value is the number
        of trailing axes flattened.
      name: the module's name; default ``Flatten_N``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import Flatten
      >>> transform(lambda x: Flatten()(x)).apply({}, jnp.ones((3, 2, 4))).shape
      (3, 8)
      >>> transform(lambda x: Flatten(preserve_dims=-2)(x)).apply({}, jnp.ones((2, 4))).shape
      (8,)
    """

    def __init__(self, preserve_dims: int = 1, name: str | None = None) -> None:
        super().__init__(output_shape=(-1,), preserve_dims=preserve_dims, name=name)
