"""``export``: a transformed function and its params as a serialized ``jax.export`` file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from minihaiku.core._surgery.export_file import ExportError, read_artifact, write_artifact
from minihaiku.core._surgery.layout import as_flat
from minihaiku.core._transform import Transformed, TransformedWithState
from minihaiku.core._version import __version__

__all__ = ["ExportedModel", "export", "load_exported"]

#: The name of the symbolic batch dimension in exported input shapes.
BATCH = "batch"


def _jax_export(what: str) -> Any:
    """``jax.export``, imported when first used: importing minihaiku.core must not need it.

    JAX 0.6 does not import the submodule itself, and its import needs absl-py
    there (and flatbuffers to serialize), which a core-only install may lack.
    """
    try:
        from jax import export as jax_export
    except ImportError as e:
        raise ExportError(
            f"{what} needs jax.export, which failed to import ({type(e).__name__}: {e}). "
            "Install what it names (e.g. pip install absl-py flatbuffers), or a newer jax."
        ) from e
    return jax_export


def _specs(tree: Any) -> Any:
    """``jax.ShapeDtypeStruct`` of every array (or struct) leaf of ``tree``."""
    return jax.tree_util.tree_map(
        lambda x: jax.ShapeDtypeStruct(np.shape(x), x.dtype),  # type: ignore[no-untyped-call]
        tree,
    )


def _with_batch(arg: Any, axis: int | None, index: int, batch: Any) -> Any:
    """``arg``'s specs, with dimension ``axis`` of each leaf the symbolic ``batch``."""
    if axis is None:
        return _specs(arg)

    def one(x: Any) -> jax.ShapeDtypeStruct:
        shape = list(np.shape(x))
        if not -len(shape) <= axis < len(shape):
            raise ExportError(
                f"export: example argument {index} has an array of shape {tuple(shape)}, "
                f"which has no axis {axis} to make the batch dimension. Pass "
                f"batch_axes with None for that argument, e.g. batch_axes=(0, None)."
            )
        shape[axis] = batch
        return jax.ShapeDtypeStruct(tuple(shape), x.dtype)  # type: ignore[no-untyped-call]

    return jax.tree_util.tree_map(one, arg)


def _batch_axes(batch_axes: Any, n: int) -> list[int | None]:
    if batch_axes is None or type(batch_axes) is int:
        return [batch_axes] * n
    axes = list(batch_axes) if isinstance(batch_axes, Sequence) else None
    if axes is None or len(axes) != n or not all(a is None or type(a) is int for a in axes):
        raise ExportError(
            f"export: batch_axes must be None, one int for every example argument, or "
            f"one int or None per example argument ({n}), got {batch_axes!r:.60}."
        )
    return axes


def _aval(aval: Any) -> str:
    """``'float32[batch,64]'``: the same text on every JAX version."""
    return f"{aval.dtype}[{','.join(str(d) for d in aval.shape)}]"


def _spec_record(tree: Mapping[str, Any]) -> dict[str, Any]:
    """Shape and dtype by path (nested params by their ``module/name`` paths)."""
    flat, _ = as_flat(tree)
    return {
        k: {"shape": list(np.shape(v)), "dtype": str(np.dtype(v.dtype))} for k, v in flat.items()
    }


