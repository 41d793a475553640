"""The minihaiku-fit command."""

import json
import subprocess
import sys

import pytest

from minihaiku.training.fit._cli import main


def test_default_job_writes_plot_metrics_and_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["--steps", "300", "--out", str(out), "--no-progress"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 300 and metrics["steps_this_run"] == 300
    assert metrics["final_loss"] > 0 and metrics["steps_per_second"] > 0
    assert metrics["lr"] == 0.003 and metrics["seed"] == 0 and metrics["sizes"] == [128, 128, 1]
    assert (out / "fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "checkpoints" / "300").is_dir()
    printed = capsys.readouterr().out
    assert printed.startswith(f"final loss {metrics['final_loss']:.6f} after 300 steps (")


def test_resume_continues_to_the_new_step_count(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["--steps", "100", "--out", str(out), "--no-progress", "--no-plot"]) == 0
    assert (
        main(["--steps", "150", "--out", str(out), "--no-progress", "--no-plot", "--resume"]) == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 150 and metrics["resumed_from"] == 100
    assert metrics["steps_this_run"] == 50
    assert not (out / "fit.png").exists()


def test_a_second_run_without_resume_says_what_to_do(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--steps", "20", "--out", str(out), "--no-progress", "--no-plot"]
    assert main(args) == 0
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err == (
        f"minihaiku-fit: error: {(out / 'checkpoints').absolute()} already holds a "
        "checkpoint (step 20). Continue it with --resume, start afresh with --overwrite, "
        "or choose another --out.\n"
    )
    assert main([*args, "--overwrite"]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--steps", "0"], "argument --steps: expected a positive integer, got 0"),
        (["--steps", "many"], "argument --steps: expected a positive integer, got 'many'"),
        (["--lr", "-1"], "argument --lr: the learning rate must be > 0 and finite, got -1"),
        (["--lr", "nan"], "argument --lr: the learning rate must be > 0 and finite, got nan"),
        (["--seed", "x"], "argument --seed: expected an integer, got 'x'"),
        (
            ["--sizes", "128,0,1"],
            "argument --sizes: --sizes takes comma-separated positive "
            "integers such as 128,128,1 (expected a positive integer, got 0)",
        ),
        (["--sizes", "128,2"], "--sizes must end with 1 (one output per x), got (128, 2)"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_options_get_a_clear_error(args, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main([*args, "--out", str(tmp_path / "o")])
    assert e.value.code == 2
    assert capsys.readouterr().err.rstrip().endswith(f"minihaiku-fit: error: {message}")


def test_out_that_is_a_file(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(SystemExit):
        main(["--out", str(f)])
    assert f"--out {f} exists and is not a directory" in capsys.readouterr().err


def test_the_console_script_is_installed(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "minihaiku.training.fit._cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert r.stdout.startswith("usage: minihaiku-fit")


def _metrics(out):
    return json.loads((out / "metrics.json").read_text())


def test_the_last_of_overwrite_and_resume_wins(tmp_path, capsys):
    # `hatch run fit --steps 30 --resume` runs `minihaiku-fit --out ... --overwrite
    # --steps 30 --resume`: it resumes.
    out = tmp_path / "run"
    args = ["--out", str(out), "--no-progress", "--no-plot", "--no-export"]
    assert main([*args, "--steps", "20"]) == 0
    assert main([*args, "--overwrite", "--steps", "30", "--resume"]) == 0
    assert _metrics(out)["resumed_from"] == 20 and _metrics(out)["steps"] == 30
    assert main([*args, "--resume", "--steps", "10", "--overwrite"]) == 0
    assert _metrics(out)["resumed_from"] is None and _metrics(out)["steps"] == 10


def test_help_says_the_last_of_resume_and_overwrite_wins(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "the last one given wins" in " ".join(capsys.readouterr().out.split())


def test_without_matplotlib_it_refuses_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    out = tmp_path / "run"
    assert main(["--steps", "10", "--out", str(out), "--no-progress"]) == 1
    assert capsys.readouterr().err == (
        "minihaiku-fit: error: fit.png needs matplotlib, which is not installed: "
        'pip install "minihaiku-training[plot]", or pass --no-plot.\n'
    )
    assert not (out / "checkpoints").exists()
    assert main(["--steps", "10", "--out", str(out), "--no-progress", "--no-plot"]) == 0


def test_the_plot_draws_the_prediction_as_a_line_over_the_data_dots(tmp_path, monkeypatch):
    import matplotlib.axes
    import numpy as np

    from minihaiku.training.fit import plot_fit

    drawn = []
    for kind in ("plot", "scatter"):
        real = getattr(matplotlib.axes.Axes, kind)

        def spy(self, *a, _kind=kind, _real=real, **kw):
            drawn.append((_kind, kw.get("label")))
            return _real(self, *a, **kw)

        monkeypatch.setattr(matplotlib.axes.Axes, kind, spy)
    xs = np.linspace(2, -2, 9).reshape(-1, 1)
    plot_fit(xs, xs**2, xs**2 + 0.1, tmp_path / "fit.png")
    assert drawn == [("scatter", "Data"), ("plot", "Model prediction")]
