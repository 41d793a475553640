"""registry_report() and the listing command (minihaiku-plugins, python -m minihaiku.core plugins).

The test environment has three plugins: the built-ins (minihaiku-initializers),
acme-inits ('acme_seven') and minihaiku-test-broken (fails to import).
"""

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import minihaiku.initializers
from minihaiku.core import RegistryReport, registry_report

BUILTIN_VERSION = importlib.metadata.version("minihaiku-initializers")
BUILTIN_NAMES = sorted(
    [
        *("constant", "zeros", "ones", "normal", "truncated_normal", "uniform"),
        *("variance_scaling", "glorot_normal", "glorot_uniform", "xavier_normal"),
        *("xavier_uniform", "he_normal", "he_uniform", "kaiming_normal"),
        *("kaiming_uniform", "lecun_normal", "lecun_uniform", "orthogonal"),
    ]
)
SCRIPT = Path(sys.executable).parent / ("minihaiku-plugins" + (".exe" if os.name == "nt" else ""))


def run(args, **env):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MINIHAIKU_")},
        **env,
    }
    return subprocess.run(args, capture_output=True, text=True, env=env, check=False)


def test_registry_report_lists_initializers_plugins_in_load_order_and_failures():
    report = registry_report()
    assert isinstance(report, RegistryReport)
    assert (report.autoload, report.strict) == (True, False)
    # Only the installed plugins: doctests may register plugins by hand in this process.
    installed = [p for p in report.plugins if p.distribution is not None]
    assert [(p.name, p.value, p.distribution, p.builtin, p.loaded) for p in installed] == [
        ("builtin", "minihaiku.initializers._plugin", "minihaiku-initializers", True, True),
        ("acme", "acme_inits", "acme-inits", False, True),
        ("broken", "broken_inits", "minihaiku-test-broken", False, False),
    ]
    assert installed[0].version == minihaiku.initializers.__version__
    assert sorted(installed[0].initializers) == BUILTIN_NAMES
    assert installed[1].initializers == ("acme_seven",)
    (failed,) = report.failed
    assert failed.error == "RuntimeError: broken_inits is broken on purpose"
    assert failed.initializers == ()
    names = [i.name for i in report.initializers if i.distribution is not None]
    assert names == sorted([*BUILTIN_NAMES, "acme_seven"])
    (acme,) = [i.to_dict() for i in report.initializers if i.name == "acme_seven"]
    assert acme == {
        "name": "acme_seven",
        "plugin": "acme",
        "distribution": "acme-inits",
        "version": "1.0.0",
        "factory": "acme_inits.seven",
    }


def expected_json():
    builtin_inits = [
        {
            "name": n,
            "plugin": "builtin",
            "distribution": "minihaiku-initializers",
            "version": BUILTIN_VERSION,
        }
        for n in BUILTIN_NAMES
    ]
    acme = {
        "name": "acme_seven",
        "plugin": "acme",
        "distribution": "acme-inits",
        "version": "1.0.0",
    }
    return sorted([*builtin_inits, acme], key=lambda d: d["name"])


@pytest.mark.parametrize(
    "command",
    [[sys.executable, "-m", "minihaiku.core", "plugins", "--json"], [str(SCRIPT), "--json"]],
    ids=["python -m minihaiku.core plugins", "minihaiku-plugins"],
)
def test_the_command_prints_the_report_as_json(command):
    r = run(command)
    assert r.returncode == 1, r.stderr  # a plugin failed
    assert r.stderr == ""  # the failure is in the report, not a warning
    out = json.loads(r.stdout)
    assert (out["autoload"], out["strict"]) == (True, False)
    assert out["load_order"] == ["builtin", "acme", "broken"]
    assert out["failed"] == ["broken"]
    assert out["plugins"][2] == {
        "name": "broken",
        "value": "broken_inits",
        "distribution": "minihaiku-test-broken",
        "version": "1.0.0",
        "builtin": False,
        "loaded": False,
        "initializers": [],
        "error": "RuntimeError: broken_inits is broken on purpose",
    }
    got = [{k: v for k, v in i.items() if k != "factory"} for i in out["initializers"]]
    assert got == expected_json()


