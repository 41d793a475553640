"""dm-haiku's experimental switches and the key sequence's state, on core.

``check_jax_usage``, ``module_auto_repr`` and ``rng_reserve_size`` set the
flags of :mod:`minihaiku.haiku.config` and return the previous value;
``maybe_get_rng_sequence_state``/``replace_rng_sequence_state`` read and
replace the haiku key sequence of the running transform (its key and the keys
already split off), so that a saved state gives the same keys again.

Examples:
  >>> import minihaiku.haiku as hk
  >>> def f():
  ...   saved = hk.experimental.maybe_get_rng_sequence_state()
  ...   first = hk.next_rng_key()
  ...   hk.experimental.replace_rng_sequence_state(saved)
  ...   return bool((first == hk.next_rng_key()).all())
  >>> hk.transform(f).apply({}, jax.random.PRNGKey(0))
  True
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

import jax

from minihaiku.core import InvalidArgumentError, RngError
from minihaiku.core._frame import current_frame  # the running transform's keys
from minihaiku.core._schemes import HaikuKeys, KeySequence
from minihaiku.core.checks import check_bool
from minihaiku.haiku import config

__all__ = [
    "check_jax_usage",
    "maybe_get_rng_sequence_state",
    "module_auto_repr",
    "replace_rng_sequence_state",
    "rng_reserve_size",
]

#: dm-haiku's ``PRNGSequenceState``: the sequence's key and the keys split off, not yet used.
PRNGSequenceState = tuple[jax.Array, Iterable[jax.Array]]


def check_jax_usage(enabled: bool = True) -> bool:
    """dm-haiku's ``check_jax_usage``: reads under a raw JAX transform are errors too.

    Returns the previous setting. See :func:`minihaiku.core.check_jax_usage`.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> previous = hk.experimental.check_jax_usage()
      >>> hk.experimental.check_jax_usage(previous)
      True
    """
    previous = config.get_config().check_jax_usage
    config.set(check_jax_usage=check_bool(enabled, "enabled", "check_jax_usage"))
    return previous


def module_auto_repr(enabled: bool) -> bool:
    """dm-haiku's ``module_auto_repr``: the ``Config`` column of ``tabulate``; the previous value.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> hk.experimental.module_auto_repr(False)
      True
      >>> hk.experimental.module_auto_repr(True)
      False
    """
    previous = config.get_config().module_auto_repr
    config.set(module_auto_repr=enabled)
    return previous


def rng_reserve_size(size: int) -> int:
    """dm-haiku's ``rng_reserve_size``: keys split at once per split; the previous size.

    With ``size`` > 1 each split of the key sequence makes ``size`` keys, so
    the keys (and initial values) change, exactly as in dm-haiku.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> hk.experimental.rng_reserve_size(4)
      1
      >>> hk.experimental.rng_reserve_size(1)
      4
    """
    previous = config.get_config().rng_reserve_size
    config.set(rng_reserve_size=size)
    return previous


def _sequence(what: str) -> KeySequence | None:
    keys = current_frame(what).keys
    if not isinstance(keys, HaikuKeys):
        raise InvalidArgumentError(
            f"{what} reads the haiku key sequence, but this transform uses the seed "
            "scheme's path-derived keys. Use it under hk.transform (scheme='haiku')."
        )
    if not keys.can_draw():
        return None
    return keys._sequence()


def maybe_get_rng_sequence_state() -> PRNGSequenceState | None:
    """dm-haiku's ``maybe_get_rng_sequence_state``: ``(key, reserved keys)``, or ``None``.

    ``None`` when the transform was given no key.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.transform(hk.experimental.maybe_get_rng_sequence_state)
      >>> f.apply({}, None) is None
      True
      >>> key, reserved = f.apply({}, jax.random.PRNGKey(0))
      >>> key.shape, reserved
      ((2,), ())
    """
    seq = _sequence("maybe_get_rng_sequence_state")
    if seq is None:
        return None
    return seq.key, tuple(seq.subkeys)


def replace_rng_sequence_state(state: PRNGSequenceState) -> None:
    """dm-haiku's ``replace_rng_sequence_state``: the key sequence continues from ``state``.

    Raises:
      RngError: the transform was given no key (a ``ValueError``, as in dm-haiku).

    Examples:
      >>> import minihaiku.haiku as hk
      >>> def f():
      ...   hk.experimental.replace_rng_sequence_state((jax.random.PRNGKey(7), ()))
      ...   return hk.next_rng_key()
      >>> g = lambda: next(hk.PRNGSequence(7))
      >>> bool((hk.transform(f).apply({}, 0) == g()).all())
      True
    """
    seq = _sequence("replace_rng_sequence_state")
    if seq is None:
        raise RngError(
            "replace_rng_sequence_state needs the transform to have a key: pass one "
            "to init/apply (jax.random.PRNGKey(seed)) instead of None."
        )
    key, reserved = state
    seq.key = key
    seq.subkeys = collections.deque(reserved)
