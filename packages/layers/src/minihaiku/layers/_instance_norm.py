"""``InstanceNorm``: a ``LayerNorm`` over the spatial axes, as dm-haiku's ``hk.InstanceNorm``."""

from __future__ import annotations

from minihaiku.core import InitLike, MinihaikuError
from minihaiku.layers._checks import channel_index
from minihaiku.layers._norm import LayerNorm

__all__ = ["InstanceNorm"]


class InstanceNorm(LayerNorm):
    """Instance normalization (https://arxiv.org/abs/1607.08022), as dm-haiku's.

    Normalizes each example and channel over its spatial axes (every axis but
    the batch and the channels), then applies ``scale`` and ``offset`` per
    channel. As dm-haiku, the parameters have shape ``(C,)`` channels last and
    ``(1, C, 1, ..., 1)`` channels first. A ``LayerNorm`` subclass, it keeps
    LayerNorm's float32 default under mixed precision.

    Args:
      create_scale: create a trainable ``scale`` parameter.
      create_offset: create a trainable ``offset`` parameter.
      eps: added to the variance before the square root. Default ``1e-5``.
      scale_init: initializer of ``scale``; default ones.
      offset_init: initializer of ``offset``; default zeros.
      data_format: ``"channels_last"`` (default), ``"channels_first"`` or a
        format string such as ``"NHWC"``/``"NCHW"``.
      name: the module's name; default ``InstanceNorm_N``.
      axes: the logical axis name of the parameters' channel axis for sharding;
        default ``"conv_out"``, ``None``: unannotated (channels-first
        parameters are left unannotated). Keyword-only (not in dm-haiku).

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import InstanceNorm
      >>> f = transform(lambda x: InstanceNorm(True, True)(x))
      >>> x = jnp.arange(8.0).reshape(1, 2, 2, 2)
      >>> params = f.init(0, x)
      >>> params["~/InstanceNorm_0/__call__/scale"].shape
      (2,)
      >>> np.round(np.asarray(f.apply(params, x)[0, :, :, 0]), 3)
      array([[-1.342, -0.447],
             [ 0.447,  1.342]], dtype=float32)
    """

    def __init__(
        self,
        create_scale: bool,
        create_offset: bool,
        eps: float = 1e-5,
        scale_init: InitLike = None,
        offset_init: InitLike = None,
        data_format: str = "channels_last",
        name: str | None = None,
        *,
        axes: str | None = "conv_out",
    ) -> None:
        try:
            channels_last = channel_index(data_format, "data_format", "InstanceNorm") == -1
            known = True
        except MinihaikuError:  # raised again below, naming the module
            channels_last, known = True, False
        super().__init__(
            axis=slice(1, -1) if channels_last else slice(2, None),
            create_scale=create_scale,
            create_offset=create_offset,
            eps=eps,
            scale_init=scale_init,
            offset_init=offset_init,
            name=name,
            param_axis=-1 if channels_last else 1,
            axes=axes if channels_last else None,
        )
        if not known:
            channel_index(data_format, "data_format", self.module_label)
        self.data_format = data_format
