"""The examples of the docs page on int8 weights and export run as doctests."""

import doctest
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

DOCS = Path(__file__).parents[2] / "docs"
# the page, or the merged surgery page that holds its sections
PAGES = [p for p in (DOCS / "surgery_quantize_export.md", DOCS / "surgery.md")
         if p.exists() and "## int8 weights" in p.read_text()]  # fmt: skip


def test_the_page_exists():
    assert PAGES


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_examples_of_the_page_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = doctest.testfile(
        str(page),
        module_relative=False,
        globs={"jax": jax, "jnp": jnp, "np": np},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
    )
    assert result.attempted > 10
    assert result.failed == 0
