"""dm-haiku's ``tabulate``: :func:`eval_summary` as dm-haiku's grid table, cell for cell.

Examples:
  >>> import minihaiku.haiku as hk
  >>> table = hk.experimental.tabulate(lambda x: hk.Bias()(x), columns=("module", "output"))
  >>> print(table(jnp.ones((1, 3))))
  +-------------+----------+
  | Module      | Output   |
  +=============+==========+
  | bias (Bias) | f32[1,3] |
  +-------------+----------+
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax

from minihaiku.core import InvalidArgumentError, Transformed, TransformedWithState
from minihaiku.core._tabulate import _check_names
from minihaiku.haiku import config
from minihaiku.haiku._summary import ArraySpec, MethodInvocation, _init_of, _Record, summarise

__all__ = ["auto_repr", "tabulate"]

_HEADERS = {
    "module": "Module",
    "config": "Config",
    "owned_params": "Module params",
    "input": "Input",
    "output": "Output",
    "params_size": "Param count",
    "params_bytes": "Param bytes",
}
_RIGHT = ("params_size", "params_bytes")
_FILTERS = ("has_output", "has_params")
#: dm-haiku's automatic repr puts one argument a line when one line would be longer.
_LINE = 80


def auto_repr(module: Any, bound: inspect.BoundArguments | None) -> str:
    """dm-haiku's automatic module repr: ``Class(arg=value, ...)``, defaults left out.

    Over 80 characters, one argument a line (indented four spaces), as dm-haiku.

    Examples:
      >>> class Lin:
      ...   def __init__(self, output_size, with_bias=True, name=None): ...
      >>> m = Lin(2)
      >>> auto_repr(m, inspect.signature(Lin.__init__).bind(m, 2, True, name="x"))
      "Lin(output_size=2, name='x')"
    """
    if bound is None:
        return repr(module)
    parts = []
    params = bound.signature.parameters
    for name, value in list(bound.arguments.items())[1:]:
        default = params[name].default
        if value is default:
            continue
        try:
            same = default is not inspect.Parameter.empty and bool(value == default)
        except Exception:
            same = False
        if not same:
            parts.append(f"{name}={value!r}")
    line = f"{type(module).__name__}({', '.join(parts)})"
    if len(line) <= _LINE:
        return line
    return f"{type(module).__name__}(\n" + "".join(f"    {p},\n" for p in parts) + ")"


def _bytes(n: float) -> str:
    """``n`` bytes as dm-haiku writes them: ``"92.00 B"``, ``"10.81 KB"``."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            break
        n /= 1000
    return f"{n:.2f} {unit}"


def _sizes(params: Mapping[str, ArraySpec]) -> tuple[int, int]:
    count = sum(s.size for s in params.values())
    nbytes = sum(s.size * jax.numpy.dtype(s.dtype).itemsize for s in params.values())
    return count, nbytes


def _label(details: Any) -> str:
    method = "" if details.method_name == "__call__" else "." + details.method_name
    return f"{details.module.module_name} ({type(details.module).__name__}{method})"


def _row(call: MethodInvocation, column: str, record: _Record) -> str:
    d = call.module_details
    if column == "module":
        return "\n".join([_label(d), *(f" └ {_label(m)}" for m in call.call_stack[1:])])
    if column == "config":
        found = record.inits.get(id(d.module))
        if config.get_config().module_auto_repr and found is not None:
            return auto_repr(d.module, found[1])
        return repr(d.module)
    if column == "owned_params":
        name = d.module.module_name
        own = sorted(k for k in d.params if k.rpartition("/")[0] == name)
        own.sort(key=lambda k: -d.params[k].size)  # dm-haiku's order: largest first
        return "\n".join(f"{k.rpartition('/')[2]}: {d.params[k]!r}" for k in own)
    if column == "input":
        lines = [", ".join(repr(a) for a in call.args_spec)] if call.args_spec else []
        lines += [f"{k}={v!r}" for k, v in call.kwargs_spec.items()]
        return "\n".join(lines)
    if column == "output":
        return repr(call.output_spec)
    count, nbytes = _sizes(d.params)
    return f"{count:,}" if column == "params_size" else _bytes(nbytes)


