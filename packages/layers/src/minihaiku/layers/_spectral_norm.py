"""``SpectralNorm``, as dm-haiku's."""

from __future__ import annotations

import operator
from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    Module,
    get_state,
    set_state,
)
from minihaiku.initializers import normal, ones

__all__ = ["SpectralNorm"]


def _l2_normalize(x: jax.Array, eps: float) -> jax.Array:
    return x * jax.lax.rsqrt((x * x).sum(keepdims=True) + eps)


class SpectralNorm(Module, method_scopes=False):
    """Divides a matrix by its largest singular value, as ``hk.SpectralNorm``.

    The singular value is estimated by ``n_steps`` of power iteration from the
    state ``u0`` (shape ``(1, columns)``, drawn from a standard normal at
    init); the estimate is kept in the state ``sigma``. Inputs of rank > 2 are
    flattened to ``(-1, last axis)``. State lives at module level
    (``~/SpectralNorm_0/u0``, ``~/SpectralNorm_0/sigma``).

    Args:
      eps: added under the square roots of the normalizations. Default ``1e-4``.
      n_steps: power-iteration steps per call (at least 1).
      name: the module's name; default ``SpectralNorm_N``.

    Examples:
      >>> from minihaiku.core import transform_with_state
      >>> from minihaiku.layers import SpectralNorm
      >>> f = transform_with_state(lambda w: SpectralNorm(n_steps=20)(w))
      >>> w = jnp.array([[3.0, 0.0], [0.0, 1.0]])
      >>> params, state = f.init(0, w)
      >>> sorted(state)
      ['~/SpectralNorm_0/sigma', '~/SpectralNorm_0/u0']
      >>> out, state = f.apply(params, state, w)
      >>> np.round(np.asarray(out), 3)
      array([[1.   , 0.   ],
             [0.   , 0.333]], dtype=float32)
    """

    def __init__(self, eps: float = 1e-4, n_steps: int = 1, name: str | None = None) -> None:
        super().__init__(name=name)
        where = self.module_label
        if isinstance(n_steps, bool):
            raise InvalidArgumentTypeError(f"{where}: n_steps must be an int, got a bool.")
        try:
            steps = operator.index(n_steps)
        except TypeError:
            raise InvalidArgumentTypeError(
                f"{where}: n_steps must be an int, got {type(n_steps).__name__} {n_steps!r:.60}."
            ) from None
        if steps < 1:
            raise InvalidArgumentError(
                f"{where}: n_steps must be at least 1 (power-iteration steps per call), "
                f"got {steps}."
            )
        self.eps = eps
        self.n_steps = steps

    def __call__(
        self, value: Any, update_stats: bool = True, error_on_non_matrix: bool = False
    ) -> jax.Array:
        """Returns ``value`` divided by its estimated largest singular value.

        Args:
          value: a matrix (rank > 2 is flattened to ``(-1, value.shape[-1])``).
          update_stats: store the new ``u0`` and ``sigma`` in the state.
          error_on_non_matrix: refuse inputs of rank > 2 instead of flattening.

        Returns:
          The normalized value, of the shape of ``value``.
        """
        where = self.module_label
        value = jnp.asarray(value)
        value_shape = value.shape
        if value.ndim <= 1:
            raise InvalidArgumentError(
                f"{where}: spectral normalization is not defined for scalar or vector "
                f"inputs, got shape {value_shape}. Pass a matrix (rank >= 2)."
            )
        if value.ndim > 2:
            if error_on_non_matrix:
                raise InvalidArgumentError(
                    f"{where}: the input has rank {value.ndim} (shape {value_shape}) but "
                    "error_on_non_matrix is True. Pass a matrix, or "
                    "error_on_non_matrix=False to flatten the leading axes."
                )
            value = jnp.reshape(value, [-1, value.shape[-1]])
        u0 = get_state("u0", [1, value.shape[-1]], value.dtype, init=normal())
        v0 = u0
        for _ in range(self.n_steps):
            v0 = _l2_normalize(jnp.matmul(u0, value.transpose([1, 0])), eps=self.eps)
            u0 = _l2_normalize(jnp.matmul(v0, value), eps=self.eps)
        u0 = jax.lax.stop_gradient(u0)
        v0 = jax.lax.stop_gradient(v0)
        sigma = jnp.matmul(jnp.matmul(v0, value), jnp.transpose(u0))[0, 0]
        value /= sigma
        if update_stats:
            set_state("u0", u0)
            set_state("sigma", sigma)
        return jnp.reshape(value, value_shape)

    @property
    def u0(self) -> jax.Array:
        """The state ``u0``: the current estimate of the first right singular vector."""
        return get_state("u0")

    @property
    def sigma(self) -> jax.Array:
        """The state ``sigma``: the last estimate of the largest singular value (1 at first)."""
        return get_state("sigma", shape=(), init=ones())
