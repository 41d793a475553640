"""Every docstring example in the five packages runs, so the docs never lie.

Each module's examples run as doctests in the module's namespace (as
``pytest --doctest-modules`` runs them), with ``jax``, ``jnp`` and ``np``
added. An example that cannot run here says why with ``# doctest: +SKIP``.
"""

import doctest
import importlib
import io
import pkgutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

PACKAGES = (
    "minihaiku.core",
    "minihaiku.initializers",
    "minihaiku.layers",
    "minihaiku.training",
    "minihaiku.haiku",
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_names() -> list[str]:
    names = []
    for package in PACKAGES:
        try:
            pkg = importlib.import_module(package)
        except ImportError:  # a package not installed in this environment
            continue
        names.append(package)
        for info in pkgutil.walk_packages(pkg.__path__, package + "."):
            if not info.name.endswith("__main__"):
                names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("module_name", _module_names())
def test_docstring_examples_run(module_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    out = io.StringIO()
    globs = {**vars(module), "jax": jax, "jnp": jnp, "np": np}
    for test in finder.find(module, module_name, globs=globs):
        runner.run(test, out=out.write)
    if runner.failures:
        pytest.fail(f"{runner.failures} docstring example(s) failed:\n{out.getvalue()}")


def test_the_doctests_cover_every_package():
    names = _module_names()
    for package in PACKAGES:
        assert package in names
    assert "minihaiku.core._module" in names
