"""examples/digits_classifier.py runs as one command and learns the digits."""

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

EXAMPLE = Path(__file__).parents[2] / "examples" / "digits_classifier.py"


def load_example():
    spec = importlib.util.spec_from_file_location("digits_classifier", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_short_run_learns_the_digits_and_writes_the_curves(tmp_path):
    example = load_example()
    summary = example.main(["--steps", "300", "--out", str(tmp_path), "--no-progress"])
    # 300 steps of batch 128 (about 27 epochs): well above chance (0.1).
    assert summary["test_accuracy"] > 0.85
    png = (tmp_path / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    lines = [json.loads(x) for x in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines if "eval" not in x] == list(range(300))
    assert [x["step"] for x in lines if "eval" in x] == list(range(50, 301, 50))


def test_the_split_is_reproducible_and_disjoint():
    example = load_example()
    (a_x, a_y), (b_x, b_y) = example.load(0)
    (c_x, _), _ = example.load(0)
    assert a_x.shape == (1437, 64) and b_x.shape == (360, 64)
    assert (a_x == c_x).all()
    assert a_y.dtype.name == "int32"