def export(
    transformed: Transformed | TransformedWithState,
    params: Mapping[str, Any],
    *example_args: Any,
    path: str | Path,
    state: Mapping[str, Any] | None = None,
    embed_params: bool = True,
    batch_axes: int | Sequence[int | None] | None = None,
    platforms: Sequence[str] | None = None,
) -> Path:
    r"""Writes ``transformed.apply`` as a serialized ``jax.export`` artifact (StableHLO).

    The file runs with :func:`load_exported`, without the model's Python code
    (any program with JAX can load it). Its format: the line
    ``MINIHAIKU-EXPORT``, a JSON header (format version, the param paths,
    shapes and dtypes, the input and output shapes, the JAX and minihaiku
    versions, the payload's size and sha256) and the bytes of
    ``jax.export.Exported.serialize()``.

    Args:
      transformed: what :func:`~minihaiku.core.transform` or
        :func:`~minihaiku.core.transform_with_state` returns (or
        :func:`~minihaiku.core.quantized` of it: int8 weights are exported as
        int8, dequantized inside the program).
      params: the params to export with (their shapes and dtypes are fixed).
      *example_args: the arguments ``apply`` gets after the params (and
        state): arrays or ``jax.ShapeDtypeStruct``\s, any pytree.
      path: the file to write (``.mhx`` by convention).
      state: the state, for a ``transform_with_state`` function (required
        there); it follows the params (embedded or an argument).
      embed_params: ``True`` (default): the params (and state) are constants
        of the program, the loaded model takes only the arguments. ``False``:
        they are its first arguments, as for ``apply``.
      batch_axes: which axis of the example arguments' arrays is a symbolic
        batch dimension (any size when called): one int for all of them, or
        one int or ``None`` per argument. ``None`` (default): fixed shapes.
      platforms: the platforms to compile for (e.g. ``("cpu", "cuda")``);
        default: the current backend.

    Returns:
      The absolute path written.

    Raises:
      ExportError: ``batch_axes`` does not fit the arguments, a state is
        missing or not expected, or the file cannot be written.

    Examples:
      >>> import tempfile
      >>> from minihaiku.core import export, load_exported, get_param, transform
      >>> model = transform(lambda x: x @ get_param("w", (3, 2), init=jax.nn.initializers.ones))
      >>> x = jnp.ones((4, 3))
      >>> params = model.init(0, x)
      >>> path = export(model, params, x, path=f"{tempfile.mkdtemp()}/m.mhx", batch_axes=0)
      >>> served = load_exported(path)
      >>> served.inputs
      ['float32[batch,3]']
      >>> served(jnp.ones((2, 3)))
      Array([[3., 3.],
             [3., 3.]], dtype=float32)
    """
    stateful = isinstance(transformed, TransformedWithState)
    if not callable(getattr(transformed, "apply", None)):
        raise ExportError(
            f"export: expected what transform or transform_with_state returns, got "
            f"{type(transformed).__name__} {transformed!r:.60}."
        )
    if stateful and state is None:
        raise ExportError(
            "export: a transform_with_state function needs its state: pass "
            "state=<the state from init or training>."
        )
    if not stateful and state is not None:
        raise ExportError(
            "export: state= is only for transform_with_state functions; this one "
            "takes no state. Leave state out."
        )
    if not isinstance(params, Mapping):
        raise ExportError(
            f"export: params must be the mapping init returns (flat or nested), got "
            f"{type(params).__name__}."
        )
    params = dict(params)
    fixed = (params, dict(state)) if stateful else (params,)  # type: ignore[arg-type]
    apply = transformed.apply
    if embed_params:

        def fn(*args: Any) -> Any:
            return apply(*fixed, *args)

        lead: tuple[Any, ...] = ()
    else:

        def fn(*args: Any) -> Any:
            return apply(*args)

        lead = tuple(_specs(t) for t in fixed)
    jax_export = _jax_export("export")
    batch = jax_export.symbolic_shape(BATCH)[0]
    axes = _batch_axes(batch_axes, len(example_args))
    specs = [
        _with_batch(a, ax, i, batch)
        for i, (a, ax) in enumerate(zip(example_args, axes, strict=True))
    ]
    where = None if platforms is None else tuple(platforms)
    exported = jax_export.export(jax.jit(fn), platforms=where)(*lead, *specs)
    header = {
        "kind": "transform_with_state" if stateful else "transform",
        "embedded": bool(embed_params),
        "params": _spec_record(params),
        "state": _spec_record(state) if state is not None else None,
        "inputs": [_aval(a) for a in exported.in_avals[len(jax.tree_util.tree_leaves(lead)) :]],
        "outputs": [_aval(a) for a in exported.out_avals],
        "platforms": list(exported.platforms),
        "jax_version": jax.__version__,
        "minihaiku_version": __version__,
    }
    return write_artifact(Path(path).absolute(), header, bytes(exported.serialize()))


