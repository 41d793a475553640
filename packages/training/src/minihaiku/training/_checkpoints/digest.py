"""A digest of a pytree of arrays, to tell a damaged checkpoint from a good one."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import jax
import numpy as np

from minihaiku.training._transfer import to_numpy

__all__ = ["tree_digest"]


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
