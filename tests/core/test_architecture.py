"""The architecture review points of minihaiku.core stay fixed.

Every check walks core's subpackages too (``rglob``): a module moved into a
private subpackage is named with dots (``minihaiku.core._plugins.registry``).

* no import cycles among core's private modules (TYPE_CHECKING imports included);
* no core source file over 400 lines;
* core imports no other minihaiku package, anywhere in its source (doctests included);
* every public name exists, and every public class and function has an ``Examples:`` section.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import minihaiku.core as mh

CORE_DIR = Path(mh.__file__).resolve().parent
SOURCES = sorted(CORE_DIR.rglob("*.py"))


def _is_private(path: Path) -> bool:
    """A module of core's private part: a ``_x.py`` file or anything under a ``_x/`` package."""
    rel = path.relative_to(CORE_DIR).parts
    if rel == ("__init__.py",):
        return False
    return rel[0].startswith("_") and rel[0] != "__main__.py"


PRIVATE = sorted(p for p in SOURCES if _is_private(p))
MAX_LINES = 400
OTHER_PACKAGES = ("minihaiku.layers", "minihaiku.initializers", "minihaiku.training")


def _module_name(path: Path) -> str:
    """``minihaiku.core._x`` for ``_x.py``; dotted in subpackages (a package: its ``__init__``)."""
    try:
        rel = path.resolve().relative_to(CORE_DIR)
    except ValueError:  # a probe file outside core
        return "minihaiku.core." + path.stem
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["minihaiku", "core", *parts])


KNOWN = {_module_name(p) for p in PRIVATE}


def _resolve(name: str) -> str | None:
    """The core private module that the dotted ``name`` (a module or a name in one) lies in."""
    parts = name.split(".")
    if parts[:2] != ["minihaiku", "core"] or len(parts) < 3 or not parts[2].startswith("_"):
        return None
    for end in range(len(parts), 2, -1):
        candidate = ".".join(parts[:end])
        if candidate in KNOWN:
            return candidate
    return ".".join(parts[:3])


def _is_type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(tree: ast.AST, runtime_only: bool):
    """``ast.walk``, skipping ``if TYPE_CHECKING:`` bodies when ``runtime_only``."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if runtime_only and _is_type_checking_block(child):
                todo.extend(child.orelse)
                continue
            todo.append(child)


def _core_imports(path: Path, runtime_only: bool = False) -> set[str]:
    """Every ``minihaiku.core._x`` module that ``path`` imports, at any depth of its AST.

    Imports under ``if TYPE_CHECKING:`` count unless ``runtime_only``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in _walk(tree, runtime_only):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                package = _module_name(path).split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package) + ("." + node.module if node.module else "")
            else:
                base = node.module or ""
            names = [base] + [base + "." + alias.name for alias in node.names]
        else:
            continue
        for name in names:
            module = _resolve(name)
            if module is not None:
                found.add(module)
    found.discard(_module_name(path))
    return found


def _import_graph(runtime_only: bool = False) -> dict[str, set[str]]:
    return {_module_name(p): _core_imports(p, runtime_only) for p in PRIVATE}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle in ``graph`` as a list of nodes (first == last), or None."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(graph, white)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        color[node] = grey
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if color.get(nxt, black) == grey:
                return [*stack[stack.index(nxt) :], nxt]
            if color.get(nxt) == white:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        color[node] = black
        return None

    for node in sorted(graph):
        if color[node] == white:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


# --- the helpers themselves -------------------------------------------------------------


def test_cycle_finder_finds_a_cycle_and_accepts_a_dag():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_import_collector_sees_type_checking_and_function_level_imports(tmp_path):
    src = tmp_path / "_probe.py"
    src.write_text(
        "from typing import TYPE_CHECKING\n"
        "from minihaiku.core._frame import Frame\n"
        "if TYPE_CHECKING:\n"
        "    from minihaiku.core._scope import Scope\n"
        "def f():\n"
        "    from minihaiku.core import _keys\n"
        "    import minihaiku.core._rng\n"
        "    from . import _tree\n"
    )
    assert _core_imports(src) == {
        "minihaiku.core._frame",
        "minihaiku.core._scope",
        "minihaiku.core._keys",
        "minihaiku.core._rng",
        "minihaiku.core._tree",
    }
    assert "minihaiku.core._scope" not in _core_imports(src, runtime_only=True)
    assert "minihaiku.core._frame" in _core_imports(src, runtime_only=True)


# --- import cycles -------------------------------------------------------------------------


def test_core_walk_is_recursive():
    """A module in a private subpackage is seen by every rule (not silently dropped)."""
    nested = [p for p in PRIVATE if len(p.relative_to(CORE_DIR).parts) > 1]
    assert all(_module_name(p) in KNOWN for p in nested)
    assert {p.parent for p in nested} <= {p.parent for p in SOURCES}


def test_core_has_the_private_modules_of_the_second_pass():
    names = {p.stem for p in PRIVATE if p.parent == CORE_DIR}
    assert {
        "_scope",
        "_frame",
        "_module",
        "_params",
        "_state",
        "_rng",
        "_transform",
        "_multi_transform",
    } <= names


