"""``VectorQuantizerEMA``: the VQ-VAE bottleneck whose codebook follows moving averages."""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core import InvalidArgumentError, Module, get_state, set_state
from minihaiku.initializers import lecun_uniform
from minihaiku.layers._checks import check_real, check_size
from minihaiku.layers._moving_averages import ExponentialMovingAverage
from minihaiku.layers.nets._vqvae import check_inputs, quantize_outputs

__all__ = ["VectorQuantizerEMA"]


class VectorQuantizerEMA(Module, method_scopes=False):
    r"""A :class:`VectorQuantizer` whose codebook is updated by moving averages, as dm-haiku's.

    The codebook is the STATE ``embeddings`` (``~/VectorQuantizerEMA_0/embeddings``),
    not a parameter: in training each call updates the
    :class:`~minihaiku.layers.ExponentialMovingAverage` submodules
    ``ema_cluster_size`` and ``ema_dw`` and sets the codebook to their ratio,
    whatever optimizer trains the rest. The loss is ``commitment_cost *
    e_latent``. Use :func:`minihaiku.core.transform_with_state`.

    Args:
      embedding_dim: size of each vector (the inputs' last axis).
      num_embeddings: number of codes.
      commitment_cost: weight of the commitment loss.
      decay: decay of the moving averages, in ``[0, 1]``.
      epsilon: added to the cluster sizes for stability (default ``1e-5``).
      dtype: dtype of the codebook and averages (default float32).
      cross_replica_axis: a mapped axis name over which to sum the cluster
        statistics and average the perplexity.
      name: the module's name; default ``VectorQuantizerEMA_N``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform_with_state
      >>> from minihaiku.layers.nets import VectorQuantizerEMA
      >>> f = transform_with_state(lambda x: VectorQuantizerEMA(4, 16, 0.25, 0.99)(x, True))
      >>> x = jnp.ones((2, 3, 4))
      >>> params, state = f.init(0, x)
      >>> params, state["~/VectorQuantizerEMA_0/embeddings"].shape
      ({}, (4, 16))
      >>> out, state = f.apply(params, state, x)
      >>> out["quantize"].shape
      (2, 3, 4)
    """

    def __init__(
        self,
        embedding_dim: int,
        num_embeddings: int,
        commitment_cost: float,
        decay: float,
        epsilon: float = 1e-5,
        dtype: Any = jnp.float32,
        cross_replica_axis: str | None = None,
        name: str | None = None,
    ):
        super().__init__(name=name)
        where = self.module_label
        d: Any = decay
        if isinstance(d, bool) or not isinstance(d, numbers.Real) or not 0 <= float(d) <= 1:
            raise InvalidArgumentError(
                f"{where}: decay must be in range [0, 1], got {decay!r:.40}. Pass e.g. "
                "decay=0.99 (closer to 1 updates the codebook more slowly)."
            )
        self.embedding_dim = check_size(embedding_dim, "embedding_dim", where)
        self.num_embeddings = check_size(num_embeddings, "num_embeddings", where)
        self.commitment_cost = check_real(commitment_cost, "commitment_cost", where)
        self.epsilon = check_real(epsilon, "epsilon", where, example=1e-5)
        self.decay = float(decay)
        self.cross_replica_axis = cross_replica_axis
        self._embedding_shape = (self.embedding_dim, self.num_embeddings)
        self._dtype = dtype
        self._ema_cluster_size = ExponentialMovingAverage(decay=self.decay, name="ema_cluster_size")
        self._ema_dw = ExponentialMovingAverage(decay=self.decay, name="ema_dw")

    @property
    def embeddings(self) -> jax.Array:
        """The codebook (state), ``(embedding_dim, num_embeddings)``."""
        return get_state("embeddings", self._embedding_shape, self._dtype, init=lecun_uniform())

    @property
    def ema_cluster_size(self) -> ExponentialMovingAverage:
        """The moving average of the cluster sizes (its state created if missing)."""
        self._ema_cluster_size.initialize([self.num_embeddings], self._dtype)
        return self._ema_cluster_size

    @property
    def ema_dw(self) -> ExponentialMovingAverage:
        """The moving average of the summed inputs per code (its state created if missing)."""
        self._ema_dw.initialize(self._embedding_shape, self._dtype)
        return self._ema_dw

    def __call__(self, inputs: Any, is_training: bool) -> dict[str, jax.Array]:
        """Quantizes ``inputs`` (``[..., embedding_dim]``); in training, updates the codebook.

        Returns:
          A dict with ``quantize``, ``loss``, ``perplexity``, ``encodings``,
          ``encoding_indices`` and ``distances``, as :class:`VectorQuantizer`.
        """
        where = self.module_label
        inputs = check_inputs(inputs, "inputs", where, embedding_dim=self.embedding_dim)
        flat_inputs = jnp.reshape(inputs, [-1, self.embedding_dim])
        axis = self.cross_replica_axis

        def loss_of(quantized: jax.Array) -> jax.Array:
            e_latent = jnp.mean(jnp.square(jax.lax.stop_gradient(quantized) - inputs))
            return self.commitment_cost * e_latent

        if is_training and flat_inputs.shape[0] == 0:
            raise InvalidArgumentError(
                f"{where}: is_training=True on inputs of shape {inputs.shape} with no "
                "vectors: the codebook update would divide by zero counts (NaN codes "
                "from the first step on). Skip empty batches, or call with "
                "is_training=False."
            )
        out = quantize_outputs(inputs, self.embeddings, loss_of, axis)
        if is_training:
            encodings = out["encodings"]
            cluster_size = jnp.sum(encodings, axis=0)
            dw = jnp.matmul(flat_inputs.T, encodings)
            if axis:
                cluster_size = jax.lax.psum(cluster_size, axis_name=axis)  # type: ignore[no-untyped-call]
                dw = jax.lax.psum(dw, axis_name=axis)  # type: ignore[no-untyped-call]
            updated_cluster_size = self.ema_cluster_size(cluster_size)
            updated_dw = self.ema_dw(dw)
            n = jnp.sum(updated_cluster_size)
            updated_cluster_size = (
                (updated_cluster_size + self.epsilon) / (n + self.num_embeddings * self.epsilon) * n
            )
            set_state("embeddings", updated_dw / jnp.reshape(updated_cluster_size, [1, -1]))
        return out

    def quantize(self, encoding_indices: Any) -> jax.Array:
        """The codes of ``encoding_indices``, of shape ``indices.shape + (embedding_dim,)``."""
        return self.embeddings.swapaxes(1, 0)[(jnp.asarray(encoding_indices),)]
