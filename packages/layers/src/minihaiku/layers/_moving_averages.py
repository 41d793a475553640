"""``ExponentialMovingAverage``, as dm-haiku's."""

from __future__ import annotations

import functools
import operator
import warnings
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from minihaiku.core import (
    Initializer,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    Module,
    get_state,
    keyless,
    set_state,
)
from minihaiku.core.checks import is_tracer
from minihaiku.initializers import zeros

__all__ = ["ExponentialMovingAverage"]


class ExponentialMovingAverage(Module, method_scopes=False):
    """An exponential moving average with Adam's debiasing, as ``hk.ExponentialMovingAverage``.

    Each call ``hidden = hidden * decay + value * (1 - decay)`` and, with
    ``zero_debias``, ``average = hidden / (1 - decay**counter)``. State, at
    module level (``~/ExponentialMovingAverage_0/hidden``, as dm-haiku's leaf
    names): ``counter`` (int32, starts at ``-warmup_length``), ``hidden`` and
    ``average``.

    Args:
      decay: the decay, in ``[0, 1)``: close to 1 decays slowly.
      zero_debias: divide by ``1 - decay**counter`` so that early averages are
        not biased towards the zero start.
      warmup_length: for the first ``warmup_length`` calls the average is just
        the value (decay 0); needs ``zero_debias=False``.
      name: the module's name; default ``ExponentialMovingAverage_N``.
      axes: logical axis names of the averaged value (one per dimension),
        given to the state entries ``hidden`` and ``average`` for sharding;
        default ``None`` (unannotated). ``BatchNorm`` sets its channel name
        here. Keyword-only (not in dm-haiku).

    Examples:
      >>> from minihaiku.core import transform_with_state
      >>> from minihaiku.layers import ExponentialMovingAverage
      >>> f = transform_with_state(lambda x: ExponentialMovingAverage(0.5)(x))
      >>> params, state = f.init(0, 1.0)
      >>> sorted(state)  # doctest: +NORMALIZE_WHITESPACE
      ['~/ExponentialMovingAverage_0/average', '~/ExponentialMovingAverage_0/counter',
       '~/ExponentialMovingAverage_0/hidden']
      >>> out, state = f.apply(params, state, 2.0)
      >>> float(out), int(state["~/ExponentialMovingAverage_0/counter"])
      (2.0, 1)
      >>> out, state = f.apply(params, state, 4.0)
      >>> round(float(out), 4)  # (0.5 * 1 + 0.5 * 4) / (1 - 0.5**2)
      3.3333
    """

    def __init__(
        self,
        decay: float | jax.Array,
        zero_debias: bool = True,
        warmup_length: int = 0,
        name: str | None = None,
        *,
        axes: Sequence[str | None] | None = None,
    ) -> None:
        super().__init__(name=name)
        where = self.module_label
        if isinstance(warmup_length, bool):
            raise InvalidArgumentTypeError(f"{where}: warmup_length must be an int, got a bool.")
        try:
            warmup = operator.index(warmup_length)
        except TypeError:
            raise InvalidArgumentTypeError(
                f"{where}: warmup_length must be an int, got "
                f"{type(warmup_length).__name__} {warmup_length!r:.60}."
            ) from None
        if warmup < 0:
            raise InvalidArgumentError(
                f"{where}: warmup_length is {warmup}, but should be non-negative. "
                "Pass 0 for no warm-up."
            )
        if warmup and zero_debias:
            raise InvalidArgumentError(
                f"{where}: zero debiasing does not make sense when warming up the "
                "average to an initial value. Set zero_debias=False when setting "
                f"warmup_length to a non-zero value (got warmup_length={warmup})."
            )
        if isinstance(decay, (int, float, np.integer, np.floating)) and not (
            0.0 <= decay < 1.0 or (decay == 1.0 and not zero_debias)
        ):
            raise InvalidArgumentError(
                f"{where}: decay must be in [0, 1), got {decay!r}. Values close to 1 "
                "average over many steps (e.g. 0.99), values close to 0 over few."
            )
        self.decay = decay
        self.zero_debias = bool(zero_debias)
        self.warmup_length = warmup
        self.axes = axes

    def initialize(self, shape: Sequence[int] | Any, dtype: Any = jnp.float32) -> None:
        """Creates ``hidden`` and ``average`` as zeros of ``shape``/``dtype`` if missing.

        Passing an array instead of a shape is deprecated (as in dm-haiku).

        Examples:
          >>> from minihaiku.core import transform_with_state
          >>> from minihaiku.layers import ExponentialMovingAverage
          >>> f = lambda: ExponentialMovingAverage(0.9, name="ema").initialize((2,))
          >>> {k: v.shape for k, v in transform_with_state(f).init(0)[1].items()}
          {'~/ema/hidden': (2,), '~/ema/average': (2,)}
        """
        if hasattr(shape, "shape"):
            warnings.warn(
                f"{self.module_label}: passing a value to "
                "initialize instead of a shape and dtype is deprecated. Use "
                "ema.initialize(v.shape, v.dtype).",
                DeprecationWarning,
                stacklevel=3,
            )
            shape, dtype = shape.shape, shape.dtype
        get_state("hidden", shape, dtype, init=zeros(), axes=self.axes)
        get_state("average", shape, dtype, init=zeros(), axes=self.axes)

    def __call__(self, value: float | jax.Array, update_stats: bool = True) -> jax.Array:
        """Updates the average with ``value`` and returns the new average.

        Args:
          value: the value to average (an array or a number).
          update_stats: store the new state; with ``False`` the state is left
            as it was (the returned average is still computed with ``value``).

        Returns:
          The (debiased) exponentially weighted average.
        """
        value = jnp.asarray(value)
        stored = get_state("counter", (), jnp.int32, init=_counter_init(-self.warmup_length))
        counter = stored + 1
        decay = jax.lax.convert_element_type(self.decay, value.dtype)
        if self.warmup_length > 0:
            decay = jnp.where(counter <= 0, jnp.zeros_like(decay), decay)
        one = jnp.ones([], value.dtype)
        hidden = get_state("hidden", value.shape, value.dtype, init=zeros(), axes=self.axes)
        hidden = hidden * decay + value * (one - decay)
        average = hidden
        if self.zero_debias:
            average /= one - jnp.power(decay, _step(stored, counter))
        if update_stats:
            set_state("counter", counter)
            set_state("hidden", hidden, axes=self.axes)
            set_state("average", average, axes=self.axes)
        return average

    @property
    def average(self) -> jax.Array:
        """The current average (the state ``average``)."""
        return get_state("average")


