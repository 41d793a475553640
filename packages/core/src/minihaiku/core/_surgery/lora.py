"""``lora``: low-rank adapters on the weights a path filter picks, without touching the model."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import jax

from minihaiku.core._errors import InvalidArgumentTypeError
from minihaiku.core._multi_transform import MultiTransformed, MultiTransformedWithState
from minihaiku.core._sharding.axes import _RECORD
from minihaiku.core._surgery.layout import as_flat as _flat
from minihaiku.core._surgery.layout import restore as _out
from minihaiku.core._surgery.lora_params import (
    LoraError,
    add_adapters,
    fold,
    is_adapter,
    record_adapter_axes,
    select,
)
from minihaiku.core._transform import Transformed, TransformedWithState, check_mapping
from minihaiku.core._tree import PathFilter, filter_params
from minihaiku.core.checks import check_positive, check_positive_int

__all__ = [
    "LoraModel",
    "LoraMultiTransformed",
    "LoraMultiTransformedWithState",
    "LoraTransformed",
    "LoraTransformedWithState",
    "lora",
]


class LoraModel:
    """What every LoRA model has besides ``init`` and ``apply``.

    Attributes:
      rank: the adapters' rank.
      alpha: the scale's numerator: the forward reads ``w + alpha / rank * a @ b``.
      scale: ``alpha / rank``.

    Examples:
      >>> from minihaiku.core import LoraModel, get_param, lora, transform
      >>> f = transform(lambda x: x @ get_param("w", (4, 3)))
      >>> model = lora(f, "~/w", rank=2, alpha=4.0)
      >>> isinstance(model, LoraModel), model.rank, model.scale
      (True, 2, 2.0)
    """

    rank: int
    alpha: float
    scale: float

    def merge(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Folds the adapters into their weights: plain params of the original model.

        Each adapted ``w`` becomes ``w + scale * a @ b`` (in ``w``'s dtype); the
        adapters are dropped; every path and its order is the base model's.

        Examples:
          >>> from minihaiku.core import get_param, lora, transform
          >>> f = transform(lambda x: x @ get_param("w", (4, 3)))
          >>> model = lora(f, "~/w", rank=2)
          >>> params = model.init(0, jnp.ones((1, 4)))
          >>> list(params)
          ['~/w', '~/w_lora_a', '~/w_lora_b']
          >>> merged = model.merge(params)
          >>> list(merged), bool((merged["~/w"] == params["~/w"]).all())  # b starts at zero
          (['~/w'], True)
        """
        flat, nested = _flat(check_mapping(params, "params"))
        return _out(fold(flat, self.scale, "merge"), nested)  # type: ignore[no-any-return]

    @staticmethod
    def base(path: str, value: Any = None) -> bool:
        """A path filter: true for the base model's params (for ``train(frozen=...)``).

        Examples:
          >>> from minihaiku.core import LoraModel
          >>> LoraModel.base("~/w"), LoraModel.base("~/w_lora_a")
          (True, False)
        """
        return not is_adapter(path)

    @staticmethod
    def adapters(path: str, value: Any = None) -> bool:
        """A path filter: true for the adapters (``..._lora_a``, ``..._lora_b``).

        Examples:
          >>> from minihaiku.core import LoraModel, filter_params
          >>> filter_params({"~/w": 1, "~/w_lora_a": 2, "~/w_lora_b": 3}, LoraModel.adapters)
          {'~/w_lora_a': 2, '~/w_lora_b': 3}
        """
        return is_adapter(path)


class LoraTransformed(Transformed, LoraModel):
    """A :class:`Transformed` with LoRA adapters, made by :func:`lora`.

    Examples:
      >>> from minihaiku.core import LoraTransformed, Transformed, get_param, lora, transform
      >>> model = lora(transform(lambda x: x @ get_param("w", (4, 3))), "*/w", rank=1)
      >>> isinstance(model, LoraTransformed), isinstance(model, Transformed)
      (True, True)
    """


class LoraTransformedWithState(TransformedWithState, LoraModel):
    """A :class:`TransformedWithState` with LoRA adapters, made by :func:`lora`.

    Examples:
      >>> from minihaiku.core import get_param, lora, transform_with_state
      >>> f = transform_with_state(lambda x: x @ get_param("w", (4, 3)))
      >>> params, state = lora(f, "*/w", rank=1).init(0, jnp.ones((1, 4)))
      >>> sorted(params), state
      (['~/w', '~/w_lora_a', '~/w_lora_b'], {})
    """


class LoraMultiTransformed(MultiTransformed, LoraModel):
    """A :class:`MultiTransformed` with LoRA adapters, made by :func:`lora`.

    Examples:
      >>> from minihaiku.core import get_param, lora, multi_transform
      >>> def template():
      ...   w = lambda: get_param("w", (4, 3))
      ...   return (lambda x: x @ w()), {"weight": lambda: w()}
      >>> model = lora(multi_transform(template), "*/w", rank=1)
      >>> model.apply["weight"](model.init(0, jnp.ones(4))).shape
      (4, 3)
    """


class LoraMultiTransformedWithState(MultiTransformedWithState, LoraModel):
    """A :class:`MultiTransformedWithState` with LoRA adapters, made by :func:`lora`.

    Examples:
      >>> from minihaiku.core import get_param, lora, multi_transform_with_state
      >>> def template():
      ...   w = lambda: get_param("w", (4, 3))
      ...   return (lambda: w()), {"weight": lambda: w()}
      >>> model = lora(multi_transform_with_state(template), "*/w", rank=1)
      >>> params, state = model.init(0)
      >>> model.apply["weight"](params, state)[0].shape
      (4, 3)
    """


