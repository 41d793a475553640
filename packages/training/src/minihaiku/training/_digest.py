"""A digest of a pytree of arrays, to tell a damaged checkpoint from a good one."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import jax
import numpy as np

__all__ = ["saveable", "to_numpy", "tree_digest"]


def tree_digest(tree: Any) -> str:
    """The sha256 over every leaf's path, shape, dtype and bytes, in path order.

    The digest depends only on the values, not on where they live (device or
    host) or on the order of a dict's keys, so the digest of a tree as saved
    equals that of the same tree as restored, and one flipped bit changes it.

    Args:
      tree: a pytree of arrays (numpy, JAX or scalars).

    Returns:
      The hex digest, prefixed with ``"sha256:"``.

    Examples:
      >>> from minihaiku.training import tree_digest
      >>> a = tree_digest({"w": np.zeros(3, np.float32)})
      >>> a == tree_digest({"w": jnp.zeros(3, jnp.float32)})
      True
      >>> a == tree_digest({"w": np.array([0, 0, 1e-45], np.float32)})
      False
    """
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    leaves = sorted((jax.tree_util.keystr(path), leaf) for path, leaf in flat)
    h = hashlib.sha256()
    for path, leaf in leaves:
        array = np.asarray(to_numpy(leaf), order="C")  # (ascontiguousarray would make scalars 1-d)
        header = json.dumps([path, list(array.shape), str(array.dtype)]).encode()
        h.update(len(header).to_bytes(8, "little"))
        h.update(header)
        h.update(array.nbytes.to_bytes(8, "little"))
        h.update(array.tobytes())
    return "sha256:" + h.hexdigest()


def to_numpy(x: Any) -> np.ndarray:
    """The full value of ``x`` on this host; across processes a sharded array is gathered.

    Gathering is a collective: every process must call it for the same array.

    Examples:
      >>> from minihaiku.training._digest import to_numpy
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
      >>> from minihaiku.training._digest import saveable
      >>> saveable({"w": np.zeros(2)})["w"]
      array([0., 0.])
    """
    if _SHARDED_SAVES:
        return tree
    return jax.tree_util.tree_map(
        lambda x: to_numpy(x) if isinstance(x, jax.Array) and len(x.devices()) > 1 else x, tree
    )
