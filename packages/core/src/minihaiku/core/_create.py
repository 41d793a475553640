"""Creating one parameter or state entry during ``init``.

The life of a parameter at creation: resolve the initializer (a callable or
a registered name), derive its key from the init key and its path (so its
value depends on nothing else), call the initializer once per enclosing
``layer_stack`` layer, and check what came back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core._checks import canonical_dtype, check_allocatable, is_array
from minihaiku.core._errors import InitializerError, MinihaikuError, NotCallableError, RngError
from minihaiku.core._frame import InitFrame
from minihaiku.core._init_plan import current_plan
from minihaiku.core._keyless import is_keyless, keyless
from minihaiku.core._keys import path_salt
from minihaiku.core._plugins.default import DEFAULT_INITIALIZER, get_initializer
from minihaiku.core._trace import check_trace

__all__ = ["InitLike", "build", "create", "zeros_init"]

#: What ``init=`` accepts: a ``(key, shape, dtype) -> Array`` callable, or a
#: registered initializer name.
InitLike = Callable[..., Any] | str | None


@keyless
def zeros_init(key: Any, shape: tuple[int, ...], dtype: Any) -> jax.Array:
    """The default initializer of state: zeros (ignores its key).

    Examples:
      >>> zeros_init(None, (2,), jnp.float32)
      Array([0., 0.], dtype=float32)
    """
    return jnp.zeros(shape, dtype)


def _resolve(init: InitLike, path: str) -> tuple[Callable[..., Any], str]:
    if init is None:
        return get_initializer(DEFAULT_INITIALIZER), repr(DEFAULT_INITIALIZER)
    if type(init) is str:
        return get_initializer(init), repr(init)
    if not callable(init):
        raise NotCallableError(
            f"init for {path!r} must be a callable (key, shape, dtype) -> Array "
            f"or a registered initializer name, got {type(init).__name__} "
            f"{init!r:.60}."
        )
    return init, getattr(init, "__qualname__", None) or repr(init)


def _call(
    initializer: Callable[..., Any],
    label: str,
    key: Any,
    shape: tuple[int, ...],
    dtype: Any,
    kind: str,
    path: str,
) -> Any:
    try:
        value = initializer(key, shape, dtype)
    except InitializerError as e:
        raise InitializerError(f"{e} (while creating {kind} {path!r})") from e
    except MinihaikuError:
        raise
    except TypeError as e:
        raise InitializerError(
            f"initializer {label} failed for {kind} {path!r}: TypeError: {e}. "
            "minihaiku calls initializers as init(key, shape, dtype). A function "
            "of (shape, dtype) such as jnp.zeros (a dm-haiku habit) must be "
            "wrapped: init=lambda key, shape, dtype: jnp.zeros(shape, dtype); or "
            "pass jax.nn.initializers.zeros, or the name 'zeros'."
        ) from e
    if not is_array(value):
        raise InitializerError(
            f"initializer {label} returned a {type(value).__name__}, not an "
            f"array, for {kind} {path!r}. An initializer must return an array "
            "(jax or numpy) of the shape and dtype it is given."
        )
    want = canonical_dtype(dtype, path)
    if value.shape != shape or value.dtype != want:
        raise InitializerError(
            f"initializer {label} returned shape {tuple(value.shape)} and dtype "
            f"{value.dtype} for {kind} {path!r}; expected shape {shape} and "
            f"dtype {want}. An initializer must return an array of exactly the "
            "shape and dtype it is given."
        )
    return value


def _param_key(frame: InitFrame, salt_path: str) -> Any:
    """``fold_in(init key, crc32(salt_path))``, on the host when the key allows."""
    if frame.rng is None:  # pragma: no cover - init always has a key
        raise RngError(f"creating {salt_path!r} needs a key; pass one to init.")
    return frame.keys.param_key(path_salt(salt_path))


def _stacked(inner: Callable[[Any], Any], size: int) -> Callable[[Any], Any]:
    def make(key: Any) -> Any:
        return jax.vmap(lambda i: inner(jax.random.fold_in(key, i)))(jnp.arange(size))

    return make


def build(
    initializer: Callable[..., Any],
    label: str,
    key: Any,
    shape: tuple[int, ...],
    dtype: Any,
    kind: str,
    path: str,
    sizes: tuple[int, ...],
) -> Any:
    """Calls the initializer with ``key``, once per layer of the stacks of ``sizes``.

    Shared by the eager ``init`` and the abstract one's creation step
    (:mod:`minihaiku.core._abstract_init`), so both make the same bits.
    """
    if not sizes:
        return _call(initializer, label, key, shape, dtype, kind, path)

    def make_one(k: Any) -> Any:
        return _call(initializer, label, k, shape, dtype, kind, path)

    make: Callable[[Any], Any] = make_one
    for size in reversed(sizes):  # one leading axis per enclosing stack
        make = _stacked(make, size)
    return make(key)


def create(
    frame: InitFrame,
    path: str,
    shape: tuple[int, ...],
    dtype: Any,
    init: InitLike,
    kind: str,
    salt_path: str,
) -> Any:
    """Creates the value of a new parameter (or state entry) at ``path``.

    Inside ``layer_stack`` (``frame.stacks``) the value gets one leading axis
    per enclosing stack, each layer initialized with its own key. While an
    abstract ``init`` records its plan, returns a placeholder instead.
    """
    check_trace(frame.trace, f"creating {kind} {path!r}")
    want = canonical_dtype(dtype, path)  # a bad dtype is reported before any initializer runs
    stacks = frame.stacks
    check_allocatable(path, kind, (*(n for n, _ in stacks), *shape), want)
    initializer, label = _resolve(init, path)
    needs_key = bool(stacks) or not is_keyless(initializer)
    plan = current_plan()
    if plan is not None:
        return plan.record(
            frame, path, shape, dtype, initializer, label, kind, salt_path, needs_key
        )
    key = _param_key(frame, salt_path) if needs_key else None
    return build(initializer, label, key, shape, dtype, kind, path, tuple(n for n, _ in stacks))
