"""Arrays between devices and this host: gathering for checkpoints, digests and records."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

__all__ = ["saveable", "to_numpy"]


def to_numpy(x: Any) -> np.ndarray:
    """The full value of ``x`` on this host; across processes a sharded array is gathered.

    Gathering is a collective: every process must call it for the same array.

    Examples:
      >>> from minihaiku.training._transfer import to_numpy
      >>> to_numpy(jnp.arange(3, dtype=jnp.int32))
      array([0, 1, 2], dtype=int32)
    """
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        if x.is_fully_replicated:
            return np.asarray(x.addressable_shards[0].data)
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


#: Recent orbax releases write replicated shards inside ``with
#: jax.sharding.set_mesh(...)``, which JAX before 0.7 does not support.
_SHARDED_SAVES = tuple(int(p) for p in jax.__version__.split(".")[:2]) >= (0, 7)


def saveable(tree: Any) -> Any:
    """``tree`` as orbax can save it: as it is, or on JAX < 0.7 sharded arrays on the host.

    Examples:
      >>> from minihaiku.training._transfer import saveable
      >>> saveable({"w": np.zeros(2)})["w"]
      array([0., 0.])
    """
    if _SHARDED_SAVES:
        return tree
    return jax.tree_util.tree_map(
        lambda x: to_numpy(x) if isinstance(x, jax.Array) and len(x.devices()) > 1 else x, tree
    )
