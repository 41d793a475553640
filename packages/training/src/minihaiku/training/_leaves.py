"""Checks on what :func:`train` is given and gets back: arrays of numbers, not strings.

Run once per run (on the data, on the evaluation batch, while the loss and
the evaluation are traced), so a string in a batch or a metric is an error
naming where it is, not a bare JAX ``TypeError`` naming an internal function.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from minihaiku.core import InvalidArgumentTypeError
from minihaiku.training._errors import DataError, DataTypeError

__all__ = ["check_batch_leaves", "check_not_empty", "check_number_dict", "not_a_number"]

_NUMBERS = (bool, int, float, complex, np.number, np.bool_)


def not_a_number(value: Any) -> str | None:
    """What ``value`` is, if it is not a number or an array of numbers (else ``None``).

    Examples:
      >>> not_a_number(np.zeros(3)) is None, not_a_number("high")
      (True, 'a str')
      >>> not_a_number(np.array(["a", "b"]))
      'an array of dtype <U1'
    """
    if isinstance(value, _NUMBERS):
        return None
    if value is None:
        return "None"
    if isinstance(value, (jax.Array, np.ndarray)):  # tracers are jax.Arrays
        dtype = value.dtype
        if jnp.issubdtype(dtype, jnp.number) or jnp.issubdtype(dtype, jnp.bool_):
            return None
        return f"an array of dtype {dtype}"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiouAEIOU' else 'a'} {name}"


def check_batch_leaves(data: Any, name: str, what: str = "") -> None:
    """Raises :class:`DataTypeError` at the first leaf of ``data`` that is not numbers.

    ``name`` starts the leaf's path (``data``, ``eval_data``, ``batch``);
    ``what`` says which batch when ``name`` does not (``"the data iterator's
    first batch: "``).
    """
    for path, leaf in jax.tree_util.tree_flatten_with_path(data)[0]:
        got = not_a_number(leaf)
        if got is not None:
            raise DataTypeError(
                f"{what}{name}{jax.tree_util.keystr(path)} is {got}, not an array of "
                "numbers (every leaf of a batch goes into the compiled step). Convert it, "
                "e.g. np.asarray(..., np.float32), or leave it out."
            )


def check_not_empty(data: Any, name: str, what: str = "") -> None:
    """Raises :class:`DataError` if every array leaf of ``data`` holds 0 examples (axis 0).

    The loss of an empty batch is NaN (a mean over nothing): a run on it would
    look diverged. ``what`` names the batch when ``name`` does not.
    """
    leaves = jax.tree_util.tree_flatten_with_path(data)[0]
    arrays = [(path, np.shape(x)) for path, x in leaves if np.ndim(x) >= 1]
    if arrays and all(shape[0] == 0 for _, shape in arrays):
        path, shape = arrays[0]
        raise DataError(
            f"{what or name} holds no examples: every array in it has 0 rows on axis 0 "
            f"({name}{jax.tree_util.keystr(path)} has shape {shape}), and a loss over no "
            "examples is NaN. Give it at least one example."
        )


def check_number_dict(out: Any, who: str, fix: str) -> None:
    """Raises :class:`InvalidArgumentTypeError` where ``out`` holds something not a number.

    ``who`` names the function's output (``"evaluate's result"``, ``"the
    loss's metrics"``), ``fix`` is the advice. Called while tracing (tracers
    pass); a mapping of arrays of other shapes is left to the shape checks.
    """
    if not isinstance(out, Mapping):
        got = not_a_number(out)
        if got is not None:
            raise InvalidArgumentTypeError(
                f"{who} must be a dict of scalars (name -> number), got {got}. {fix}"
            )
        return
    for key, value in out.items():
        got = not_a_number(value)
        if got is not None:
            raise InvalidArgumentTypeError(
                f"{who} must be a dict of scalars (name -> number); {key!r} is {got}. {fix}"
            )