def _grid(columns: list[str], rows: list[list[str]]) -> str:
    cells = [[c.split("\n") for c in row] for row in [[_HEADERS[c] for c in columns], *rows]]
    # as the tabulate library's grid: a header gets two spaces more than its text
    widths = [
        max(len(_HEADERS[c]) + 2, *(len(line) for row in cells[1:] for line in row[i]))
        for i, c in enumerate(columns)
    ]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [rule]
    for n, row in enumerate(cells):
        for i in range(max(len(c) for c in row)):
            parts = []
            for col, c, w in zip(columns, row, widths, strict=True):
                text = c[i] if i < len(c) else ""
                parts.append(text.rjust(w) if col in _RIGHT else text.ljust(w))
            out.append("| " + " | ".join(parts) + " |")
        out.append(rule.replace("-", "=") if n == 0 else rule)
    return "\n".join(out)


def tabulate(
    f: Callable[..., Any] | Transformed | TransformedWithState,
    *,
    columns: Sequence[str] | None = (
        "module",
        "config",
        "owned_params",
        "input",
        "output",
        "params_size",
        "params_bytes",
    ),
    filters: Sequence[str] | None = ("has_output",),
    tabulate_kwargs: Mapping[str, Any] = {"tablefmt": "grid"},
) -> Callable[..., str]:
    """dm-haiku's ``hk.experimental.tabulate``: one grid row per module method call.

    Columns (``columns``, in this order by default): ``module`` (``name
    (Class)``, ``name (Class.method)`` for other methods, with the calls it
    runs in below, ``└``), ``config`` (the module's constructor arguments,
    dm-haiku's automatic repr; ``hk.config.context(module_auto_repr=False)``
    shows ``repr(module)``), ``owned_params``, ``input``, ``output``,
    ``params_size`` and ``params_bytes`` (of all its params, submodules'
    included). ``filters``: ``"has_output"`` (drop calls returning ``None``),
    ``"has_params"``. Only ``tablefmt="grid"`` is written (dm-haiku hands
    ``tabulate_kwargs`` to the ``tabulate`` library, which minihaiku does not use).

    Raises:
      InvalidArgumentError: an unknown column, filter or table format (a ``ValueError``).

    Examples:
      >>> import minihaiku.haiku as hk
      >>> columns = ("module", "config", "owned_params", "params_size", "params_bytes")
      >>> table = hk.experimental.tabulate(lambda x: hk.Linear(3)(x), columns=columns)
      >>> print(table(jnp.ones((1, 4))))
      +-----------------+-----------------------+-----------------+---------------+---------------+
      | Module          | Config                | Module params   |   Param count |   Param bytes |
      +=================+=======================+=================+===============+===============+
      | linear (Linear) | Linear(output_size=3) | w: f32[4,3]     |            15 |       60.00 B |
      |                 |                       | b: f32[3]       |               |               |
      +-----------------+-----------------------+-----------------+---------------+---------------+
    """
    cols = _check_names(columns, tuple(_HEADERS), "columns") or list(_HEADERS)
    flts = _check_names(filters, _FILTERS, "filters")
    extra = {k: v for k, v in dict(tabulate_kwargs).items() if (k, v) != ("tablefmt", "grid")}
    if extra:
        raise InvalidArgumentError(
            f"tabulate: tabulate_kwargs={dict(tabulate_kwargs)!r} is not supported: "
            "minihaiku writes dm-haiku's grid table itself. Pass "
            "tabulate_kwargs={'tablefmt': 'grid'}, or build your own table from "
            "hk.experimental.eval_summary(f)(*args)."
        )
    _init_of(f, "tabulate")

    def table(*args: Any, **kwargs: Any) -> str:
        calls, record = summarise(f, "tabulate", args, kwargs)
        if "has_output" in flts:
            calls = [c for c in calls if c.output_spec is not None]
        if "has_params" in flts:
            calls = [c for c in calls if c.module_details.params]
        return _grid(cols, [[_row(c, col, record) for col in cols] for c in calls])

    return table
