"""``VectorQuantizer``: the VQ-VAE bottleneck (van den Oord et al. 2017), as dm-haiku's."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core import InvalidArgumentError, Module, get_param
from minihaiku.core.checks import prefix
from minihaiku.initializers import lecun_uniform
from minihaiku.layers._checks import check_real, check_size

__all__ = ["VectorQuantizer", "quantize_outputs"]


def check_inputs(value: Any, name: str, where: str, *, embedding_dim: int) -> jax.Array:
    """``value`` as an array whose last axis is ``embedding_dim``, else raises."""
    x: jax.Array = jnp.asarray(value)
    if x.ndim == 0 or x.shape[-1] != embedding_dim:
        raise InvalidArgumentError(
            f"{prefix(where)}{name} must have a last axis of size embedding_dim="
            f"{embedding_dim}, got shape {tuple(x.shape)}. Project the inputs to "
            f"{embedding_dim} features first (e.g. a 1x1 Conv2D)."
        )
    return x


def quantize_outputs(
    inputs: jax.Array,
    embeddings: jax.Array,
    loss_of: Any,
    cross_replica_axis: str | None,
) -> dict[str, jax.Array]:
    """The shared VQ computation: nearest codes, straight-through output, perplexity.

    ``loss_of(quantized)`` gives the loss from the (not yet straight-through)
    quantized inputs.
    """
    embedding_dim, num_embeddings = embeddings.shape
    flat_inputs = jnp.reshape(inputs, [-1, embedding_dim])
    distances = (
        jnp.sum(jnp.square(flat_inputs), 1, keepdims=True)
        - 2 * jnp.matmul(flat_inputs, embeddings)
        + jnp.sum(jnp.square(embeddings), 0, keepdims=True)
    )
    encoding_indices = jnp.argmax(-distances, 1)
    encodings = jax.nn.one_hot(encoding_indices, num_embeddings, dtype=distances.dtype)
    encoding_indices = jnp.reshape(encoding_indices, inputs.shape[:-1])
    quantized = embeddings.swapaxes(1, 0)[(encoding_indices,)]
    loss = loss_of(quantized)
    quantized = inputs + jax.lax.stop_gradient(quantized - inputs)  # straight through
    avg_probs = jnp.mean(encodings, 0)
    if cross_replica_axis:
        avg_probs = jax.lax.pmean(avg_probs, axis_name=cross_replica_axis)  # type: ignore[no-untyped-call]
    perplexity = jnp.exp(-jnp.sum(avg_probs * jnp.log(avg_probs + 1e-10)))
    return {
        "quantize": quantized,
        "loss": loss,
        "perplexity": perplexity,
        "encodings": encodings,
        "encoding_indices": encoding_indices,
        "distances": distances,
    }


class VectorQuantizer(Module, method_scopes=False):
    """Quantizes each vector of the last axis to its nearest of ``num_embeddings`` codes.

    The codebook is the parameter ``embeddings`` of shape ``(embedding_dim,
    num_embeddings)``, at module level (``~/VectorQuantizer_0/embeddings``, shared
    by ``__call__``, ``quantize`` and the ``embeddings`` property), initialized
    with dm-haiku's ``VarianceScaling(distribution="uniform")``, i.e.
    ``lecun_uniform``. The loss is ``q_latent + commitment_cost *
    e_latent``; the output passes gradients straight through to the inputs.

    Args:
      embedding_dim: size of each vector (the inputs' last axis).
      num_embeddings: number of codes.
      commitment_cost: weight of the commitment loss (beta in the paper).
      dtype: dtype of the codebook (default float32).
      name: the module's name; default ``VectorQuantizer_N``.
      cross_replica_axis: a ``pmap``/``shard_map`` axis name to average the
        perplexity over replicas.

    Examples:
      >>> import jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers.nets import VectorQuantizer
      >>> f = transform(lambda x: VectorQuantizer(4, 16, 0.25)(x, is_training=True))
      >>> x = jnp.ones((2, 3, 4))
      >>> out = f.apply(f.init(0, x), x)
      >>> out["quantize"].shape, out["encoding_indices"].shape, out["encodings"].shape
      ((2, 3, 4), (2, 3), (6, 16))
    """

    def __init__(
        self,
        embedding_dim: int,
        num_embeddings: int,
        commitment_cost: float,
        dtype: Any = jnp.float32,
        name: str | None = None,
        cross_replica_axis: str | None = None,
    ):
        super().__init__(name=name)
        where = self.module_label
        self.embedding_dim = check_size(embedding_dim, "embedding_dim", where)
        self.num_embeddings = check_size(num_embeddings, "num_embeddings", where)
        self.commitment_cost = check_real(commitment_cost, "commitment_cost", where)
        self.cross_replica_axis = cross_replica_axis
        self._embedding_shape = (self.embedding_dim, self.num_embeddings)
        self._embedding_dtype = dtype

    @property
    def embeddings(self) -> jax.Array:
        """The codebook, ``(embedding_dim, num_embeddings)``."""
        return get_param(
            "embeddings", self._embedding_shape, self._embedding_dtype, lecun_uniform()
        )

    def __call__(self, inputs: Any, is_training: bool) -> dict[str, jax.Array]:
        """Quantizes ``inputs`` (``[..., embedding_dim]``).

        Returns:
          A dict with ``quantize`` (the inputs' shape), ``loss``, ``perplexity``,
          ``encodings`` (one-hot, ``[N, num_embeddings]``), ``encoding_indices``
          (the inputs' shape without the last axis) and ``distances``.
        """
        del is_training  # the same computation in training and evaluation
        inputs = check_inputs(inputs, "inputs", self.module_label, embedding_dim=self.embedding_dim)

        def loss_of(quantized: jax.Array) -> jax.Array:
            e_latent = jnp.mean(jnp.square(jax.lax.stop_gradient(quantized) - inputs))
            q_latent = jnp.mean(jnp.square(quantized - jax.lax.stop_gradient(inputs)))
            return q_latent + self.commitment_cost * e_latent

        return quantize_outputs(inputs, self.embeddings, loss_of, self.cross_replica_axis)

    def quantize(self, encoding_indices: Any) -> jax.Array:
        """The codes of ``encoding_indices``, of shape ``indices.shape + (embedding_dim,)``."""
        return self.embeddings.swapaxes(1, 0)[(jnp.asarray(encoding_indices),)]
