"""scripts/release.py: bumping one package, range checks, changelog handling."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "release.py"
PACKAGES = ("core", "initializers", "layers", "training", "haiku")


@pytest.fixture
def repo(tmp_path):
    for p in PACKAGES:
        src = ROOT / "packages" / p
        dst = tmp_path / "packages" / p
        (dst / "src" / "minihaiku" / p).mkdir(parents=True)
        shutil.copy(src / "pyproject.toml", dst / "pyproject.toml")
        # Start every copy with an empty '## Unreleased' section, whatever the
        # repository's changelogs hold right now.
        changelog = (src / "CHANGELOG.md").read_text()
        head, _, rest = changelog.partition("## Unreleased\n")
        rest = rest[rest.find("\n## ") + 1 :] if "\n## " in rest else ""
        (dst / "CHANGELOG.md").write_text(f"{head}## Unreleased\n\n{rest}")
        shutil.copy(
            src / "src" / "minihaiku" / p / "_version.py",
            dst / "src" / "minihaiku" / p / "_version.py",
        )
    return tmp_path


def run(repo, *args):
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(repo), *args], capture_output=True, text=True
    )


def version(repo, p):
    return (repo / "packages" / p / "src" / "minihaiku" / p / "_version.py").read_text()


def add_entry(repo, p, text="- Fixed a thing."):
    path = repo / "packages" / p / "CHANGELOG.md"
    path.write_text(path.read_text().replace("## Unreleased\n", f"## Unreleased\n\n{text}\n", 1))


def test_patch_bump_touches_only_that_package(repo):
    before = {p: version(repo, p) for p in PACKAGES}
    add_entry(repo, "core")
    r = run(repo, "bump", "core", "patch", "--date", "2026-11-26")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "minihaiku-core: 0.1.0 -> 0.1.1\n"
    assert version(repo, "core") == '__version__ = "0.1.1"\n'
    assert all(version(repo, p) == before[p] for p in PACKAGES[1:])
    changelog = (repo / "packages" / "core" / "CHANGELOG.md").read_text()
    assert changelog.startswith(
        "# Changelog: minihaiku-core\n\n## Unreleased\n\n## 0.1.1 (2026-11-26)\n\n"
        "- Fixed a thing.\n\n## 0.1.0\n"
    )


def test_a_bump_the_siblings_do_not_admit_is_refused(repo):
    add_entry(repo, "core")
    r = run(repo, "bump", "core", "minor")
    assert r.returncode == 1
    assert r.stderr.startswith(
        "release.py: error: packages/initializers/pyproject.toml requires "
        "minihaiku-core<0.2,>=0.1, which excludes 0.2.0; "
    )
    assert "packages/training/pyproject.toml requires minihaiku-core<0.2,>=0.1" in r.stderr
    assert r.stderr.endswith(
        "Widen those ranges first (and release the packages that hold them), or choose a "
        "version they admit.\n"
    )
    assert version(repo, "core") == '__version__ = "0.1.0"\n'


def test_training_can_take_a_minor_bump_no_sibling_depends_on_it(repo):
    add_entry(repo, "training", "- New option.")
    assert run(repo, "bump", "training", "minor").returncode == 0
    assert version(repo, "training") == '__version__ = "0.2.0"\n'


def test_a_bump_without_changelog_entries_is_refused(repo):
    r = run(repo, "bump", "layers", "patch")
    assert r.returncode == 1
    assert r.stderr == (
        f"release.py: error: {repo}/packages/layers/CHANGELOG.md has no '## Unreleased' "
        "section with entries. Write what changed under '## Unreleased' first.\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("bump", "nope", "patch"),
            "unknown package 'nope'; choose one of core, initializers, layers, training, haiku.",
        ),
        (
            ("bump", "core", "tiny"),
            "'tiny' is neither major, minor, patch nor a version such as 0.2.0.",
        ),
        (
            ("bump", "core", "0.0.9"),
            "the new version 0.0.9 must be greater than the current 0.1.0.",
        ),
    ],
)
def test_bad_arguments(repo, args, message):
    add_entry(repo, "core")
    r = run(repo, *args)
    assert r.returncode == 1
    assert r.stderr == f"release.py: error: {message}\n"


def test_check_passes_on_the_real_repository():
    r = subprocess.run([sys.executable, str(SCRIPT), "check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "every sibling range admits every current version\n"


def test_commit_and_tag(repo):
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "add", "."],
        check=True,
    )
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "init"], check=True, env=env)
    add_entry(repo, "layers")
    r = subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(repo), "bump", "layers", "patch", "--commit"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    tags = subprocess.run(["git", "-C", str(repo), "tag"], capture_output=True, text=True)
    assert tags.stdout == "layers-v0.1.1\n"
    log = subprocess.run(
        ["git", "-C", str(repo), "log", "-1", "--format=%s"], capture_output=True, text=True
    )
    assert log.stdout == "minihaiku-layers 0.1.1\n"
