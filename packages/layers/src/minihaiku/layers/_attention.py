"""``MultiHeadAttention``, as dm-haiku's."""

from __future__ import annotations

import warnings
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from minihaiku.core import InitLike, InvalidArgumentError, Module
from minihaiku.initializers import variance_scaling
from minihaiku.layers._axes import ATTENTION_AXES, Pair, check_axis_pair, swap
from minihaiku.layers._checks import check_size
from minihaiku.layers._linear import Linear

__all__ = ["MultiHeadAttention"]


def _project(linear: Linear, x: jax.Array, num_heads: int, head_size: int) -> jax.Array:
    """``x`` of shape ``[..., T, D]`` projected to ``[..., T, num_heads, head_size]``."""
    y = linear(x)
    return y.reshape((*x.shape[:-1], num_heads, head_size))


class MultiHeadAttention(Module):
    """Multi-head attention (https://arxiv.org/abs/1706.03762), as ``hk.MultiHeadAttention``.

    Projects ``query``, ``key`` and ``value`` with the ``Linear`` submodules
    ``query``, ``key`` and ``value`` into ``num_heads`` heads, computes
    ``softmax(q k^T / sqrt(key_size))`` per head (masked where ``mask`` is
    False), weights the values with it and projects the concatenated heads with
    the ``Linear`` submodule ``linear``. Leading batch axes broadcast.

    Args:
      num_heads: the number of heads ``H``.
      key_size: the size ``K`` of each query and key head.
      w_init_scale: deprecated: a scale for ``variance_scaling``; pass
        ``w_init`` instead.
      w_init: initializer of the four projections' ``w`` (required, unless the
        deprecated ``w_init_scale`` is given).
      with_bias: give the projections a bias.
      b_init: initializer of the biases; default zeros.
      value_size: the size ``V`` of each value head; default ``key_size``.
      model_size: the output size; default ``key_size * num_heads``.
      name: the module's name; default ``MultiHeadAttention_N``.
      axes: the logical axis names (model, heads) for sharding: ``query``,
        ``key`` and ``value`` get ``w`` axes ``(model, heads)`` (``heads``
        is the flattened heads x head-size axis) and ``b`` ``(heads,)``; the
        output ``linear`` gets ``(heads, model)`` and ``(model,)``. Default
        ``("embed", "heads")``; ``None``: unannotated. Not in dm-haiku.

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.initializers import lecun_normal
      >>> from minihaiku.layers import MultiHeadAttention
      >>> def f(x):
      ...   return MultiHeadAttention(num_heads=2, key_size=4, w_init=lecun_normal())(x, x, x)
      >>> params = transform(f).init(0, jnp.ones((5, 3)))
      >>> sorted((k, v.shape) for k, v in params.items() if k.endswith("w"))
      [('~/MultiHeadAttention_0/__call__/key/__call__/w', (3, 8)),
       ('~/MultiHeadAttention_0/__call__/linear/__call__/w', (8, 8)),
       ('~/MultiHeadAttention_0/__call__/query/__call__/w', (3, 8)),
       ('~/MultiHeadAttention_0/__call__/value/__call__/w', (3, 8))]
      >>> transform(f).apply(params, jnp.ones((5, 3))).shape
      (5, 8)
    """

    #: The linear layer class built inside (a subclass may swap in one with other defaults).
    linear_cls: ClassVar[type[Linear]] = Linear

    def __init__(
        self,
        num_heads: int,
        key_size: int,
        w_init_scale: float | None = None,
        *,
        w_init: InitLike = None,
        with_bias: bool = True,
        b_init: InitLike = None,
        value_size: int | None = None,
        model_size: int | None = None,
        name: str | None = None,
        axes: Pair = ATTENTION_AXES,
    ) -> None:
        super().__init__(name=name)
        where = self.module_label
        self.axes = check_axis_pair(axes, "axes", where)
        self.num_heads = check_size(num_heads, "num_heads", where)
        self.key_size = check_size(key_size, "key_size", where)
        self.value_size = (
            self.key_size if value_size is None else check_size(value_size, "value_size", where)
        )
        self.model_size = (
            self.key_size * self.num_heads
            if model_size is None
            else check_size(model_size, "model_size", where)
        )
        if w_init_scale is not None:
            warnings.warn(
                f"{where}: w_init_scale is deprecated; pass an explicit initializer "
                "instead, e.g. w_init=variance_scaling(scale).",
                DeprecationWarning,
                stacklevel=3,
            )
        if w_init is not None and w_init_scale is not None:
            raise InvalidArgumentError(
                f"{where}: pass only w_init, not both w_init and the deprecated w_init_scale."
            )
        self.w_init: InitLike
        if w_init is not None:
            self.w_init = w_init
        elif w_init_scale is not None:
            self.w_init = variance_scaling(w_init_scale)
        else:
            raise InvalidArgumentError(
                f"{where}: a weight initializer is required: pass w_init, e.g. "
                "w_init=minihaiku.initializers.variance_scaling(1.0) (dm-haiku's "
                "w_init_scale is deprecated)."
            )
        self.with_bias = bool(with_bias)
        self.b_init = b_init

    def __call__(
        self,
        query: jax.Array,
        key: jax.Array,
        value: jax.Array,
        mask: jax.Array | None = None,
    ) -> jax.Array:
        """Attends from ``query`` over ``key`` and ``value``.

        Args:
          query: shape ``[..., T', D_q]``.
          key: shape ``[..., T, D_k]``.
          value: shape ``[..., T, D_v]``.
          mask: optional, shape ``[..., H or 1, T', T]``; False masks a weight out.

        Returns:
          The attended sequence, of shape ``[..., T', model_size]``.
        """
        where = self.module_label
        query, key, value = jnp.asarray(query), jnp.asarray(key), jnp.asarray(value)
        for what, x in (("query", query), ("key", key), ("value", value)):
            if x.ndim < 2:
                raise InvalidArgumentError(
                    f"{where}: {what} must have shape [..., T, D] (rank >= 2), got "
                    f"shape {x.shape}. Add a sequence axis, e.g. {what}[None]."
                )
        if key.shape[-2] != value.shape[-2]:
            raise InvalidArgumentError(
                f"{where}: key and value must have the same sequence length T, got "
                f"key shape {key.shape} and value shape {value.shape} (T = "
                f"{key.shape[-2]} vs {value.shape[-2]}). Pass one value per key."
            )
        *leading_dims, sequence_length, _ = query.shape

        def linear(size: int, name: str) -> Linear:
            axes = swap(self.axes) if name == "linear" else self.axes
            return self.linear_cls(
                size,
                with_bias=self.with_bias,
                w_init=self.w_init,
                b_init=self.b_init,
                name=name,
                axes=axes,
            )

        h = self.num_heads
        query_heads = _project(linear(h * self.key_size, "query"), query, h, self.key_size)
        key_heads = _project(linear(h * self.key_size, "key"), key, h, self.key_size)
        value_heads = _project(linear(h * self.value_size, "value"), value, h, self.value_size)
        try:
            attn_logits = jnp.einsum("...thd,...Thd->...htT", query_heads, key_heads)
        except ValueError as e:
            raise InvalidArgumentError(
                f"{where}: the leading (batch) axes of query {query.shape} and key "
                f"{key.shape} do not broadcast ({e}). Give them the same batch axes."
            ) from None
        attn_logits = attn_logits / np.sqrt(self.key_size).astype(key.dtype)
        if mask is not None:
            mask = jnp.asarray(mask)
            if mask.ndim != attn_logits.ndim:
                raise InvalidArgumentError(
                    f"{where}: mask has rank {mask.ndim} (shape {mask.shape}) but the "
                    f"attention logits have rank {attn_logits.ndim} (shape "
                    f"{attn_logits.shape}, [..., H, T', T]). Give the mask a head axis, "
                    "e.g. mask[..., None, :, :]."
                )
            try:
                jnp.broadcast_shapes(mask.shape, attn_logits.shape)
            except ValueError:
                raise InvalidArgumentError(
                    f"{where}: mask of shape {mask.shape} does not broadcast to the "
                    f"attention logits' shape {attn_logits.shape} ([..., H, T', T] with "
                    f"T'={query.shape[-2]} queries and T={key.shape[-2]} keys). Give the "
                    "mask one entry per query and key (or 1 to broadcast)."
                ) from None
            attn_logits = jnp.where(mask, attn_logits, -1e30)
        attn_weights = jax.nn.softmax(attn_logits)
        attn = jnp.einsum("...htT,...Thd->...thd", attn_weights, value_heads)
        if attn.shape[:-2] == (*leading_dims, sequence_length):
            # the heads' size, not -1, which cannot be inferred for an empty batch
            attn = jnp.reshape(attn, (*leading_dims, sequence_length, h * self.value_size))
        else:
            attn = jnp.reshape(attn, (*leading_dims, sequence_length, -1))
        return linear(self.model_size, "linear")(attn)
