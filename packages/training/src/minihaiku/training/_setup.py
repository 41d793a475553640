"""Checks and resolves :func:`train`'s arguments: the loss, the state, the evaluation."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import optax

from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    Transformed,
    TransformedWithState,
)
from minihaiku.core.checks import check_callable
from minihaiku.training._leaves import check_batch_leaves, check_not_empty, check_number_dict
from minihaiku.training._losses import Loss, mse_loss
from minihaiku.training._result import TrainResult

__all__ = [
    "check_params_and_optimizer",
    "check_evaluate",
    "check_resume_from",
    "default_per_dispatch",
    "resolve_loss",
]


def check_params_and_optimizer(params: Any, optimizer: Any) -> None:
    """Checks the types of :func:`train`'s ``params`` and ``optimizer``."""
    if not isinstance(params, Mapping):
        raise InvalidArgumentTypeError(
            f"params must be the mapping init returned, got {type(params).__name__}."
        )
    if not isinstance(optimizer, optax.GradientTransformation):
        raise InvalidArgumentTypeError(
            f"optimizer must be an optax GradientTransformation such as "
            f"optax.sgd(0.003), got {type(optimizer).__name__}."
        )


def resolve_loss(given: Any, rng: bool | None, state: Any, has_aux: bool | None) -> Loss:
    """The :class:`Loss` to train, checked against ``state``."""
    loss: Loss
    if isinstance(given, (Transformed, TransformedWithState)):
        loss = mse_loss(given, rng=bool(rng))
    elif isinstance(given, Loss):
        loss = dataclasses.replace(
            given,
            rng=given.rng if rng is None else rng,
            has_aux=given.has_aux if has_aux is None else has_aux,
        )
    elif callable(given):
        loss = Loss(given, rng=bool(rng), has_state=state is not None, has_aux=bool(has_aux))
    else:
        check_callable(
            given,
            "loss",
            "",
            expected="a function loss(params, data) -> scalar or a transformed model",
        )
        raise AssertionError("unreachable: a non-callable loss was rejected above")
    if loss.has_state and state is None:
        raise InvalidArgumentError(
            "the loss is for a model with state (made by transform_with_state) but no "
            "state was given. Pass the state init returned: "
            "params, state = model.init(...); train(..., state=state)."
        )
    if state is not None and not loss.has_state:
        raise InvalidArgumentError(
            "state= was given but the loss takes no state. Use a model made by "
            "transform_with_state, or a Loss(fn, has_state=True) whose fn is "
            "fn(params, state, batch) -> (loss, new_state)."
        )
    if state is not None and not isinstance(state, Mapping):
        raise InvalidArgumentTypeError(
            f"state must be the mapping init returned, got {type(state).__name__}."
        )
    return loss


def check_evaluate(
    evaluate: Callable[..., Any] | None,
    eval_data: Any,
    eval_every: int | None,
    with_state: bool,
    params: Any,
    state: Any,
) -> Callable[..., Any] | None:
    """The jitted ``evaluate(params, state, batch) -> dict of scalars``, traced once."""
    if evaluate is None:
        if eval_data is not None or eval_every is not None:
            raise InvalidArgumentError(
                "eval_data / eval_every need evaluate=, the function to run on them, "
                "e.g. evaluate=accuracy(model)."
            )
        return None
    check_callable(
        evaluate, "evaluate", "", expected="a function evaluate(params, batch) -> dict of scalars"
    )
    if eval_data is None:
        raise InvalidArgumentError("evaluate= needs eval_data=, the batch to evaluate on.")

    check_batch_leaves(eval_data, "eval_data")
    check_not_empty(eval_data, "eval_data")

    def run(p: Any, s: Any, batch: Any) -> Any:
        return evaluate(p, s, batch) if with_state else evaluate(p, batch)

    def checked(p: Any, s: Any, batch: Any) -> Any:
        out = run(p, s, batch)
        fix = "Return numbers or 0-d arrays, e.g. {'accuracy': jnp.mean(...)}."
        check_number_dict(out, "evaluate's result", fix)
        return out

    out = jax.eval_shape(checked, params, state, eval_data)
    if not isinstance(out, Mapping) or any(getattr(v, "shape", None) != () for v in out.values()):
        shapes = jax.tree_util.tree_map(lambda v: v.shape, out)
        raise InvalidArgumentError(f"evaluate must return a dict of scalars, got {shapes}.")
    return jax.jit(checked)  # the one trace eval_shape made


def default_per_dispatch(steps: int, every: int | None) -> int:
    """About 20 dispatches for long runs (so the bar moves), few for short ones.

    So that dispatch overhead stays small; at most 1000 steps each, and no
    more than ``every`` (the checkpoint / evaluation period).
    """
    chunks = max(1, min(20, steps // 200))
    n = max(1, min(1000, math.ceil(steps / chunks)))
    return min(n, every) if every else n


def check_resume_from(resume_from: Any, resume: bool, steps: int) -> None:
    """Checks ``train(..., resume_from=)`` against ``resume`` and ``steps``."""
    if not isinstance(resume_from, TrainResult):
        raise InvalidArgumentTypeError(
            f"resume_from must be the TrainResult of an earlier train call, got "
            f"{type(resume_from).__name__}."
        )
    if resume:
        raise InvalidArgumentError(
            "resume=True continues from a checkpoint and resume_from= from a "
            "result; pass one of them."
        )
    if steps < resume_from.step:
        raise InvalidArgumentError(
            f"steps={steps} is below the step of resume_from ({resume_from.step}); "
            f"steps counts from step 0, so pass steps >= {resume_from.step}."
        )
