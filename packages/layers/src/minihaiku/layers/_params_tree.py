"""``EMAParamsTree`` and ``SNParamsTree``: a moving average or a spectral norm per parameter.

Both take a tree of parameters, dm-haiku's nested ``{module: {name: array}}``
or minihaiku's flat ``{path: array}``, and return one of the same structure,
as dm-haiku's ``hk.EMAParamsTree`` and ``hk.SNParamsTree``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from minihaiku.core import InvalidArgumentTypeError, Module
from minihaiku.core.checks import prefix
from minihaiku.layers._moving_averages import ExponentialMovingAverage
from minihaiku.layers._spectral_norm import SpectralNorm

__all__ = ["EMAParamsTree", "SNParamsTree"]


def _check_regex(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentTypeError(
            f"{prefix(where)}ignore_regex must be a string (a regular expression matched "
            f"against 'module/name'), got {type(value).__name__} {value!r:.60}. Pass e.g. "
            "ignore_regex='.*b$' to skip the biases."
        )
    re.compile(value)
    return value


def _map_tree(
    tree: Any, fn: Callable[[str, Any], Any], ignore_regex: str, where: str
) -> dict[str, Any]:
    """``fn(path, leaf)`` on each leaf whose ``module/name`` path ``ignore_regex`` misses."""
    if not isinstance(tree, Mapping):
        raise InvalidArgumentTypeError(
            f"{prefix(where)}tree must be a dict of parameters ({{module: {{name: array}}}} "
            f"as dm-haiku's, or {{path: array}} as minihaiku's), got {type(tree).__name__}. "
            "Pass the params of a transformed function."
        )

    def leaf(path: str, value: Any) -> Any:
        if ignore_regex and re.match(ignore_regex, path):
            return value
        return fn(path, value)

    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out[key] = {name: leaf(f"{key}/{name}", v) for name, v in value.items()}
        else:
            out[key] = leaf(key, value)
    return out


def _module_name(path: str, tilde: str) -> str:
    """dm-haiku's name of a parameter's module: ``/`` as ``__``, ``~`` as ``tilde``."""
    return path.replace("/", "__").replace("~", tilde)


class EMAParamsTree(Module):
    """An :class:`ExponentialMovingAverage` of every parameter of a tree, as dm-haiku's.

    One moving average per parameter (named as dm-haiku names it:
    ``linear/w`` -> ``linear__w``), its ``hidden``/``average``/``counter`` in
    the state. Returns the tree of averages; parameters whose
    ``module/name`` path ``ignore_regex`` matches (:func:`re.match`) are
    returned as they are.

    Args:
      decay: the decay of the moving averages.
      zero_debias: debias the averages (as ``ExponentialMovingAverage``).
      warmup_length: the warmup of the decay.
      ignore_regex: a regular expression of the paths to leave alone; ``""``
        (default) averages every parameter.
      name: the module's name; default ``EMAParamsTree_N``.

    Examples:
      >>> from minihaiku.core import transform_with_state
      >>> from minihaiku.layers import EMAParamsTree
      >>> f = transform_with_state(lambda p: EMAParamsTree(0.9, ignore_regex=".*b$")(p))
      >>> params = {"linear": {"w": jnp.ones(2), "b": jnp.zeros(2)}}
      >>> _, state = f.init(0, params)
      >>> sorted(state)[0]
      '~/EMAParamsTree_0/__call__/linear__w/average'
      >>> f.apply({}, state, params)[0]["linear"]["w"]
      Array([1., 1.], dtype=float32)
    """

    def __init__(
        self,
        decay: Any,
        zero_debias: bool = True,
        warmup_length: int = 0,
        ignore_regex: str = "",
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.decay = decay
        self.zero_debias = zero_debias
        self.warmup_length = warmup_length
        self.ignore_regex = _check_regex(ignore_regex, self.module_label)

    def __call__(self, tree: Any, update_stats: bool = True) -> Any:
        """The tree of moving averages (updated first when ``update_stats``)."""

        def ema(path: str, value: Any) -> Any:
            module = ExponentialMovingAverage(
                self.decay, self.zero_debias, self.warmup_length, _module_name(path, "_tilde_")
            )
            return module(value, update_stats=update_stats)

        return _map_tree(tree, ema, self.ignore_regex, self.module_label)


class SNParamsTree(Module):
    """A :class:`SpectralNorm` of every parameter of a tree, as dm-haiku's.

    Each parameter (a matrix, or of higher rank: see ``SpectralNorm``) is
    divided by its estimated largest singular value; ``u0``/``sigma`` of each
    are state (named as dm-haiku names them: ``linear/w`` -> ``linear__w``).
    Parameters whose ``module/name`` path ``ignore_regex`` matches are returned
    as they are (biases, typically: a vector has no spectral norm).

    Args:
      eps: as ``SpectralNorm``'s.
      n_steps: power iterations per call.
      ignore_regex: a regular expression of the paths to leave alone.
      name: the module's name; default ``SNParamsTree_N``.

    Examples:
      >>> from minihaiku.core import transform_with_state
      >>> from minihaiku.layers import SNParamsTree
      >>> f = transform_with_state(lambda p: SNParamsTree(ignore_regex=".*b$")(p))
      >>> params = {"linear": {"w": 3.0 * jnp.eye(2), "b": jnp.ones(2)}}
      >>> out, _ = f.apply({}, f.init(0, params)[1], params)
      >>> np.round(np.asarray(out["linear"]["w"]), 3)
      array([[1., 0.],
             [0., 1.]], dtype=float32)
    """

    def __init__(
        self,
        eps: float = 1e-4,
        n_steps: int = 1,
        ignore_regex: str = "",
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.eps = eps
        self.n_steps = n_steps
        self.ignore_regex = _check_regex(ignore_regex, self.module_label)

    def __call__(self, tree: Any, update_stats: bool = True) -> Any:
        """The tree of spectrally normalized parameters."""

        def sn(path: str, value: Any) -> Any:
            module = SpectralNorm(self.eps, self.n_steps, name=_module_name(path, "_tilde"))
            return module(value, update_stats=update_stats)

        return _map_tree(tree, sn, self.ignore_regex, self.module_label)