def test_the_command_prints_a_readable_listing():
    r = run([str(SCRIPT)])
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    v = BUILTIN_VERSION
    assert lines[:8] == [
        "autoload: on (set MINIHAIKU_DISABLE_PLUGIN_AUTOLOAD=1 to turn it off)",
        "strict mode: off (set MINIHAIKU_STRICT_PLUGINS=1 to raise on a broken plugin)",
        "",
        "plugins, in load order:",
        f"  1. builtin = minihaiku.initializers._plugin (minihaiku-initializers {v}, "
        "built-in): 18 initializers",
        "  2. acme = acme_inits (acme-inits 1.0.0): 1 initializer",
        "  3. broken = broken_inits (minihaiku-test-broken 1.0.0): FAILED: RuntimeError: "
        "broken_inits is broken on purpose",
        "",
    ]
    assert lines[8:11] == [
        "initializers (19):",
        "  name              plugin   distribution",
        "  acme_seven        acme     acme-inits 1.0.0",
    ]
    assert f"  normal            builtin  minihaiku-initializers {v}" in lines
    assert lines[-1] == (
        "1 plugin failed to load (broken): fix or uninstall it; until then its "
        "initializers are not available."
    )
    assert run([sys.executable, "-m", "minihaiku.core", "plugins"]).stdout == r.stdout


def test_the_command_with_autoload_off_lists_nothing_and_says_why():
    r = run([str(SCRIPT)], MINIHAIKU_DISABLE_PLUGIN_AUTOLOAD="1")
    assert r.returncode == 0
    assert r.stdout == (
        "autoload: off (MINIHAIKU_DISABLE_PLUGIN_AUTOLOAD is set)\n"
        "strict mode: off (set MINIHAIKU_STRICT_PLUGINS=1 to raise on a broken plugin)\n"
        "\n"
        "plugins, in load order: none\n"
        "\n"
        "initializers: none\n"
    )
    out = json.loads(run([str(SCRIPT), "--json"], MINIHAIKU_DISABLE_PLUGIN_AUTOLOAD="1").stdout)
    assert out == {
        "autoload": False,
        "strict": False,
        "load_order": [],
        "plugins": [],
        "initializers": [],
        "failed": [],
    }


def test_the_command_in_strict_mode_still_lists_every_plugin():
    r = run(
        [sys.executable, "-m", "minihaiku.core", "plugins", "--json"], MINIHAIKU_STRICT_PLUGINS="1"
    )
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["strict"] is True
    assert out["load_order"] == ["builtin", "acme", "broken"]


def test_the_module_command_needs_the_plugins_subcommand():
    r = run([sys.executable, "-m", "minihaiku.core"])
    assert r.returncode == 2
    assert r.stderr == (
        "usage: python -m minihaiku.core plugins [--json]\n"
        "minihaiku.core has one command, 'plugins': it lists the initializer plugins "
        "(see --help).\n"
    )
    r = run([sys.executable, "-m", "minihaiku.core", "plugins", "--bogus"])
    assert r.returncode == 2
    assert "unrecognized arguments: --bogus" in r.stderr


def test_the_console_script_is_declared():
    (ep,) = [
        e
        for e in importlib.metadata.entry_points(group="console_scripts")
        if e.name == "minihaiku-plugins"
    ]
    assert ep.value == "minihaiku.core._plugins.cli:main"
    assert ep.dist.metadata["Name"] == "minihaiku-core"


def printing_plugin(tmp_path):
    """A plugin on PYTHONPATH (a dist-info directory, no install) that prints at import
    and in its hook, through print and straight to file descriptor 1."""
    (tmp_path / "noisy_inits.py").write_text(
        "import os\n"
        "from minihaiku.core import hookimpl\n"
        "print('noisy: imported')\n"
        "os.write(1, b'noisy: fd 1\\n')\n"
        "@hookimpl\n"
        "def minihaiku_register_initializers(register):\n"
        "    print('noisy: registering')\n"
        "    register('noisy_zeros', lambda: (lambda key, shape, dtype: 0))\n"
    )
    info = tmp_path / "noisy_inits-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: noisy-inits\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[minihaiku.initializers]\nnoisy = noisy_inits\n")
    return str(tmp_path)


@pytest.mark.parametrize(
    "command",
    [[sys.executable, "-m", "minihaiku.core", "plugins", "--json"], [str(SCRIPT), "--json"]],
    ids=["python -m minihaiku.core plugins", "minihaiku-plugins"],
)
def test_a_plugin_that_prints_leaves_the_json_parseable(tmp_path, command):
    r = run(command, PYTHONPATH=printing_plugin(tmp_path))
    out = json.loads(r.stdout)
    assert out["load_order"] == ["builtin", "acme", "broken", "noisy"]
    assert "noisy_zeros" in [i["name"] for i in out["initializers"]]
    assert r.stderr.splitlines() == ["noisy: imported", "noisy: fd 1", "noisy: registering"]
