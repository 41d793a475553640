"""The seed's story as a notebook (examples/seed_story.ipynb) runs and prints the seed's names."""

import contextlib
import io
import json
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "seed_story.ipynb"


def test_every_cell_runs_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    namespace: dict = {}
    printed = []
    for i, cell in enumerate(c for c in cells if c["cell_type"] == "code"):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile("".join(cell["source"]), f"{NOTEBOOK.name}[code {i}]", "exec"), namespace)
        printed.append(out.getvalue())
    assert printed[1] == "{'~/b': (5,), '~/w': (3, 5)}\n(2, 5)\n"
    assert printed[2] == (
        "{'~/MLP_0/__call__/Linear_0/__call__/b': (3,), "
        "'~/MLP_0/__call__/Linear_0/__call__/w': (3, 3), "
        "'~/MLP_0/__call__/Linear_1/__call__/b': (5,), "
        "'~/MLP_0/__call__/Linear_1/__call__/w': (3, 5)}\n"
    )
    assert printed[3] == (
        "{'~/ParameterReuseTest_0/__call__/Linear_0/__call__/b': (3,), "
        "'~/ParameterReuseTest_0/__call__/Linear_0/__call__/w': (3, 3)}\n"
    )
    final = float(printed[4].splitlines()[-1].split()[-1])
    assert final < 0.01
    assert (tmp_path / "seed_story_fit.png").read_bytes()[:4] == b"\x89PNG"
    assert printed[6] == (
        "{'~/Linear_0/__call__/b': (8, 16), '~/Linear_0/__call__/w': (8, 16, 16)}\n"
    )
