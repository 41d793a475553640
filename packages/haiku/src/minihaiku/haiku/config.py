"""dm-haiku's ``hk.config``: ``context(...)`` and ``set(...)`` for dm-haiku's flags.

The flags: ``check_jax_usage`` (core's :func:`~minihaiku.core.check_jax_usage`:
parameter and state reads under a raw JAX transform are errors too),
``module_auto_repr`` (the ``Config`` column of ``hk.experimental.tabulate``
shows the constructor arguments), ``rng_reserve_size`` (how many keys each
split of the haiku key sequence makes when none are reserved: the key values
change, as in dm-haiku) and ``restore_flatmap`` (kept for dm-haiku programs
that set it; minihaiku's params are plain dicts, so it changes nothing). The
settings are process-wide (dm-haiku's are per thread).

Examples:
  >>> import minihaiku.haiku as hk
  >>> with hk.config.context(rng_reserve_size=2):
  ...   hk.config.get_config().rng_reserve_size
  2
  >>> hk.config.get_config().rng_reserve_size
  1
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import minihaiku.core as core
from minihaiku.core._schemes import KeySequence  # the haiku scheme's key splitting
from minihaiku.core.checks import check_bool, check_positive_int

__all__ = ["context", "set"]


@dataclasses.dataclass
class Config:
    """The flags in force (read with :func:`get_config`)."""

    check_jax_usage: bool = False
    module_auto_repr: bool = True
    restore_flatmap: bool = False
    rng_reserve_size: int = 1


_CONFIG = Config()


def get_config() -> Config:
    """The flags in force.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> hk.config.get_config().module_auto_repr
      True
    """
    return _CONFIG


def _write(
    check_jax_usage: bool | None,
    module_auto_repr: bool | None,
    restore_flatmap: bool | None,
    rng_reserve_size: int | None,
) -> None:
    where = "hk.config"
    if check_jax_usage is not None:
        _CONFIG.check_jax_usage = check_bool(check_jax_usage, "check_jax_usage", where)
        core.check_jax_usage(_CONFIG.check_jax_usage)
    if module_auto_repr is not None:
        _CONFIG.module_auto_repr = check_bool(module_auto_repr, "module_auto_repr", where)
    if restore_flatmap is not None:
        _CONFIG.restore_flatmap = check_bool(restore_flatmap, "restore_flatmap", where)
    if rng_reserve_size is not None:
        size = check_positive_int(rng_reserve_size, "rng_reserve_size", where)
        _CONFIG.rng_reserve_size = KeySequence.reserve_size = size


def set(
    *,
    check_jax_usage: bool | None = None,
    module_auto_repr: bool | None = None,
    restore_flatmap: bool | None = None,
    rng_reserve_size: int | None = None,
) -> None:
    """dm-haiku's ``hk.config.set``: sets the flags given (``None``: unchanged).

    Raises:
      InvalidArgumentError: a flag of the wrong type, or ``rng_reserve_size`` < 1
        (a ``ValueError``).

    Examples:
      >>> import minihaiku.haiku as hk
      >>> hk.config.set(module_auto_repr=False)
      >>> hk.config.get_config().module_auto_repr
      False
      >>> hk.config.set(module_auto_repr=True)
    """
    _write(check_jax_usage, module_auto_repr, restore_flatmap, rng_reserve_size)


@contextlib.contextmanager
def context(
    *,
    check_jax_usage: bool | None = None,
    module_auto_repr: bool | None = None,
    restore_flatmap: bool | None = None,
    rng_reserve_size: int | None = None,
) -> Iterator[None]:
    """dm-haiku's ``hk.config.context``: the flags given, inside the ``with`` block only.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> f = hk.transform(lambda: [hk.next_rng_key() for _ in range(2)])
      >>> with hk.config.context(rng_reserve_size=3):  # the second key differs
      ...   k3 = f.apply({}, jax.random.PRNGKey(0))
      >>> bool((k3[1] == f.apply({}, jax.random.PRNGKey(0))[1]).all())
      False
    """
    saved = dataclasses.replace(_CONFIG)
    _write(check_jax_usage, module_auto_repr, restore_flatmap, rng_reserve_size)
    try:
        yield
    finally:
        _write(
            saved.check_jax_usage,
            saved.module_auto_repr,
            saved.restore_flatmap,
            saved.rng_reserve_size,
        )
