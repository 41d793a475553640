"""dm-haiku's lifted transforms and control flow: core's, with dm-haiku's signatures and rules.

``scan``, ``map``, ``cond``, ``switch`` and ``fori_loop`` are core's as they
are (same parameters). ``vmap``, ``remat``, ``grad``, ``value_and_grad`` and
``while_loop`` take dm-haiku's parameters here and keep dm-haiku's rules:
``vmap(split_rng=True)`` and ``while_loop`` are errors during ``init``.

Examples:
  >>> import minihaiku.haiku as hk
  >>> def f(x):
  ...   return hk.vmap(lambda y: hk.Linear(2)(y), split_rng=False)(x)
  >>> f = hk.transform(f)
  >>> params = f.init(jax.random.PRNGKey(0), jnp.ones((3, 4)))
  >>> params["linear"]["w"].shape
  (4, 2)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import minihaiku.core as core
from minihaiku.core import InvalidArgumentError
from minihaiku.core._frame import InitFrame, frame_or_none  # eval_shape drops its init params

__all__ = ["eval_shape", "grad", "remat", "value_and_grad", "vmap", "while_loop"]


def vmap(
    fun: Callable[..., Any],
    in_axes: Any = 0,
    out_axes: Any = 0,
    axis_name: str | None = None,
    axis_size: int | None = None,
    *,
    split_rng: bool,
    spmd_axis_name: Any | None = None,
) -> Callable[..., Any]:
    """dm-haiku's ``hk.vmap``: ``jax.vmap`` of a function that uses modules and keys.

    Parameters are shared along the mapped axis. ``split_rng`` is required (as
    in dm-haiku): ``True`` gives each element its own key (only in ``apply``:
    during ``init`` it is an error, as in dm-haiku; pass
    ``split_rng=(not hk.running_init())``).

    ``axis_name`` names the mapped axis for collectives inside ``fun``
    (``jax.lax.pmean``, ``hk.BatchNorm(cross_replica_axis=...)``), as in
    ``jax.vmap``; ``spmd_axis_name`` is passed on to ``jax.vmap``.

    Raises:
      InvalidArgumentError: ``split_rng=True`` while ``init`` runs (a ``ValueError``).

    Examples:
      >>> import minihaiku.haiku as hk
      >>> def f(x):
      ...   return hk.vmap(lambda y: hk.get_parameter("s", [], init=jnp.ones) * y,
      ...                  split_rng=False)(x)
      >>> f = hk.transform(f)
      >>> f.apply(f.init(None, jnp.arange(3.0)), None, jnp.arange(3.0))
      Array([0., 1., 2.], dtype=float32)
    """
    mapped = core.vmap(
        fun, in_axes, out_axes, axis_size, split_rng=split_rng,
        axis_name=axis_name, spmd_axis_name=spmd_axis_name,
    )  # fmt: skip

    def run(*args: Any) -> Any:
        if split_rng and core.running_init():
            raise InvalidArgumentError(
                f"vmap({getattr(fun, '__name__', 'fun')}, split_rng=True) during init: "
                "parameters are shared along the mapped axis, so init must not split "
                "keys (dm-haiku's rule). Pass split_rng=(not hk.running_init())."
            )
        return mapped(*args)

    return run


def remat(
    fun: Callable[..., Any],
    *,
    prevent_cse: bool | Sequence[bool] = True,
    policy: Callable[..., bool] | None = None,
    static_argnums: int | tuple[int, ...] = (),
) -> Callable[..., Any]:
    """dm-haiku's ``hk.remat``: ``jax.checkpoint`` of a function that uses modules.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.transform(lambda x: hk.remat(lambda y: hk.Linear(2)(y))(x))
      >>> list(f.init(jax.random.PRNGKey(0), jnp.ones((1, 3))))
      ['linear']
    """
    return core.remat(fun, prevent_cse=prevent_cse, policy=policy, static_argnums=static_argnums)


def grad(
    fun: Callable[..., Any],
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
) -> Callable[..., Any]:
    """dm-haiku's ``hk.grad``: the gradient of ``fun`` with respect to its arguments.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.transform(lambda x: hk.grad(lambda y: (y**2).sum())(x))
      >>> f.apply({}, None, jnp.array([1.0, 2.0]))
      Array([2., 4.], dtype=float32)
    """
    return core.grad(fun, argnums, has_aux, holomorphic=holomorphic)


def value_and_grad(
    fun: Callable[..., Any],
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
) -> Callable[..., Any]:
    """dm-haiku's ``hk.value_and_grad``: ``fun``'s value and its gradient.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.transform(lambda x: hk.value_and_grad(lambda y: (y**2).sum())(x))
      >>> f.apply({}, None, jnp.array([1.0, 2.0]))
      (Array(5., dtype=float32), Array([2., 4.], dtype=float32))
    """
    return core.value_and_grad(fun, argnums, has_aux, holomorphic=holomorphic)


def while_loop(
    cond_fun: Callable[[Any], Any], body_fun: Callable[[Any], Any], init_val: Any
) -> Any:
    """dm-haiku's ``hk.while_loop``: ``jax.lax.while_loop`` whose body may use modules.

    Not during ``init`` (dm-haiku's rule: whether the body runs at all is not
    known when tracing); build the modules unconditionally there.

    Raises:
      InvalidArgumentError: called while ``init`` runs (a ``ValueError``, as in dm-haiku).

    Examples:
      >>> import minihaiku.haiku as hk
      >>> def f(x):
      ...   if hk.running_init():
      ...     return x
      ...   return hk.while_loop(lambda v: v < 5, lambda v: v * 2, x)
      >>> hk.transform(f).apply({}, None, 1)
      Array(8, dtype=int32, weak_type=True)
    """
    if core.running_init():
        raise InvalidArgumentError(
            "while_loop during init: it cannot be known when tracing whether the loop "
            "body runs at all (dm-haiku's rule). Under hk.running_init(), call the "
            "body once unconditionally instead of the loop."
        )
    return core.while_loop(cond_fun, body_fun, init_val)


def eval_shape(fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """dm-haiku's ``hk.eval_shape``: ``jax.eval_shape`` of a function that uses modules.

    Changes to state inside are discarded, and so are the keys drawn inside
    (the key sequence continues as if ``fun`` had not run), as in dm-haiku.
    During ``init`` so are the parameters ``fun`` creates (dm-haiku's
    ``init`` does not return them, and ``apply`` then cannot find them).

    Examples:
      >>> import minihaiku.haiku as hk
      >>> def f(x):
      ...   lin = hk.Linear(2)
      ...   lin(x)
      ...   return hk.eval_shape(lin, x)
      >>> f = hk.transform(f)
      >>> x = jnp.ones((1, 3))
      >>> f.apply(f.init(jax.random.PRNGKey(0), x), None, x)
      ShapeDtypeStruct(shape=(1, 2), dtype=float32)
    """
    frame = frame_or_none()
    if frame is None or not isinstance(frame, InitFrame):
        return core.eval_shape(fun, *args, **kwargs)
    params = frame.params
    before = set(params)
    out = core.eval_shape(fun, *args, **kwargs)
    for path in [p for p in params if p not in before]:
        del params[path]
    return out