#: The last counter ``_counter_init`` made and its value (read back without waiting).
_MADE: list[tuple[jax.Array, int]] = []


def _step(stored: jax.Array, counter: jax.Array) -> int | jax.Array:
    """The exponent of the debiasing: ``stored + 1`` as an int when not traced.

    ``jnp.power`` turns a concrete integer exponent into an int anyway (then
    ``lax.integer_pow``, the same bits); reading ``counter`` for it waits for
    every computation queued before its ``+ 1`` (the forward pass so far). The
    value comes from :func:`_counter_init` when it made ``stored``, else from
    ``stored`` (an input, already computed).
    """
    for x in (counter, stored):
        if not isinstance(x, jax.Array) or is_tracer(x):
            return counter  # traced (tested by type: a tracer's failed index costs ms in a trace)
    if _MADE and _MADE[0][0] is stored:
        return _MADE[0][1] + 1
    return operator.index(stored) + 1


@functools.lru_cache(maxsize=64)
def _counter_init(start: int) -> Initializer:
    """The counter's first value ``start`` (``constant(start)``'s bits), remembered in ``_MADE``."""

    @keyless
    def init(key: Any, shape: Sequence[int], dtype: Any = jnp.int32) -> jax.Array:
        value = jnp.asarray(np.full(tuple(shape), start, dtype))
        _MADE[:] = [(value, start)]
        return value

    return init
