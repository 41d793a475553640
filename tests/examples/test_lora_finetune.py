"""examples/lora_finetune.py: LoRA trains only adapters, merges exactly, and reports its figures."""

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

# Trains two small models end to end: with the long runs (the newest-JAX cells only).
pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).parents[2] / "examples" / "lora_finetune.py"
TINY = [
    "--seq-len", "16", "--d-model", "16", "--heads", "2", "--layers", "1", "--mlp-width", "32",
    "--batch-size", "8", "--pretrain-steps", "0", "--finetune-steps", "20", "--no-progress",
]  # fmt: skip


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("lora_finetune", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    had_char_lm = "char_lm" in sys.modules
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        if not had_char_lm:
            sys.modules.pop("char_lm", None)


def test_a_tiny_run_trains_only_adapters_and_reports_share_losses_and_state_bytes(example, capsys):
    summary = example.main(TINY)
    out = capsys.readouterr().out
    # d=16, one block, 61 characters: 4 attention Linears 16x16, an MLP 16x32 and 32x16,
    # logits 16x61; rank 4 adapters: 4 * (4 * 32 + 2 * 48 + 77) = 1204.
    assert summary["lora_trainable_params"] == 4 * (4 * 32 + 2 * 48 + 77)
    assert summary["lora_trainable_share"] == pytest.approx(1204 / summary["model_params"])
    assert summary["base_unchanged"] is True
    # The merged params give the LoRA model's loss (float rounding only).
    assert summary["held_out_loss_lora_merged"] == pytest.approx(
        summary["held_out_loss_lora"], abs=1e-4
    )
    # Both fine-tunings learn (here from the fresh model: --pretrain-steps 0).
    assert summary["held_out_loss_lora"] < summary["held_out_loss_pretrained"]
    assert summary["held_out_loss_full"] < summary["held_out_loss_pretrained"]
    # adam keeps two moments per trainable param (plus a step count).
    assert summary["opt_state_bytes_lora"] == 2 * 4 * 1204 + 4
    assert summary["opt_state_bytes_full"] == 2 * 4 * summary["model_params"] + 4
    assert re.search(r"trains 1204 \(\d+\.\d% of the model\)", out)
    assert json.loads(out.strip().splitlines()[-1]) == pytest.approx(summary)


def test_every_option_in_help_has_a_text_and_shows_its_default(example, help_options):
    options = help_options(example.main)
    assert len(options) == 14 and options["--rank"] == "the LoRA adapters' rank (default: 4)"
    for option, text in options.items():
        assert re.search(r"\(default: .+\)$", text), (option, text)
