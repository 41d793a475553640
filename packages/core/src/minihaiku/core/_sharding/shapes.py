"""Abstract shapes: what ``init`` would make, as ShapeDtypeStructs, optionally with shardings.

One abstract trace of ``init`` (``abstract_init`` in ``init.py``: no arrays);
with a mesh, each entry also carries the NamedSharding its ``axes=`` and the
rules give it.
"""

from __future__ import annotations

from typing import Any

from minihaiku.core._sharding.init import abstract_init, shardings_of, with_shardings

__all__ = ["init_shapes"]


def init_shapes(
    transformed: Any,
    *args: Any,
    rng: Any = 0,
    mesh: Any = None,
    rules: Any = None,
    **kwargs: Any,
) -> Any:
    """The params (and state) ``init`` would make, as ShapeDtypeStructs: no arrays.

    With ``mesh`` (a ``jax.sharding.Mesh``), each ShapeDtypeStruct carries
    the NamedSharding that its ``axes=`` annotation and the rules give it
    (``rules=``, else the current ``with axis_rules(...)``; unannotated
    parameters are replicated), ready for ``jax.jit(..., out_shardings=...)``
    or a checkpoint restore.

    Examples:
      >>> from minihaiku.core import get_param, init_shapes, transform
      >>> big = transform(lambda x: x @ get_param("w", (x.shape[-1], 4096)))
      >>> shapes = init_shapes(big, jnp.ones((1, 4096)))
      >>> shapes["~/w"]
      ShapeDtypeStruct(shape=(4096, 4096), dtype=float32)
      >>> f = transform(lambda x: x @ get_param("w", (4, 8), axes=("embed", "mlp")))
      >>> mesh = jax.make_mesh((1, 1), ("data", "model"))
      >>> shapes = init_shapes(f, jnp.ones((1, 4)), mesh=mesh, rules={"mlp": "model"})
      >>> tuple(shapes["~/w"].sharding.spec)
      (None, 'model')
    """
    shapes, record = abstract_init(transformed, args, kwargs, rng, "init_shapes", False)
    if mesh is None:
        return shapes
    return with_shardings(shapes, shardings_of(shapes, record, rules, mesh, "init_shapes"))