def _check_tree(given: Any, want: dict[str, Any], what: str, path: Path) -> dict[str, Any]:
    """``given`` as a dict, after checking its paths, shapes and dtypes against ``want``."""
    if not isinstance(given, Mapping):
        raise ExportError(
            f"{path}: the exported model takes its {what} as its first argument(s): a "
            f"flat path -> array mapping, got {type(given).__name__}."
        )
    flat, _ = as_flat(given)
    missing = [k for k in want if k not in flat]
    extra = [k for k in flat if k not in want]
    if missing or extra:
        raise ExportError(
            f"{path}: the {what} do not match the exported ones: missing {missing[:3]}, "
            f"unexpected {extra[:3]}. Pass the {what} the model was exported with."
        )
    for key, spec in want.items():
        value = flat[key]
        shape, dtype = list(np.shape(value)), str(np.dtype(getattr(value, "dtype", None)))
        if shape != spec["shape"] or dtype != spec["dtype"]:
            raise ExportError(
                f"{path}: {what} {key!r} is {dtype}{shape}, but the model was exported "
                f"with {spec['dtype']}{spec['shape']}."
            )
    return dict(given)


class ExportedModel:
    """A model loaded by :func:`load_exported`: call it like ``apply``.

    With embedded params ``model(*args)``; otherwise ``model(params, *args)``
    (``model(params, state, *args)`` for a ``transform_with_state`` export).
    It returns what ``apply`` returned.

    Attributes:
      header: the file's JSON header (a dict).
      exported: the ``jax.export.Exported`` inside.
      inputs: the shapes of the arguments after the params (``batch`` is the
        symbolic batch dimension), e.g. ``['float32[batch,64]']``.
      outputs: the shapes of the outputs.

    Examples:
      >>> import tempfile
      >>> from minihaiku.core import export, load_exported, get_param, transform
      >>> model = transform(lambda x: x * get_param("w", (), init=jax.nn.initializers.ones))
      >>> params = model.init(0, 1.0)
      >>> path = export(model, params, jnp.ones(2), path=f"{tempfile.mkdtemp()}/m.mhx",
      ...               embed_params=False)
      >>> served = load_exported(path)
      >>> served({"~/w": jnp.array(3.0)}, jnp.ones(2))
      Array([3., 3.], dtype=float32)
      >>> served.header["params"]
      {'~/w': {'dtype': 'float32', 'shape': []}}
    """

    def __init__(self, path: Path, header: dict[str, Any], exported: Any) -> None:
        self.path = path
        self.header = header
        self.exported = exported
        self.inputs: list[str] = header.get("inputs", [])
        self.outputs: list[str] = header.get("outputs", [])

    def __call__(self, *args: Any) -> Any:
        h = self.header
        if not h["embedded"]:
            n = 2 if h["kind"] == "transform_with_state" else 1
            if len(args) < n:
                raise ExportError(
                    f"{self.path}: the model was exported with embed_params=False: call "
                    f"it with the params{' and the state' if n == 2 else ''} first."
                )
            fixed = [_check_tree(args[0], h["params"], "params", self.path)]
            if n == 2:
                fixed.append(_check_tree(args[1], h["state"], "state", self.path))
            args = (*fixed, *args[n:])
        return self.exported.call(*args)

    def __repr__(self) -> str:
        h = self.header
        how = "embedded params" if h["embedded"] else "params as arguments"
        return f"ExportedModel({str(self.path)!r}, {how}, inputs={self.inputs})"


def load_exported(path: str | Path) -> ExportedModel:
    """Loads a file written by :func:`export`: a callable that runs the model.

    Nothing of the model's Python code is needed, only JAX.

    Raises:
      ExportError: the file is missing, not an export file, truncated or
        damaged (its checksum), or written in a newer format version.

    Examples:
      >>> import tempfile
      >>> from minihaiku.core import export, load_exported, transform
      >>> path = export(transform(lambda x: 2 * x), {}, jnp.ones(3),
      ...               path=f"{tempfile.mkdtemp()}/double.mhx")
      >>> load_exported(path)(jnp.arange(3.0))
      Array([0., 2., 4.], dtype=float32)
    """
    path = Path(path).absolute()
    header, payload = read_artifact(path)
    jax_export = _jax_export("load_exported")
    try:
        exported = jax_export.deserialize(payload)
    except Exception as e:  # any failure of the StableHLO: a damaged file
        raise ExportError(
            f"{path}: the StableHLO inside cannot be deserialized ({type(e).__name__}: "
            f"{e!s:.80}); it was written with JAX {header.get('jax_version')}, this is "
            f"JAX {jax.__version__}."
        ) from None
    return ExportedModel(path, header, exported)
