"""``Linear``: ``y = x @ w + b``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from minihaiku.core import InitLike, InvalidArgumentError, Module, get_param
from minihaiku.core.checks import check_initializer
from minihaiku.initializers import lecun_normal, zeros
from minihaiku.layers._axes import LINEAR_AXES, Pair, check_axis_pair
from minihaiku.layers._checks import check_size

__all__ = ["Linear"]

DEFAULT_W_INIT = lecun_normal()
DEFAULT_B_INIT = zeros()


class Linear(Module):
    """A linear layer: ``x @ w + b`` over the last axis of ``x``.

    Parameters: ``w`` of shape ``(x.shape[-1], output_size)`` and, with
    ``with_bias``, ``b`` of shape ``(output_size,)``, in the dtype of ``x``.

    Args:
      output_size: number of output features (a positive int).
      with_bias: add the bias ``b``.
      w_init: initializer of ``w``: a callable ``(key, shape, dtype)`` or a
        registered name. Default: ``lecun_normal`` (truncated normal with
        variance 1/fan_in), as Flax (dm-haiku's truncated normal is not rescaled:
        variance 0.77/fan_in). Pass ``"normal"`` for the seed's stddev-1 normal.
      b_init: initializer of ``b``. Default: zeros.
      name: the module's name; default ``Linear_N``.
      axes: the logical axis names (input, output) of ``w`` for sharding;
        ``b`` gets the output name. Default ``("embed", "mlp")``; ``None``
        leaves both unannotated (replicated). Keyword-only (not in dm-haiku).

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> f = transform(lambda x: Linear(4)(x))
      >>> params = f.init(0, jnp.ones((2, 3)))
      >>> {k: v.shape for k, v in params.items()}
      {'~/Linear_0/__call__/w': (3, 4), '~/Linear_0/__call__/b': (4,)}
    """

    def __init__(
        self,
        output_size: int,
        with_bias: bool = True,
        w_init: InitLike = None,
        b_init: InitLike = None,
        name: str | None = None,
        *,
        axes: Pair = LINEAR_AXES,
    ) -> None:
        super().__init__(name=name)
        where = self.module_label
        self.axes = check_axis_pair(axes, "axes", where)
        self._b_axes = None if self.axes is None else self.axes[1:]
        self.output_size = check_size(output_size, "output_size", where)
        self.input_size: int | None = None
        self.with_bias = bool(with_bias)
        self.w_init = check_initializer(w_init, "w_init", where, default=DEFAULT_W_INIT)
        self.b_init = check_initializer(b_init, "b_init", where, default=DEFAULT_B_INIT)

    @staticmethod
    def _add_bias(out: jax.Array, b: jax.Array) -> jax.Array:
        """``out + b`` (minihaiku.haiku broadcasts ``b`` first, as dm-haiku)."""
        return out + b

    def __call__(
        self, inputs: jax.Array | np.ndarray, *, precision: lax.Precision | None = None
    ) -> jax.Array:
        """Applies the layer to ``inputs`` of shape ``(..., features)`` (jax or numpy).

        Args:
          inputs: the input array.
          precision: passed to :func:`jax.numpy.matmul` (e.g.
            ``jax.lax.Precision.HIGHEST``), as dm-haiku's ``precision``.

        Returns:
          An array of shape ``(..., output_size)``.
        """
        x = inputs
        shape = getattr(x, "shape", None)
        if not shape:
            raise InvalidArgumentError(
                f"{self.module_label} needs an input with a feature axis "
                f"(shape (..., features)), got "
                f"{'shape ()' if shape == () else type(x).__name__}. Add an axis, "
                "e.g. x[..., None] or x.reshape(-1, 1)."
            )
        dtype = x.dtype
        if not isinstance(x, jax.Array):  # numpy float64 input with x64 off
            dtype = jax.dtypes.canonicalize_dtype(dtype)
        self.input_size = int(shape[-1])
        w = get_param("w", (shape[-1], self.output_size), dtype, self.w_init, axes=self.axes)
        out = jnp.matmul(x, w, precision=precision)
        if self.with_bias:
            b = get_param("b", (self.output_size,), dtype, self.b_init, axes=self._b_axes)
            out = self._add_bias(out, b)
        return out
