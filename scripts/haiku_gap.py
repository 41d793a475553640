"""Write docs/haiku_gap.md: dm-haiku 0.0.17's public names against minihaiku's packages.

  python scripts/haiku_gap.py   (from the repository root, with dm-haiku installed)

Rerun it after adding a name to minihaiku.layers, .core or .initializers.
"""

from __future__ import annotations

import importlib
from types import ModuleType

OURS = (
    "minihaiku.layers",
    "minihaiku.layers.nets",
    "minihaiku.layers.pad",
    "minihaiku.core",
    "minihaiku.initializers",
)
SECTIONS = (
    "haiku",
    "haiku.nets",
    "haiku.pad",
    "haiku.initializers",
    "haiku.mixed_precision",
    "haiku.data_structures",
    "haiku.experimental",
)
#: Where minihaiku has a name under another name (or the nearest thing).
ALIASES = {
    ("haiku", "get_parameter"): "`minihaiku.core.get_param` (other name)",
    ("haiku", "without_apply_rng"): "missing (`transform`'s apply takes no rng by default)",
    ("haiku", "Params"): "`minihaiku.core.Params` (flat path dict, not nested)",
    ("haiku", "State"): "`minihaiku.core.State` (flat path dict, not nested)",
    ("haiku", "data_structures"): "missing as a module (see the haiku.data_structures rows)",
    ("haiku", "initializers"): "`minihaiku.initializers` (functions, not classes)",
    ("haiku", "mixed_precision"): "missing as a module (policies in `minihaiku.core`)",
    ("haiku", "nets"): "`minihaiku.layers.nets`",
    ("haiku", "pad"): "`minihaiku.layers.pad`",
    ("haiku.initializers", "Initializer"): "`minihaiku.core.Initializer` (a protocol)",
    ("haiku.initializers", "Constant"): "`minihaiku.initializers.constant` (a function)",
    ("haiku.initializers", "RandomNormal"): "`minihaiku.initializers.normal` (a function)",
    ("haiku.initializers", "RandomUniform"): "`minihaiku.initializers.uniform` (a function)",
    ("haiku.initializers", "TruncatedNormal"): "`minihaiku.initializers.truncated_normal`",
    ("haiku.initializers", "VarianceScaling"): "`minihaiku.initializers.variance_scaling`",
    ("haiku.initializers", "Orthogonal"): "`minihaiku.initializers.orthogonal` (a function)",
    ("haiku.mixed_precision", "push_policy"): "missing (`minihaiku.core.policy_scope` is near)",
    ("haiku.mixed_precision", "current_policy"): "missing (`minihaiku.core.get_policy` is near)",
    ("haiku", "config"): "missing (`minihaiku.core.check_jax_usage` is one of its flags)",
    ("haiku", "testing"): "missing (a module of minihaiku.haiku only)",
    ("haiku.data_structures", "merge"): "`minihaiku.core.merge_params` (flat dicts)",
    ("haiku.data_structures", "filter"): "`minihaiku.core.filter_params` (flat dicts)",
    ("haiku.data_structures", "partition"): "`minihaiku.core.partition_params` (flat dicts)",
    ("haiku.experimental", "eval_summary"): "missing (`minihaiku.core.summary` is near)",
    ("haiku.experimental", "tabulate"): "missing (`minihaiku.core.summary` is near)",
}
LAYER_MODULES = (
    ".conv", ".pool", ".basic", ".recurrent", ".layer_norm", ".embed", ".attention",
    ".reshape", ".batch_norm", ".group_norm", ".rms_norm", ".spectral_norm",
    ".moving_averages", ".depthwise_conv", ".bias", ".deferred", ".utils",
)  # fmt: skip
HEADER = """\
# dm-haiku 0.0.17's public API against minihaiku

Every public name of dm-haiku 0.0.17 (`haiku.__all__` and the `__all__` of its
`nets`, `pad`, `initializers`, `mixed_precision`, `data_structures` and
`experimental` modules), where minihaiku has it (same name unless the row says
otherwise) or `missing`, and which package owns it (issue 18). The column
`minihaiku.haiku` says whether packages/haiku has the name under dm-haiku's
name (`yes`), leaves it out on purpose (`left out`: it raises an error saying
what to use, docs/haiku.md) or lacks it (`missing`). Owners: `layers` (minihaiku.layers), `core`
(minihaiku.core) and `initializers` (minihaiku.initializers). The layer rows'
arguments are checked against dm-haiku's in tests/layers/test_signatures.py and
their coverage in tests/layers/test_haiku_coverage.py. Written by
scripts/haiku_gap.py.
"""


def public(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None) or [n for n in dir(module) if n[0] != "_"]
    return sorted(set(names), key=str.lower)


def where(ours: dict[str, ModuleType], section: str, name: str) -> str:
    prefer = {
        "haiku.nets": ("minihaiku.layers.nets",),
        "haiku.pad": ("minihaiku.layers.pad",),
        "haiku.initializers": ("minihaiku.initializers",),
    }.get(section, OURS)
    for module in prefer:
        if name in getattr(ours[module], "__all__", ()):
            return f"`{module}.{name}`"
    if section == "haiku.nets" and name == "MLP":
        return "`minihaiku.layers.MLP`"
    return ALIASES.get((section, name), "missing")


def owner(module: ModuleType, section: str, name: str) -> str:
    if section in ("haiku.nets", "haiku.pad"):
        return "layers"
    if section == "haiku.initializers":
        return "initializers"
    defined_in = getattr(getattr(module, name, None), "__module__", "") or ""
    is_layer = section == "haiku" and defined_in.endswith(LAYER_MODULES) and name != "to_module"
    return "layers" if is_layer or name in ("EMAParamsTree", "SNParamsTree") else "core"


def in_hk(section: str, name: str) -> str:
    """``yes``, ``left out`` or ``missing``: the name in minihaiku.haiku's module."""
    ours = importlib.import_module("minihaiku." + section)
    if name not in getattr(ours, "__all__", ()):
        return "missing"
    from minihaiku.haiku._left_out import LeftOutModule

    obj = getattr(ours, name)
    left_out = isinstance(obj, LeftOutModule) or getattr(obj, "__module__", "").endswith(
        "_left_out"
    )
    return "left out" if left_out else "yes"


def main() -> None:
    ours = {name: importlib.import_module(name) for name in OURS}
    lines = [HEADER]
    for section in SECTIONS:
        module = importlib.import_module(section)
        lines += [f"## `{section}`", ""]
        lines.append("| name | dm-haiku module | minihaiku | owner | minihaiku.haiku |")
        lines.append("|---|---|---|---|---|")
        for name in public(module):
            found = where(ours, section, name)
            row = f"| `{name}` | `{section}` | {found} | {owner(module, section, name)} |"
            lines.append(f"{row} {in_hk(section, name)} |")
        lines.append("")
    separable = where(ours, "haiku", "SeparableDepthwiseConv2D")
    lines += [
        "## Outside `__all__`",
        "",
        "| name | dm-haiku module | minihaiku | owner | minihaiku.haiku |",
        "|---|---|---|---|---|",
        f"| `SeparableDepthwiseConv2D` (not in `__all__`) | `haiku` | {separable} | layers "
        "| missing |",
        "",
    ]
    with open("docs/haiku_gap.md", "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
