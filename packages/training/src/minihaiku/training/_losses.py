"""Losses that :func:`train` understands: ready-made ones and the ``Loss`` wrapper."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import optax

from minihaiku.core import InvalidArgumentTypeError, Transformed, TransformedWithState

__all__ = ["Loss", "accuracy", "mse_loss", "softmax_cross_entropy"]

Model = Transformed | TransformedWithState


@dataclass(frozen=True)
class Loss:
    """A loss function and how :func:`train` calls it.

    ``fn`` is called as ``fn(params, batch)``, with ``has_state`` as
    ``fn(params, state, batch)``, and with ``rng`` a key is appended:
    ``fn(params, batch, key)`` / ``fn(params, state, batch, key)``. It returns
    the scalar loss, or with ``has_state`` and/or ``has_aux`` a pair
    ``(loss, new_state)``, ``(loss, metrics)`` or ``(loss, (new_state, metrics))``
    where ``metrics`` is a dict of scalars logged at each step.

    Examples:
      >>> from minihaiku.training import Loss
      >>> loss = Loss(lambda p, batch: jnp.sum((p["~/w"] * batch) ** 2))
      >>> loss({"~/w": jnp.ones(2)}, jnp.arange(2.0))
      Array(1., dtype=float32)
    """

    fn: Callable[..., Any]
    rng: bool = False
    has_state: bool = False
    has_aux: bool = False
    #: The model a ready-made loss wraps; ``train(mesh=...)`` shards its params by
    #: the model's axis annotations.
    model: Model | None = None

    def __init__(
        self,
        fn: Callable[..., Any],
        rng: bool = False,
        has_state: bool = False,
        has_aux: bool = False,
        model: Model | None = None,
        *,
        state: bool | None = None,
    ) -> None:
        # ``state=`` is the flag's earlier name (``train(state=)`` is the state
        # mapping itself); it is still accepted.
        if state is not None:
            has_state = state
        for name, value in (
            ("fn", fn),
            ("rng", rng),
            ("has_state", has_state),
            ("has_aux", has_aux),
            ("model", model),
        ):
            object.__setattr__(self, name, value)

    @property
    def state(self) -> bool:
        """The earlier name of :attr:`has_state` (read only)."""
        return self.has_state

    def __call__(self, *args: Any) -> Any:
        """Calls ``fn``."""
        return self.fn(*args)


def _check_model(model: Any, what: str) -> Model:
    if not isinstance(model, (Transformed, TransformedWithState)):
        raise InvalidArgumentTypeError(
            f"{what} expects a model made by transform or transform_with_state, got "
            f"{type(model).__name__}. Wrap the forward function: {what}(transform(f))."
        )
    return model


def _forward(model: Model, rng: bool) -> tuple[Callable[..., Any], bool]:
    """``forward(params, state, key, x) -> (out, state)`` and whether it has state."""
    apply = model.apply
    with_state = isinstance(model, TransformedWithState)

    def forward(params: Any, state: Any, key: Any, x: Any) -> tuple[Any, Any]:
        lead = (key,) if rng else ()
        if with_state:
            out, state = apply(params, state, *lead, x)
            return out, state
        return apply(params, *lead, x), None

    return forward, with_state


def _wrap(
    model: Model, rng: bool, value: Callable[[Any, Any], tuple[jax.Array, Any]], aux: bool
) -> Loss:
    forward, with_state = _forward(model, rng)

    def fn(params: Mapping[str, jax.Array], *args: Any) -> Any:
        state, args = (args[0], args[1:]) if with_state else (None, args)
        batch, key = (args[0], args[1]) if rng else (args[0], None)
        x, y = batch
        out, state = forward(params, state, key, x)
        loss, metrics = value(out, y)
        extra = (state, metrics) if with_state and aux else state if with_state else metrics
        return (loss, extra) if with_state or aux else loss

    return Loss(fn, rng=rng, has_state=with_state, has_aux=aux, model=model)


def mse_loss(model: Model, *, rng: bool = False) -> Loss:
    """The mean squared error of ``model.apply`` on a batch ``(x, y)``.

    Args:
      model: made by ``transform`` (the loss is ``loss(params, batch)``) or
        ``transform_with_state`` (``loss(params, state, batch) -> (loss, state)``).
      rng: the model was made with ``apply_rng=True``; the loss then takes a
        key last and :func:`train` passes ``fold_in(key(seed), step)``.

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.layers import Linear
      >>> from minihaiku.training import mse_loss
      >>> model = transform(lambda x: Linear(1, w_init="ones")(x))
      >>> x = jnp.ones((4, 2))
      >>> params = model.init(0, x)
      >>> mse_loss(model)(params, (x, jnp.zeros((4, 1))))
      Array(4., dtype=float32)
    """
    _check_model(model, "mse_loss")
    return _wrap(model, rng, lambda out, y: (jnp.mean((out - y) ** 2), None), aux=False)


def _check_labels(logits: jax.Array, labels: jax.Array, what: str) -> None:
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise InvalidArgumentTypeError(
            f"{what} expects integer class labels (the y of the batch), got dtype "
            f"{labels.dtype}. Pass class indices, e.g. labels.astype(np.int32), not "
            "one-hot vectors."
        )
    if logits.shape[:-1] != labels.shape:
        raise InvalidArgumentTypeError(
            f"{what}: the logits have shape {logits.shape} and the labels {labels.shape}; "
            "the labels must have the logits' shape without the last (class) axis."
        )


def _accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return jnp.mean(jnp.argmax(logits, axis=-1) == labels)


def softmax_cross_entropy(model: Model, *, rng: bool = False) -> Loss:
    """The mean softmax cross entropy of the model's logits against integer labels.

    The batch is ``(x, labels)``; ``labels`` holds class indices. The loss logs
    the batch ``accuracy`` as a metric at each step.

    Args:
      model: made by ``transform`` or ``transform_with_state``, returning logits
        (classes on the last axis).
      rng: the model was made with ``apply_rng=True``.

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.training import softmax_cross_entropy
      >>> model = transform(lambda x: x * 1.0)  # the inputs are the logits
      >>> logits = jnp.array([[2.0, 0.0], [0.0, 2.0]])
      >>> value, metrics = softmax_cross_entropy(model)({}, (logits, jnp.array([0, 0])))
      >>> round(float(value), 4), float(metrics["accuracy"])
      (1.1269, 0.5)
    """
    _check_model(model, "softmax_cross_entropy")

    def value(logits: jax.Array, labels: jax.Array) -> tuple[jax.Array, Any]:
        _check_labels(logits, labels, "softmax_cross_entropy")
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
        return jnp.mean(ce), {"accuracy": _accuracy(logits, labels)}

    return _wrap(model, rng, value, aux=True)


def accuracy(model: Model, *, rng: bool = False) -> Callable[..., dict[str, jax.Array]]:
    """An evaluation function: the fraction of ``(x, labels)`` classified right.

    For :func:`train`'s ``evaluate=``: called as ``f(params, batch)``, or
    ``f(params, state, batch)`` for a model with state; no rng (a model made
    with ``apply_rng=True`` gets ``None`` as its key: pass ``rng=True``).

    Examples:
      >>> from minihaiku.core import transform
      >>> from minihaiku.training import accuracy
      >>> model = transform(lambda x: x * 1.0)
      >>> accuracy(model)({}, (jnp.array([[2.0, 0.0], [0.0, 2.0]]), jnp.array([0, 1])))
      {'accuracy': Array(1., dtype=float32)}
    """
    _check_model(model, "accuracy")
    forward, with_state = _forward(model, rng)

    def fn(params: Mapping[str, jax.Array], *args: Any) -> dict[str, jax.Array]:
        state, (x, y) = (args[0], args[1]) if with_state else (None, args[0])
        logits, _ = forward(params, state, None, x)
        _check_labels(logits, y, "accuracy")
        return {"accuracy": _accuracy(logits, y)}

    return fn
