"""``Embed`` and ``EmbedLookupStyle``, as dm-haiku's."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from minihaiku.core import (
    InitLike,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    Module,
    get_param,
)
from minihaiku.core.checks import check_initializer, prefix
from minihaiku.initializers import truncated_normal
from minihaiku.layers._axes import EMBED_AXES, Pair, check_axis_pair
from minihaiku.layers._checks import check_size

__all__ = ["Embed", "EmbedLookupStyle"]


class EmbedLookupStyle(enum.Enum):
    """How ``Embed`` looks ids up (the result is the same; the speed differs).

    ``ARRAY_INDEX``: a gather, ``embeddings[ids]`` (fast on GPU, and on TPU for
    large vocabularies). ``ONE_HOT``: ``one_hot(ids) @ embeddings`` (often
    faster on TPU for small vocabularies).

    Examples:
      >>> from minihaiku.layers import EmbedLookupStyle
      >>> EmbedLookupStyle["ONE_HOT"]
      <EmbedLookupStyle.ONE_HOT: 2>
    """

    ARRAY_INDEX = 1
    ONE_HOT = 2


def _lookup_style(value: Any, name: str, where: str) -> EmbedLookupStyle:
    style = value
    if isinstance(style, EmbedLookupStyle):
        return style
    if isinstance(style, str):
        try:
            return EmbedLookupStyle[style.upper()]
        except KeyError:
            pass
    names = ", ".join(repr(s.name) for s in EmbedLookupStyle)
    raise InvalidArgumentError(
        f"{prefix(where)}unknown {name} {style!r:.60}. Use one of {names} (or an EmbedLookupStyle)."
    )


class Embed(Module, method_scopes=False):
    """A table of ``vocab_size`` vectors of size ``embed_dim``, as ``hk.Embed``.

    ``embed(ids)`` returns ``embeddings[ids]``, of shape
    ``ids.shape + (embed_dim,)``. The parameter ``embeddings`` lives at module
    level (``~/Embed_0/embeddings``), and the ``embeddings`` property returns
    that same parameter, so an output layer can share it (weight tying:
    ``logits = h @ embed.embeddings.T``).

    Args:
      vocab_size: the number of ids; may be omitted with ``embedding_matrix``.
      embed_dim: the size of each vector; may be omitted with ``embedding_matrix``.
      embedding_matrix: an initial ``(vocab_size, embed_dim)`` matrix; sizes
        given with it must agree with its shape.
      w_init: initializer of ``embeddings``; default truncated normal with
        stddev 1 (dm-haiku's).
      lookup_style: an ``EmbedLookupStyle`` or its name (``"ARRAY_INDEX"``,
        ``"ONE_HOT"``); may be overridden per call.
      name: the module's name; default ``Embed_N``.
      axes: the logical axis names (vocabulary, embedding) of ``embeddings``
        for sharding. Default ``("vocab", "embed")``; ``None``: unannotated.
        Keyword-only (not in dm-haiku).
      precision: the precision of the ``ONE_HOT`` matmul.

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import Embed
      >>> def lm(ids):
      ...   embed = Embed(vocab_size=10, embed_dim=4)
      ...   h = embed(ids)                 # (T, 4)
      ...   return h @ embed.embeddings.T  # tied output layer, (T, 10)
      >>> f = transform(lm)
      >>> params = f.init(0, jnp.array([1, 2, 3]))
      >>> {k: v.shape for k, v in params.items()}
      {'~/Embed_0/embeddings': (10, 4)}
      >>> f.apply(params, jnp.array([1, 2, 3])).shape
      (3, 10)
    """

    def __init__(
        self,
        vocab_size: int | None = None,
        embed_dim: int | None = None,
        embedding_matrix: np.ndarray[Any, Any] | jax.Array | None = None,
        w_init: InitLike = None,
        lookup_style: str | EmbedLookupStyle = "ARRAY_INDEX",
        name: str | None = None,
        precision: jax.lax.Precision = jax.lax.Precision.HIGHEST,
        *,
        axes: Pair = EMBED_AXES,
    ) -> None:
        super().__init__(name=name)
        where = self.module_label
        self.axes = check_axis_pair(axes, "axes", where)
        self._dtype: Any = jnp.float32
        if embedding_matrix is None:
            if vocab_size is None or embed_dim is None:
                raise InvalidArgumentError(
                    f"{where} needs either an initial embedding_matrix or both "
                    f"vocab_size and embed_dim (got vocab_size={vocab_size!r}, "
                    f"embed_dim={embed_dim!r}). Pass e.g. Embed(vocab_size=1000, "
                    "embed_dim=64)."
                )
            vocab_size = check_size(vocab_size, "vocab_size", where)
            embed_dim = check_size(embed_dim, "embed_dim", where)
            self.w_init = check_initializer(w_init, "w_init", where, default=truncated_normal())
        else:
            matrix = jnp.asarray(embedding_matrix)
            if matrix.ndim != 2:
                raise InvalidArgumentError(
                    f"{where}: embedding_matrix must be 2-D (vocab_size, embed_dim), "
                    f"got shape {matrix.shape}."
                )
            for what, given, axis in (("vocab_size", vocab_size, 0), ("embed_dim", embed_dim, 1)):
                if given and given != matrix.shape[axis]:
                    raise InvalidArgumentError(
                        f"{where}: an embedding_matrix of shape {matrix.shape} was "
                        f"given, but {what}={given} does not match it. Drop {what} "
                        "(it is read from the matrix) or pass a matching one."
                    )
            if w_init is not None:
                raise InvalidArgumentError(
                    f"{where}: pass either embedding_matrix or w_init, not both "
                    "(the matrix is the initial value)."
                )
            self.w_init = lambda key, shape, dtype: matrix.astype(dtype)
            vocab_size, embed_dim = matrix.shape
            self._dtype = matrix.dtype
        self.vocab_size: int = vocab_size
        self.embed_dim: int = embed_dim
        self.lookup_style = lookup_style
        _lookup_style(lookup_style, "lookup_style", where)
        self.precision = precision

    @property
    def embeddings(self) -> jax.Array:
        """The ``(vocab_size, embed_dim)`` parameter ``embeddings`` (the one ``__call__`` uses)."""
        shape = (self.vocab_size, self.embed_dim)
        return get_param("embeddings", shape, self._dtype, self.w_init, axes=self.axes)

    def __call__(
        self,
        ids: jax.Array | Sequence[int],
        lookup_style: str | EmbedLookupStyle | None = None,
        precision: jax.lax.Precision | None = None,
    ) -> jax.Array:
        """Looks up the vectors of ``ids``.

        Args:
          ids: an integer array; every id must be in ``[0, vocab_size)``.
          lookup_style: overrides the module's ``lookup_style``.
          precision: overrides the module's ``precision`` (``ONE_HOT`` only).

        Returns:
          An array of shape ``ids.shape + (embed_dim,)``.
        """
        where = self.module_label
        ids = jnp.asarray(ids)
        if not jnp.issubdtype(ids.dtype, jnp.integer):
            raise InvalidArgumentTypeError(
                f"{where} takes an array of integer ids, got dtype {ids.dtype}. Cast "
                "the ids, e.g. ids.astype(jnp.int32)."
            )
        style = _lookup_style(lookup_style or self.lookup_style, "lookup_style", where)
        if style is EmbedLookupStyle.ARRAY_INDEX:
            return jnp.asarray(self.embeddings)[(ids,)]
        one_hot_ids = jax.nn.one_hot(ids, self.vocab_size)
        precision = self.precision if precision is None else precision
        return jnp.dot(one_hot_ids, self.embeddings, precision=precision)
