"""examples/quantize_and_export.py runs as one command and reports its figures."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

# Trains two small models end to end: with the long runs (the newest-JAX cells only).
pytestmark = pytest.mark.slow

pytest.importorskip("sklearn")

EXAMPLE = Path(__file__).parents[2] / "examples" / "quantize_and_export.py"


@pytest.fixture
def example():
    spec = importlib.util.spec_from_file_location("quantize_and_export", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        for name in ("char_lm", "digits_classifier"):  # imported from examples/ by the example
            sys.modules.pop(name, None)


def test_a_tiny_run_reports_bytes_accuracy_loss_and_exports(example, tmp_path, capsys):
    summary = example.main(["--digits-steps", "0", "--lm-steps", "0", "--lm-tiny",
                            "--out", str(tmp_path)])  # fmt: skip
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert json.loads(capsys.readouterr().out) == summary
    d, lm = summary["digits"], summary["char_lm"]
    # the MLP [128, 10] on 64 pixels: 64*128 + 128*10 weights, 138 biases
    assert d["weights_bytes"] == 4 * (64 * 128 + 128 * 10)
    assert d["int8_weights_bytes"] == 64 * 128 + 128 * 10 + 4 * 138
    assert d["params_bytes"] - d["int8_params_bytes"] == 3 * (64 * 128 + 128 * 10) - 4 * 138
    assert d["weights_ratio"] > 3.5
    assert abs(d["int8_test_accuracy"] - d["test_accuracy"]) < 0.05
    assert d["int8_same_predictions"] > 0.9
    assert d["export_int8"]["file_bytes"] < 0.5 * d["export_float"]["file_bytes"]
    for key in ("export_float", "export_int8"):
        assert d[key]["max_abs_diff_vs_apply"] < 1e-5
        assert (tmp_path / f"digits_{key[7:]}.mhx").exists()
    assert abs(lm["int8_held_out_loss"] - lm["held_out_loss"]) < 0.05
    assert lm["int8_weights_bytes"] < lm["weights_bytes"] / 3
    assert lm["export_int8_next_token"]["max_abs_diff_vs_apply"] < 1e-4
