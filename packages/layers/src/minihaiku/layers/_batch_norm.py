"""``BatchNorm``, as dm-haiku's, with running statistics as state."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from minihaiku.core import (
    InitLike,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    MissingStateError,
    Module,
    ParameterShapeError,
    get_param,
)
from minihaiku.core.checks import check_initializer
from minihaiku.initializers import ones, zeros
from minihaiku.layers._axes import check_axis_name, one_axis
from minihaiku.layers._checks import (
    channel_index,
    check_init_needs_create,
    check_no_call_arg,
)
from minihaiku.layers._moving_averages import ExponentialMovingAverage
from minihaiku.layers._norm import to_abs_axes, to_axes_or_slice

__all__ = ["BatchNorm"]

_REQUIRED: Any = object()


class BatchNorm(Module):
    """Batch normalization (https://arxiv.org/abs/1502.03167), as ``hk.BatchNorm``.

    In training (``is_training=True``) normalizes with the batch's mean and
    variance over ``axis`` (by default every axis but the channels) and
    updates their moving averages, kept as state by the
    ``ExponentialMovingAverage`` submodules ``mean_ema`` and ``var_ema``
    (``~/BatchNorm_0/mean_ema/average``, ...). In evaluation it normalizes
    with the moving averages (or, with ``test_local_stats``, the batch's).

    With ``cross_replica_axis``, the statistics are averaged over the named
    axis (axes) of an enclosing ``jax.pmap``/``jax.vmap``/``shard_map``: data
    parallel training sees the statistics of the whole batch.

    Args:
      create_scale: create a trainable ``scale``.
      create_offset: create a trainable ``offset``.
      decay_rate: the decay of the moving averages, e.g. ``0.9``.
      eps: added to the variance. Default ``1e-5``.
      scale_init: initializer of ``scale``; default ones.
      offset_init: initializer of ``offset``; default zeros.
      axis: the axes to reduce over; default all but the channel axis.
      cross_replica_axis: name(s) of mapped axes to average statistics over.
      cross_replica_axis_index_groups: device groups for ``pmap`` collectives.
      data_format: ``"channels_last"`` (default), ``"channels_first"``, or a
        format such as ``"NHWC"``/``"NCHW"``.
      name: the module's name; default ``BatchNorm_N``.
      axes: the logical axis name of the parameters' (and moving averages') channel axis for
        sharding (other axes get None). Default ``"conv_out"``; ``None``:
        unannotated. Keyword-only (not in dm-haiku).

    Examples:
      >>> from minihaiku.core import transform_with_state
      >>> from minihaiku.layers import BatchNorm
      >>> f = transform_with_state(lambda x, t: BatchNorm(True, True, 0.9)(x, is_training=t))
      >>> x = jnp.array([[1.0, 10.0], [3.0, 30.0]])
      >>> params, state = f.init(0, x, True)
      >>> sorted(params)
      ['~/BatchNorm_0/__call__/offset', '~/BatchNorm_0/__call__/scale']
      >>> sorted(state)  # doctest: +NORMALIZE_WHITESPACE
      ['~/BatchNorm_0/mean_ema/average', '~/BatchNorm_0/mean_ema/counter',
       '~/BatchNorm_0/mean_ema/hidden', '~/BatchNorm_0/var_ema/average',
       '~/BatchNorm_0/var_ema/counter', '~/BatchNorm_0/var_ema/hidden']
      >>> out, state = f.apply(params, state, x, True)
      >>> np.round(np.asarray(out), 3)
      array([[-1., -1.],
             [ 1.,  1.]], dtype=float32)
      >>> state["~/BatchNorm_0/mean_ema/average"]
      Array([[ 2., 20.]], dtype=float32)
    """

    def __init__(
        self,
        create_scale: bool,
        create_offset: bool,
        decay_rate: float,
        eps: float = 1e-5,
        scale_init: InitLike = None,
        offset_init: InitLike = None,
        axis: Sequence[int] | None = None,
        cross_replica_axis: str | Sequence[str] | None = None,
        cross_replica_axis_index_groups: Sequence[Sequence[int]] | None = None,
        data_format: str = "channels_last",
        name: str | None = None,
        *,
        axes: str | None = "conv_out",
    ) -> None:
        super().__init__(name=name)
        where = self.module_label
        self.axes = check_axis_name(axes, "axes", where)
        check_init_needs_create(scale_init, "scale_init", where, create=create_scale)
        check_init_needs_create(offset_init, "offset_init", where, create=create_offset)
        if not cross_replica_axis and cross_replica_axis_index_groups is not None:
            raise InvalidArgumentError(
                f"{where}: cross_replica_axis_index_groups needs cross_replica_axis: "
                "name the mapped axis (or axes) the groups refer to, e.g. "
                "cross_replica_axis='batch'."
            )
        self.create_scale = bool(create_scale)
        self.create_offset = bool(create_offset)
        self.eps = eps
        self.scale_init = check_initializer(scale_init, "scale_init", where, default=ones())
        self.offset_init = check_initializer(offset_init, "offset_init", where, default=zeros())
        self.axis = None if axis is None else to_axes_or_slice(axis, "axis", where)
        self.cross_replica_axis = cross_replica_axis
        self.cross_replica_axis_index_groups = cross_replica_axis_index_groups
        self.channel_index = channel_index(data_format, "data_format", where)
        self.mean_ema = ExponentialMovingAverage(decay_rate, name="mean_ema")
        self.var_ema = ExponentialMovingAverage(decay_rate, name="var_ema")

    def __call__(
        self,
        inputs: jax.Array,
        is_training: bool = _REQUIRED,
        test_local_stats: bool = False,
        scale: jax.Array | None = None,
        offset: jax.Array | None = None,
    ) -> jax.Array:
        """Normalizes ``inputs`` (channels on the ``data_format``'s channel axis).

        Args:
          inputs: the array to normalize.
          is_training: a Python bool (required): use and update batch
            statistics (``True``) or use the moving averages (``False``).
          test_local_stats: with ``is_training=False``, normalize with the
            batch's statistics anyway (the averages are not updated).
          scale: a scale broadcastable to ``inputs``, when not created.
          offset: an offset broadcastable to ``inputs``, when not created.

        Returns:
          The normalized array, of the shape of ``inputs``.
        """
        where = self.module_label
        training = _python_bool(is_training, "is_training", where)
        local = _python_bool(test_local_stats, "test_local_stats", where)
        check_no_call_arg(scale, "scale", where, create=self.create_scale)
        check_no_call_arg(offset, "offset", where, create=self.create_offset)
        inputs = jnp.asarray(inputs)
        if inputs.ndim == 0:
            raise InvalidArgumentError(f"{where} needs an input with a channel axis, got a scalar.")
        if self.axis is not None:
            axis = to_abs_axes(self.axis, "axis", where, ndim=inputs.ndim)
        else:
            ch = to_abs_axes((self.channel_index,), "the channel axis", where, ndim=inputs.ndim)[0]
            axis = tuple(i for i in range(inputs.ndim) if i != ch)
        if training and math.prod(inputs.shape[i] for i in axis) == 0:
            raise InvalidArgumentError(
                f"{where}: is_training=True on an input of shape {inputs.shape} with no "
                f"elements to average over axes {axis}: the batch statistics would be NaN "
                "and turn the moving averages into NaN. Skip empty batches, or call with "
                "is_training=False."
            )
        if training or local:
            mean = jnp.mean(inputs, axis, keepdims=True)
            mean_of_squares = jnp.mean(jnp.square(inputs), axis, keepdims=True)
            if self.cross_replica_axis:
                mean = self._pmean(mean, where)
                mean_of_squares = self._pmean(mean_of_squares, where)
            var = mean_of_squares - jnp.square(mean)
        else:
            try:
                mean = self.mean_ema.average.astype(inputs.dtype)
                var = self.var_ema.average.astype(inputs.dtype)
            except (MissingStateError, ParameterShapeError) as e:
                raise type(e)(
                    f"{where}: there are no moving averages to normalize with "
                    "(is_training=False). Initialize with is_training=True (or "
                    f"pass the state from such an init) first. ({e})"
                ) from e
        w_axes = one_axis(inputs.ndim, self.channel_index, self.axes)
        if training:
            self.mean_ema.axes = self.var_ema.axes = w_axes
            self.mean_ema(mean)
            self.var_ema(var)
        w_shape = tuple(1 if i in axis else inputs.shape[i] for i in range(inputs.ndim))
        w_dtype = inputs.dtype
        s: Any = scale
        o: Any = offset
        if self.create_scale:
            s = get_param("scale", w_shape, w_dtype, self.scale_init, axes=w_axes)
        elif s is None:
            s = np.ones([], dtype=w_dtype)
        if self.create_offset:
            o = get_param("offset", w_shape, w_dtype, self.offset_init, axes=w_axes)
        elif o is None:
            o = np.zeros([], dtype=w_dtype)
        eps = jax.lax.convert_element_type(self.eps, var.dtype)
        inv = s * jax.lax.rsqrt(var + eps)
        return (inputs - mean) * inv + o  # type: ignore[no-any-return]

    def _pmean(self, x: jax.Array, where: str) -> jax.Array:
        axis_name = self.cross_replica_axis
        try:
            out: jax.Array = jax.lax.pmean(  # type: ignore[no-untyped-call]
                x,
                axis_name=tuple(axis_name) if isinstance(axis_name, list) else axis_name,
                axis_index_groups=self.cross_replica_axis_index_groups,
            )
            return out
        except NameError as e:
            raise InvalidArgumentError(
                f"{where}: cross_replica_axis={axis_name!r} is not the name of an "
                "enclosing mapped axis. Run the model inside jax.pmap / jax.vmap / "
                f"shard_map with axis_name={axis_name!r}, or drop cross_replica_axis. ({e})"
            ) from None


def _python_bool(value: Any, name: str, where: str) -> bool:
    if value is _REQUIRED:
        raise InvalidArgumentTypeError(
            f"{where}: is_training is required: call it as bn(x, is_training=True) "
            "while training and is_training=False to use the moving averages."
        )
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if getattr(value, "dtype", None) == np.bool_ and getattr(value, "shape", None) == ():
        try:
            return bool(value)
        except jax.errors.ConcretizationTypeError:  # a tracer: the error below says what to do
            pass
    raise InvalidArgumentTypeError(
        f"{where}: {name} must be a Python bool, got {type(value).__name__} "
        f"{value!r:.60}. It picks the computation when tracing: pass True or "
        "False (for jit, mark it static, e.g. static_argnums)."
    )
