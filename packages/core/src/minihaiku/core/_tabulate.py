"""``tabulate``: :func:`~minihaiku.core.eval_summary` as a text table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax

from minihaiku.core._errors import InvalidArgumentError
from minihaiku.core._summary import MethodInvocation, _init_of, spec, summarise
from minihaiku.core._tree import tree_bytes, tree_size
from minihaiku.core.checks import check_one_of

__all__ = ["COLUMNS", "FILTERS", "tabulate"]

#: The columns :func:`tabulate` knows (dm-haiku's, plus ``method``).
COLUMNS = (
    "module",
    "method",
    "config",
    "owned_params",
    "input",
    "output",
    "params_size",
    "params_bytes",
)
#: The row filters :func:`tabulate` knows.
FILTERS = ("has_output", "has_params")

_HEADERS = {
    "module": "Module",
    "method": "Method",
    "config": "Config",
    "owned_params": "Module params",
    "input": "Input",
    "output": "Output",
    "params_size": "Param count",
    "params_bytes": "Param bytes",
}


def _owned(call: MethodInvocation, paths: list[str]) -> dict[str, Any]:
    """The module's own parameters: not those of a module nested under it."""
    d = call.module_details
    me = d.module.module_path
    inner = [p for p in paths if p != me and p.startswith(me + "/")]
    return {k: v for k, v in d.params.items() if not any(k.startswith(p + "/") for p in inner)}


def _bytes(n: int) -> str:
    """``n`` bytes as ``"92 B"``, ``"1.50 KB"``, ``"3.00 MB"``, ``"2.00 GB"``."""
    if n < 1000:
        return f"{n} B"
    size = float(n)
    for unit in ("KB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            break
    return f"{size:.2f} {unit}"


def _cell(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 1:
        value = value[0]
    return str(value)


def _row(call: MethodInvocation, column: str, paths: list[str]) -> str:
    d = call.module_details
    if column == "module":
        outer = [f" └ {m.module.module_path}" for m in call.call_stack[1:]]
        return "\n".join([d.module.module_path, *outer])
    if column == "method":
        return d.method_name
    if column == "config":
        return repr(d.module)
    if column == "owned_params":
        owned = _owned(call, paths)
        return "\n".join(f"{k.rpartition('/')[2]}: {spec(v)}" for k, v in owned.items())
    if column == "input":
        args = [_cell(a) for a in call.args_spec]
        args += [f"{k}={_cell(v)}" for k, v in call.kwargs_spec.items()]
        return "\n".join(args)
    if column == "output":
        leaves = jax.tree_util.tree_leaves(call.output_spec)
        return "\n".join(str(x) for x in leaves)
    if column == "params_size":
        return str(tree_size(d.params)) if d.params else ""
    return _bytes(tree_bytes(d.params)) if d.params else ""


def _grid(headers: list[str], rows: list[list[str]]) -> str:
    cells = [[c.split("\n") for c in row] for row in [headers, *rows]]
    widths = [max(len(line) for row in cells for line in row[i]) for i in range(len(headers))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [rule]
    for n, row in enumerate(cells):
        for i in range(max(len(c) for c in row)):
            parts = [
                (c[i] if i < len(c) else "").ljust(w) for c, w in zip(row, widths, strict=True)
            ]
            out.append("| " + " | ".join(parts) + " |")
        out.append(rule.replace("-", "=") if n == 0 else rule)
    return "\n".join(out)


def _check_names(values: Any, known: Sequence[str], name: str) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        raise InvalidArgumentError(
            f"tabulate: {name} must be a sequence of names, got the string {values!r}; "
            f"write {name}=({values!r},)."
        )
    return [check_one_of(v, f"each of {name}", "tabulate", options=known) for v in values]


def tabulate(
    f: Any,
    *,
    columns: Sequence[str] | None = (
        "module",
        "method",
        "config",
        "owned_params",
        "input",
        "output",
        "params_size",
        "params_bytes",
    ),
    filters: Sequence[str] | None = ("has_output",),
) -> Callable[..., str]:
    """A text table of ``f``'s module method calls (dm-haiku's ``tabulate``).

    ``tabulate(f)(*args)`` runs :func:`~minihaiku.core.eval_summary` and
    writes one row per call: the module's path (with the calls it runs in
    below it, ``└``), its method, its repr, the parameters it owns with
    their shapes, the input and output shapes, and the number and bytes of
    all its parameters (submodules' included). ``columns`` picks and orders
    the columns (:data:`COLUMNS`); ``filters`` drops calls without an output
    (``"has_output"``) or without parameters (``"has_params"``). The layout
    is a plain grid, not dm-haiku's character for character.

    Examples:
      >>> from minihaiku.core import Module, get_param, tabulate
      >>> class Linear(Module):
      ...   def __call__(self, x):
      ...     return x @ get_param("w", (x.shape[-1], 3))
      >>> columns = ("module", "method", "owned_params", "input", "output", "params_size")
      >>> print(tabulate(lambda x: Linear()(x), columns=columns)(jnp.ones((1, 4))))
      +------------+----------+---------------+----------+----------+-------------+
      | Module     | Method   | Module params | Input    | Output   | Param count |
      +============+==========+===============+==========+==========+=============+
      | ~/Linear_0 | __call__ | w: f32[4,3]   | f32[1,4] | f32[1,3] | 12          |
      +------------+----------+---------------+----------+----------+-------------+
    """
    cols = _check_names(columns, COLUMNS, "columns") or list(COLUMNS)
    flts = _check_names(filters, FILTERS, "filters")
    _init_of(f, "tabulate")

    def table(*args: Any, **kwargs: Any) -> str:
        calls = summarise(f, "tabulate", args, kwargs)
        if "has_output" in flts:
            calls = [c for c in calls if jax.tree_util.tree_leaves(c.output_spec)]
        if "has_params" in flts:
            calls = [c for c in calls if c.module_details.params]
        paths = [c.module_details.module.module_path for c in calls]
        rows = [[_row(c, col, paths) for col in cols] for c in calls]
        return _grid([_HEADERS[c] for c in cols], rows)

    return table