def test_no_import_cycles_among_core_private_modules_at_runtime():
    graph = _import_graph(runtime_only=True)
    assert "minihaiku.core._frame" in graph["minihaiku.core._module"]
    assert "minihaiku.core._lifting.lift" in graph["minihaiku.core._lifting.transforms"]
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_import_cycles_among_core_private_modules():
    graph = _import_graph()
    # the graph is not trivially empty: the layering is real
    assert "minihaiku.core._frame" in graph["minihaiku.core._module"]
    assert "minihaiku.core._lifting.lift" in graph["minihaiku.core._lifting.transforms"]
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_core_has_its_subpackages():
    for package, modules in {
        "_lifting": {"lift", "transforms", "control_flow", "layer_stack"},
        "_precision": {"policy", "scope", "table"},
        "_sharding": {"axes", "rules", "init", "shapes"},
        "_plugins": {"contract", "checks", "loading", "registry", "report", "default", "cli"},
        "_surgery": {"lora", "lora_params", "quantize", "export", "export_file", "layout"},
    }.items():
        assert (CORE_DIR / package / "__init__.py").is_file(), package
        found = {p.stem for p in (CORE_DIR / package).glob("*.py")}
        assert modules <= found, f"{package} lacks {modules - found}"


def test_core_private_modules_import_only_existing_core_modules():
    known = {_module_name(p) for p in PRIVATE}
    for module, imports in _import_graph().items():
        assert imports <= known, f"{module} imports unknown core modules {imports - known}"


# --- file size -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", [pytest.param(p, id=str(p.relative_to(CORE_DIR))) for p in SOURCES]
)
def test_core_file_is_at_most_400_lines(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.name} has {n} lines; split it (limit {MAX_LINES})"


# --- no other minihaiku package ---------------------------------------------------------


def _imported_modules(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.append(node.module)
            if node.module == "minihaiku":
                names += ["minihaiku." + alias.name for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (
                    isinstance(node.func, ast.Name)
                    and node.func.id in ("__import__", "import_module")
                )
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
        ):
            names.append(node.args[0].value)
    return names


_DOCTEST_IMPORT = re.compile(r"^\s*(?:>>>|\.\.\.)\s+(?:from|import)\s+([\w.]+)", re.MULTILINE)


def _is_other_package(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in OTHER_PACKAGES)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_core_source_imports_no_other_minihaiku_package(path):
    text = path.read_text(encoding="utf-8")
    code = [m for m in _imported_modules(ast.parse(text)) if _is_other_package(m)]
    doctest = [m for m in _DOCTEST_IMPORT.findall(text) if _is_other_package(m)]
    assert code == [], f"{path.name} imports {code}"
    assert doctest == [], f"{path.name} doctests import {doctest}"


def test_other_package_detector_catches_every_form():
    tree = ast.parse(
        "import minihaiku.layers\n"
        "from minihaiku.training import train\n"
        "from minihaiku import initializers\n"
        "def f():\n"
        "    importlib.import_module('minihaiku.layers._linear')\n"
    )
    found = [m for m in _imported_modules(tree) if _is_other_package(m)]
    assert found == [
        "minihaiku.layers",
        "minihaiku.training",
        "minihaiku.initializers",
        "minihaiku.layers._linear",
    ]
    assert _DOCTEST_IMPORT.findall("  >>> from minihaiku.layers import Linear\n") == [
        "minihaiku.layers"
    ]
    assert not _is_other_package("minihaiku.core")


# --- public names and their docstrings ---------------------------------------------------

#: Public names that are neither classes nor functions: strings, type aliases, pluggy markers.
CONSTANTS = {
    "AUTOLOAD_ENV",
    "DO_NOT_STORE",
    "DEFAULT_INITIALIZER",
    "ENTRY_POINT_GROUP",
    "STRICT_ENV",
    "__version__",
    "HAIKU",
    "SEED",
    "InitLike",
    "InitializerFactory",
    "ParamInterceptor",
    "Params",
    "PathFilter",
    "State",
    "hookimpl",
    "hookspec",
}


def _is_documentable(obj: object) -> bool:
    return inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismethod(obj)


def test_every_public_name_exists_and_all_has_no_duplicates():
    missing = [n for n in mh.__all__ if not hasattr(mh, n)]
    assert missing == []
    assert len(mh.__all__) == len(set(mh.__all__))


def test_the_only_public_names_without_examples_are_constants():
    others = {n for n in mh.__all__ if not _is_documentable(getattr(mh, n))}
    assert others == CONSTANTS


@pytest.mark.parametrize("name", [n for n in mh.__all__ if n not in CONSTANTS])
def test_public_class_or_function_has_a_docstring_with_examples(name):
    doc = inspect.getdoc(getattr(mh, name))
    assert doc, f"{name} has no docstring"
    assert re.search(r"^Examples:\n\s+>>> ", doc, re.MULTILINE), f"{name}: no Examples: section"


def test_the_kernel_knows_nothing_of_precision_or_sharding():
    """``get_param`` and the state functions reach them only through ``_hooks``."""
    graph = _import_graph()
    for kernel in ("minihaiku.core._params", "minihaiku.core._state", "minihaiku.core._module"):
        bad = {
            m
            for m in graph[kernel]
            if m.startswith(("minihaiku.core._precision", "minihaiku.core._sharding"))
        }
        assert not bad, f"{kernel} imports {bad}"
    assert "minihaiku.core._hooks" in graph["minihaiku.core._params"]
