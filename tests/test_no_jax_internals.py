"""No module of the five packages reaches into JAX's internals (issue 18, item 6).

Every ``.py`` under ``packages/*/src`` is parsed with ``ast``: an import of
``jax._src``, ``jax.core``, ``jax.interpreters`` or ``jax.extend`` (any form:
``import``, ``from ... import``, ``from jax import core``) or an attribute
access ``jax.core.X``/``jax._src.X``/... fails the test naming ``file:line``.
Docstrings and comments are text, not code, and are not read.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(ROOT.glob("packages/*/src/**/*.py"))
FORBIDDEN = ("_src", "core", "interpreters", "extend")


def _forbidden_module(name: str) -> bool:
    parts = name.split(".")
    return len(parts) >= 2 and parts[0] == "jax" and parts[1] in FORBIDDEN


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for an attribute chain on a plain name, else ``None``."""
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    names.append(node.id)
    return ".".join(reversed(names))


def violations(source: str, filename: str) -> list[str]:
    """``file:line: what`` for each use of a JAX internal in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            bad = [a.name for a in node.names if _forbidden_module(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            bad = [node.module] if _forbidden_module(node.module) else []
            if node.module == "jax":
                bad += [f"jax.{a.name}" for a in node.names if a.name in FORBIDDEN]
        elif isinstance(node, ast.Attribute) and not isinstance(node.value, ast.Attribute):
            # the innermost attribute of a chain: ``jax.core`` in ``jax.core.Tracer``
            dotted = _dotted(node)
            bad = [dotted] if dotted and _forbidden_module(dotted) else []
        else:
            bad = []
        found += [f"{filename}:{node.lineno}: {b}" for b in bad]
    return found


def test_the_sources_are_found():
    packages = {p.relative_to(ROOT).parts[1] for p in SOURCES}
    assert packages >= {"core", "initializers", "layers", "training", "haiku"}
    assert len(SOURCES) > 100


def test_no_package_uses_a_jax_internal():
    found = []
    for path in SOURCES:
        found += violations(path.read_text(), str(path.relative_to(ROOT)))
    assert found == [], "JAX internals used:\n" + "\n".join(found)


PLANTED = '''\
"""Mentions jax.core.Tracer in a docstring: fine."""
import jax
import jax.numpy as jnp  # fine
from jax import lax, core
import jax.extend.core as jex
from jax._src.core import trace_ctx
from jax.interpreters import batching


def f(x):
    # jax.core.Tracer in a comment: fine
    return isinstance(x, jax.core.Tracer) or jax._src.config.x or jnp.core_thing
'''


def test_a_planted_example_is_caught_with_file_and_line():
    assert violations(PLANTED, "planted.py") == [
        "planted.py:4: jax.core",
        "planted.py:5: jax.extend.core",
        "planted.py:6: jax._src.core",
        "planted.py:7: jax.interpreters",
        "planted.py:12: jax.core",
        "planted.py:12: jax._src",
    ]


@pytest.mark.parametrize("ok", ["import jax.numpy", "from jax import random", "jax.random.key(0)"])
def test_public_jax_is_fine(ok):
    assert violations(ok, "ok.py") == []
