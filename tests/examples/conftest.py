"""Fixtures of the example tests."""

import re

import pytest


def _help_options(main, capsys, monkeypatch):
    """``{option: help text}`` for every option that ``main(["--help"])`` lists, but -h."""
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    section = text.split("options:\n", 1)[1]
    entries: dict[str, str] = {}
    option = None
    for line in section.splitlines():
        start = re.match(r"^  (-\S+(?:, -\S+)*(?: \S+)?)(?:\s{2,}(.*))?$", line)
        if start:
            option = start.group(1).split()[0].rstrip(",")
            entries[option] = start.group(2) or ""
        elif option is not None and line.startswith(" " * 4):
            entries[option] += " " + line.strip()
    entries.pop("-h", None)
    return {k: v.strip() for k, v in entries.items()}


@pytest.fixture
def help_options(capsys, monkeypatch):
    """Runs an example's ``main(["--help"])``: its options and their help texts."""
    return lambda main: _help_options(main, capsys, monkeypatch)
