"""Loss scaling for float16 training: ``train(..., loss_scale=DynamicLossScale())``.

The loss is multiplied by the scale before the gradient is taken and the
gradients are divided by it after, so that small float16 gradients do not
flush to zero. With a dynamic scale a step whose gradients are not finite
is skipped (params, optimizer and model state unchanged) and the scale is
divided by ``factor``; after ``period`` finite steps in a row it is
multiplied by ``factor``. The scale's state rides in the optimizer state
(:class:`ScaledOptState`), so it is carried through the compiled steps,
checkpointed with the rest and restored on resume.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError

__all__ = [
    "DynamicLossScale",
    "LossScale",
    "LossScaleState",
    "ScaledOptState",
    "StaticLossScale",
    "init_opt_state",
    "scaled_step",
]

#: The metrics a loss-scaled run adds: the scale each step used, and 1.0 where
#: the step was skipped for non-finite gradients.
SCALE_METRICS = ("loss_scale", "overflow")


class LossScaleState(NamedTuple):
    """The changing part of a loss scale: the scale, and the finite steps since it last changed.

    Examples:
      >>> from minihaiku.training import DynamicLossScale
      >>> DynamicLossScale(initial=8.0).init()
      LossScaleState(scale=Array(8., dtype=float32), counter=Array(0, dtype=int32))
    """

    scale: jax.Array
    counter: jax.Array


class ScaledOptState(NamedTuple):
    """The optimizer state of a loss-scaled run: the optimizer's own, and the scale's.

    Examples:
      >>> import optax
      >>> from minihaiku.training import DynamicLossScale, ScaledOptState
      >>> s = ScaledOptState(optax.sgd(0.1).init({}), DynamicLossScale().init())
      >>> float(s.loss_scale.scale)
      32768.0
    """

    inner: Any
    loss_scale: LossScaleState


def _positive(value: Any, what: str, integer: bool = False) -> Any:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise InvalidArgumentTypeError(
            f"{what} must be a {'int' if integer else 'number'}, got "
            f"{type(value).__name__} {value!r:.40}."
        )
    if not value > 0 or value != value or value == float("inf"):
        raise InvalidArgumentError(f"{what} must be positive and finite, got {value!r}.")
    return value


class _Scaling:
    """What both loss scales do with a :class:`LossScaleState`."""

    #: whether a step with non-finite gradients is skipped.
    skips_non_finite = False

    def scale_loss(self, loss: jax.Array, state: LossScaleState) -> jax.Array:
        """``loss`` times the scale."""
        return loss * state.scale.astype(loss.dtype)

    def unscale(self, grads: Any, state: LossScaleState) -> Any:
        """The gradients divided by the scale."""
        inv = 1.0 / state.scale
        return jax.tree_util.tree_map(lambda g: g * inv.astype(g.dtype), grads)

    def adjust(self, state: LossScaleState, finite: jax.Array) -> LossScaleState:
        """The state after a step whose gradients were ``finite`` (or not)."""
        return state


@dataclasses.dataclass(frozen=True)
class StaticLossScale(_Scaling):
    """Scales the loss by a fixed ``scale`` and unscales the gradients; never skips a step.

    Args:
      scale: the factor (a power of two keeps the scaling exact).

    Examples:
      >>> from minihaiku.training import StaticLossScale
      >>> ls = StaticLossScale(1024.0)
      >>> float(ls.scale_loss(jnp.float32(0.5), ls.init()))
      512.0
    """

    scale: float = 2.0**15

    def __post_init__(self) -> None:
        _positive(self.scale, "StaticLossScale scale")

    def init(self) -> LossScaleState:
        """The state to start from."""
        return LossScaleState(jnp.float32(self.scale), jnp.int32(0))


@dataclasses.dataclass(frozen=True)
class DynamicLossScale(_Scaling):
    """A loss scale that halves on overflow (skipping the step) and doubles when stable.

    Args:
      initial: the starting scale (``2**15``, as jmp and PyTorch's GradScaler).
      period: finite steps in a row after which the scale grows.
      factor: what the scale is multiplied or divided by.
      min_scale: the scale never goes below this.

    Examples:
      >>> from minihaiku.training import DynamicLossScale
      >>> ls = DynamicLossScale(initial=8.0, period=2)
      >>> s = ls.adjust(ls.init(), jnp.bool_(False))  # overflow: halved
      >>> float(s.scale)
      4.0
      >>> s = ls.adjust(ls.adjust(s, jnp.bool_(True)), jnp.bool_(True))  # 2 good: doubled
      >>> float(s.scale), int(s.counter)
      (8.0, 0)
    """

    initial: float = 2.0**15
    period: int = 2000
    factor: float = 2.0
    min_scale: float = 1.0
    skips_non_finite = True

    def __post_init__(self) -> None:
        _positive(self.initial, "DynamicLossScale initial")
        _positive(self.period, "DynamicLossScale period", integer=True)
        _positive(self.min_scale, "DynamicLossScale min_scale")
        if _positive(self.factor, "DynamicLossScale factor") <= 1:
            raise InvalidArgumentError(
                f"DynamicLossScale factor must be above 1 (it multiplies the scale up "
                f"and divides it down), got {self.factor!r}."
            )
        if self.initial < self.min_scale:
            raise InvalidArgumentError(
                f"DynamicLossScale initial={self.initial!r} is below "
                f"min_scale={self.min_scale!r}; start at or above the minimum."
            )

    def init(self) -> LossScaleState:
        """The state to start from: ``initial``, no finite steps counted."""
        return LossScaleState(jnp.float32(self.initial), jnp.int32(0))

    def adjust(self, state: LossScaleState, finite: jax.Array) -> LossScaleState:
        """The state after a step whose gradients were ``finite`` (or not)."""
        scale, counter = state
        grown = scale * self.factor
        at_period = counter == self.period - 1
        up = jnp.where(at_period & jnp.isfinite(grown), grown, scale)
        down = jnp.maximum(jnp.float32(self.min_scale), scale / self.factor)
        new_counter = jnp.where(finite & ~at_period, counter + 1, 0).astype(jnp.int32)
        return LossScaleState(jnp.where(finite, up, down), new_counter)


LossScale = StaticLossScale | DynamicLossScale


def check_loss_scale(loss_scale: Any) -> LossScale | None:
    """``loss_scale`` if it is one (or ``None``); a clear error otherwise."""
    if loss_scale is None or isinstance(loss_scale, (StaticLossScale, DynamicLossScale)):
        return loss_scale
    raise InvalidArgumentTypeError(
        f"loss_scale must be a DynamicLossScale or a StaticLossScale (or None), got "
        f"{type(loss_scale).__name__}. For float16 training use "
        "loss_scale=DynamicLossScale()."
    )


def init_opt_state(
    optimizer: optax.GradientTransformation,
    trainable: Any,
    opt_state: Any,
    loss_scale: LossScale | None,
) -> Any:
    """The optimizer state to start from: the given one, or a fresh one; wrapped when scaled."""
    loss_scale = check_loss_scale(loss_scale)
    scaled = isinstance(opt_state, ScaledOptState)
    if loss_scale is None:
        if scaled:
            raise InvalidArgumentError(
                "opt_state comes from a loss-scaled run (a ScaledOptState) but "
                "loss_scale is None; pass the same loss_scale to continue it, or "
                "opt_state.inner to drop the scale."
            )
        return optimizer.init(trainable) if opt_state is None else opt_state
    if scaled:
        return opt_state
    inner = optimizer.init(trainable) if opt_state is None else opt_state
    return ScaledOptState(inner, loss_scale.init())


def _all_finite(tree: Any) -> jax.Array:
    leaves = [jnp.isfinite(x).all() for x in jax.tree_util.tree_leaves(tree)]
    return jnp.stack(leaves).all() if leaves else jnp.bool_(True)


def scaled_step(
    loss_scale: LossScale,
    optimizer: optax.GradientTransformation,
    objective: Callable[..., Any],
) -> Callable[..., Any]:
    """One training step with loss scaling, for the chunk's ``lax.scan``.

    ``step(p, o, s, k, batch) -> (p, o, s), (loss, metrics)``: ``o`` is a
    :class:`ScaledOptState`; the metrics gain ``loss_scale`` and ``overflow``.
    """

    def scaled(p: Any, s: Any, k: Any, batch: Any, state: LossScaleState) -> Any:
        value, aux = objective(p, s, k, batch)
        return loss_scale.scale_loss(value, state), (value, aux)

    def step(p: Any, o: ScaledOptState, s: Any, k: Any, batch: Any) -> Any:
        inner, ls = o
        (_, (value, (new_s, metrics))), grads = jax.value_and_grad(scaled, has_aux=True)(
            p, s, k, batch, ls
        )
        clash = [name for name in SCALE_METRICS if name in metrics]
        if clash:
            raise InvalidArgumentError(
                f"the loss's metrics {clash} clash with the ones a loss-scaled run adds "
                f"{list(SCALE_METRICS)}; rename them."
            )
        grads = loss_scale.unscale(grads, ls)
        finite = _all_finite(grads)
        updates, new_inner = optimizer.update(grads, inner, p)
        new_p = optax.apply_updates(p, updates)
        if loss_scale.skips_non_finite:
            keep = (p, inner, s)
            new_p, new_inner, new_s = jax.tree_util.tree_map(
                lambda a, b: jnp.where(finite, a, b), (new_p, new_inner, new_s), keep
            )
        metrics = {
            **metrics,
            "loss_scale": ls.scale,
            "overflow": (~finite).astype(jnp.float32),
        }
        new_o = ScaledOptState(new_inner, loss_scale.adjust(ls, finite))
        return (new_p, new_o, new_s), (value, metrics)

    return step
