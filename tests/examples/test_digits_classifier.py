"""examples/digits_classifier.py runs as one command and learns the digits."""

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

EXAMPLE = Path(__file__).parents[2] / "examples" / "digits_classifier.py"


def load_example():
    spec = importlib.util.spec_from_file_location("digits_classifier", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("model", "steps", "threshold"),
    [
        # 300 steps of batch 128 (about 27 epochs): well above chance (0.1);
        # seed 0 reaches 0.96.
        ("mlp", 300, 0.85),
        # 200 steps (about 18 epochs) of the CNN; seed 0 reaches 0.96 (about 4 s).
        ("cnn", 200, 0.9),
    ],
)
def test_a_short_run_learns_the_digits_and_writes_the_curves(tmp_path, model, steps, threshold):
    example = load_example()
    summary = example.main(
        ["--model", model, "--steps", str(steps), "--out", str(tmp_path), "--no-progress"]
    )
    assert summary["model"] == model
    assert summary["test_accuracy"] > threshold
    png = (tmp_path / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    lines = [json.loads(x) for x in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines if "eval" not in x] == list(range(steps))
    assert [x["step"] for x in lines if "eval" in x] == list(range(50, steps + 1, 50))


def test_the_cnn_convolves_the_8x8_images_down_to_4x4_before_the_linear_layer():
    example = load_example()
    model = example.build("cnn")
    params = model.init(0, np.zeros((2, 64), np.float32))
    assert {k: v.shape for k, v in params.items()} == {
        "~/Conv2D_0/__call__/w": (3, 3, 1, 16),
        "~/Conv2D_0/__call__/b": (16,),
        "~/Conv2D_1/__call__/w": (3, 3, 16, 32),
        "~/Conv2D_1/__call__/b": (32,),
        "~/Linear_0/__call__/w": (4 * 4 * 32, 10),
        "~/Linear_0/__call__/b": (10,),
    }
    assert model.apply(params, np.zeros((5, 64), np.float32)).shape == (5, 10)


def test_an_unknown_model_is_refused_by_the_command_line(capsys):
    example = load_example()
    with pytest.raises(SystemExit):
        example.main(["--model", "resnet"])
    err = capsys.readouterr().err
    # argparse quotes the choices differently across Python versions.
    assert re.search(r"--model: invalid choice: 'resnet' \(choose from '?cnn'?, '?mlp'?\)", err)


def test_the_split_is_reproducible_and_disjoint():
    example = load_example()
    (a_x, a_y), (b_x, b_y) = example.load(0)
    (c_x, _), _ = example.load(0)
    assert a_x.shape == (1437, 64) and b_x.shape == (360, 64)
    assert (a_x == c_x).all()
    assert a_y.dtype.name == "int32"


def test_every_option_in_help_has_a_text_and_shows_its_default(help_options):
    options = help_options(load_example().main)
    assert len(options) == 8 and "--model" in options and "--no-progress" in options
    for option, text in options.items():
        assert re.search(r"\(default: .+\)$", text), (option, text)
        assert re.sub(r"\(default: .+\)$", "", text).strip(), (option, text)
    assert options["--out"].endswith("(default: digits-run)")
