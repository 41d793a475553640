"""``Bias``: adds a learned bias to its input, as dm-haiku's ``hk.Bias``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core import (
    InitLike,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    Module,
    get_param,
)
from minihaiku.core.checks import check_initializer, prefix
from minihaiku.initializers import zeros
from minihaiku.layers._checks import check_size

__all__ = ["Bias"]


def _int_tuple(value: Any, name: str, where: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    if (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return tuple(value)
    raise InvalidArgumentTypeError(
        f"{prefix(where)}{name} must be a sequence of ints or None, got "
        f"{type(value).__name__} {value!r:.60}. Pass e.g. {name}=[-1]."
    )


class Bias(Module):
    """Adds a bias ``b`` to the input, broadcast over the batch axis, as dm-haiku's.

    ``b`` spans the input axes in ``bias_dims`` (default: every axis but the
    first, the batch), with size 1 on the other axes after the first kept one:
    for an input ``(N, 3, 4)``, ``bias_dims=[1]`` gives ``b`` of shape
    ``(3, 1)``, ``[-1]`` gives ``(4,)`` and ``[]`` a scalar. ``b`` has the
    input's dtype.

    Args:
      output_size: if given, the input's shape without the batch axis must be
        this (checked at call).
      bias_dims: the input axes ``b`` spans (not 0, the batch); default all
        others.
      b_init: initializer of ``b``; default zeros.
      name: the module's name; default ``Bias_N``.

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import Bias
      >>> f = transform(lambda x: Bias(bias_dims=[1], b_init="ones")(x, multiplier=2.0))
      >>> params = f.init(0, jnp.zeros((2, 3, 4)))
      >>> params["~/Bias_0/__call__/b"].shape
      (3, 1)
      >>> f.apply(params, jnp.zeros((2, 3, 4)))[0, 0]
      Array([2., 2., 2., 2.], dtype=float32)
    """

    def __init__(
        self,
        output_size: Sequence[int] | None = None,
        bias_dims: Sequence[int] | None = None,
        b_init: InitLike = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        where = self.module_label
        sizes = _int_tuple(output_size, "output_size", where)
        self.output_size = (
            None if sizes is None else tuple(check_size(s, "output_size", where) for s in sizes)
        )
        self.bias_dims = _int_tuple(bias_dims, "bias_dims", where)
        self.b_init = check_initializer(b_init, "b_init", where, default=zeros())

    def _bias_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        where = self.module_label
        rank = len(shape)
        dims = range(1, rank) if self.bias_dims is None else self.bias_dims
        bad = [d for d in dims if not -rank <= d < rank]
        if bad:
            raise InvalidArgumentError(
                f"{prefix(where)}bias_dims {list(dims)} has axes {bad} that an input of "
                f"shape {shape} lacks. Pass axes between 1 and {rank - 1} (or -1)."
            )
        kept = {d % rank for d in dims}
        if 0 in kept:
            raise InvalidArgumentError(
                f"{prefix(where)}cannot apply a bias across the minibatch dimension (axis 0 "
                f"is in bias_dims {list(dims)}). Drop 0 from bias_dims."
            )
        if not kept:
            return ()
        return tuple(shape[d] if d in kept else 1 for d in range(min(kept), rank))

    @staticmethod
    def _bias_as_added(b: jax.Array, out: jax.Array) -> jax.Array:
        """The bias as added to ``out``: ``b`` itself (minihaiku.haiku broadcasts it first)."""
        del out
        return b

    def __call__(self, inputs: jax.Array, multiplier: float | jax.Array | None = None) -> jax.Array:
        """``inputs + b`` (times ``multiplier`` if given)."""
        where = self.module_label
        x = jnp.asarray(inputs)
        if x.ndim < 2:
            raise InvalidArgumentError(
                f"{prefix(where)}the input must have rank >= 2 (a batch axis first), got "
                f"shape {x.shape}. Add a batch axis, e.g. x[None]."
            )
        if self.output_size is not None and self.output_size != x.shape[1:]:
            raise InvalidArgumentError(
                f"{prefix(where)}the input's shape must be {(-1, *self.output_size)} "
                f"(output_size={self.output_size}), got {x.shape}. Pass an input of that "
                "shape, or construct Bias without output_size."
            )
        b = get_param("b", self._bias_shape(x.shape), x.dtype, self.b_init)
        b = self._bias_as_added(b, x)
        if multiplier is not None:
            b = b * multiplier
        return x + b