_KINDS: tuple[tuple[type[Any], type[Any], bool], ...] = (
    (Transformed, LoraTransformed, False),
    (TransformedWithState, LoraTransformedWithState, True),
    (MultiTransformed, LoraMultiTransformed, False),
    (MultiTransformedWithState, LoraMultiTransformedWithState, True),
)

T = TypeVar("T")


def _wrap_apply(apply: Callable[..., T], scale: float) -> Callable[..., T]:
    def lora_apply(params: Mapping[str, Any], *args: Any, **kwargs: Any) -> T:
        flat, nested = _flat(check_mapping(params, "params"))
        return apply(_out(fold(flat, scale, "lora apply"), nested), *args, **kwargs)

    return lora_apply


def lora(transformed: Any, where: PathFilter, rank: int, *, alpha: float | None = None) -> Any:
    """Adds low-rank adapters to the weights ``where`` picks, without changing the model's code.

    Each matched weight ``w`` of shape ``(*lead, n_in, n_out)`` gets two
    params next to it, ``<path>_lora_a`` of shape ``(*lead, n_in, rank)`` and
    ``<path>_lora_b`` of shape ``(*lead, rank, n_out)``, and the model reads
    ``w + alpha / rank * a @ b`` in its place. Leading axes (``layer_stack``'s
    layers, a conv kernel's spatial taps) get one adapter pair each. ``b``
    starts at zero, so at init the outputs are the base model's exactly; ``a``
    is normal with stddev ``1/sqrt(n_in)``, keyed by its path like every
    parameter. Adapters take the weight's dtype (a precision policy's param
    dtype) and, for :func:`param_axes` and the sharded init, its annotation:
    ``a`` gets ``(*lead, in_axis, None)``, ``b`` ``(*lead, None, out_axis)``.

    Params in dm-haiku's nested layout (``scheme="haiku"``, ``minihaiku.haiku``)
    work the same way: paths are ``module/name`` (``"mlp/~/linear_0/w"``) and
    the adapters sit in their weight's module dict (``w_lora_a``, ``w_lora_b``).

    Train only the adapters with ``train(..., frozen=model.base)``; fold them
    in with ``model.merge(params)``, which returns plain params of the
    original model.

    Args:
      transformed: what :func:`transform`, :func:`transform_with_state` or a
        multi-transform returned.
      where: which weights to adapt: a glob (``"*/w"``), several globs, or a
        predicate ``(path, value) -> bool``. Each must be a float array of
        rank >= 2.
      rank: the adapters' rank, at least 1 and at most each matched weight's
        ``min(n_in, n_out)``.
      alpha: the scale's numerator (default ``rank``, a scale of 1).

    Returns:
      The same kind of pair (a :class:`LoraTransformed`,
      :class:`LoraTransformedWithState`, :class:`LoraMultiTransformed` or
      :class:`LoraMultiTransformedWithState`, each also a :class:`LoraModel`).

    Raises:
      LoraError: (from ``init``) ``where`` matches nothing, or matches a
        parameter that is not a float array of rank >= 2, or one smaller than
        ``rank``; (from ``apply``) params without adapters.

    Examples:
      >>> from minihaiku.core import Module, get_param, lora, transform
      >>> class Dense(Module):
      ...   def __call__(self, x):
      ...     w = get_param("w", (x.shape[-1], 8))
      ...     return x @ w + get_param("b", (8,), init=jax.nn.initializers.zeros)
      >>> base = transform(lambda x: Dense()(x))
      >>> model = lora(base, "*/w", rank=2)
      >>> x = jnp.ones((1, 4))
      >>> params = model.init(0, x)
      >>> {k: v.shape for k, v in params.items()}
      {'~/Dense_0/__call__/w': (4, 8),
       '~/Dense_0/__call__/w_lora_a': (4, 2),
       '~/Dense_0/__call__/w_lora_b': (2, 8),
       '~/Dense_0/__call__/b': (8,)}
      >>> plain = {k: v for k, v in params.items() if model.base(k)}
      >>> bool((model.apply(params, x) == base.apply(plain, x)).all())
      True
    """
    kinds = [k for k in _KINDS if isinstance(transformed, k[0])]
    if not kinds:
        raise InvalidArgumentTypeError(
            f"lora expects what transform, transform_with_state or a multi-transform "
            f"returned, got {type(transformed).__name__} {transformed!r:.60}. Pass the "
            "transformed pair itself, e.g. lora(transform(f), '*/w', rank=4)."
        )
    if isinstance(transformed, LoraModel):
        raise LoraError(
            "lora: the model already has LoRA adapters. Merge them first "
            "(transformed.merge(params)) and adapt the base model, or pass the "
            "base model with a where that covers every weight to adapt."
        )
    kind, lora_kind, stateful = kinds[0]
    rank = check_positive_int(rank, "rank", "lora")
    alpha = float(rank) if alpha is None else check_positive(alpha, "alpha", "lora")
    filter_params({}, where)  # a bad filter fails now, not in init
    scale = alpha / rank
    base_init = transformed.init

    def init(rng: Any, *args: Any, **kwargs: Any) -> Any:
        out = base_init(rng, *args, **kwargs)
        params, nested = _flat(out[0] if stateful else out)
        bases = select(params, where, rank)
        record = _RECORD.get()
        if record is not None:  # param_axes, sharded init: adapters shard with their weight
            record_adapter_axes(record, bases)
        params = _out(add_adapters(params, bases, rank, rng), nested)
        return (params, *out[1:]) if stateful else params

    if kind in (Transformed, TransformedWithState):
        apply: Any = _wrap_apply(transformed.apply, scale)
    else:
        apply = jax.tree_util.tree_map(lambda f: _wrap_apply(f, scale), transformed.apply)
    model = lora_kind(init, apply)
    model.rank, model.alpha, model.scale = rank, alpha, scale
    return model
