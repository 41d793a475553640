"""Prepare the release of one minihaiku package without touching the others.

  python scripts/release.py bump PACKAGE PART [--date D] [--commit]
      PACKAGE: core, initializers, layers, training or haiku.
      PART: major, minor, patch, or an explicit version such as 0.2.0.
      Sets the package's version (src/minihaiku/PACKAGE/_version.py), turns its
      CHANGELOG's "## Unreleased" section into "## VERSION (DATE)" (with a new
      empty "## Unreleased" above), and checks first that every sibling's
      dependency range admits the new version. With --commit: commits those two
      files and tags PACKAGE-vVERSION (e.g. core-v0.2.0).
  python scripts/release.py check
      Checks that every sibling range admits every package's current version.
  python scripts/release.py build PACKAGE|all [--out DIR]
      Builds wheel and sdist with hatch into DIR (default dist/) and runs
      twine check --strict on them.

Nothing is written when a check fails; the error says which file to change.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

PACKAGES = ("core", "initializers", "layers", "training", "haiku")
VERSION_RE = re.compile(r'^__version__ = "([^"]+)"$', re.M)


class ReleaseError(Exception):
    """A release step cannot go on; the message says why and what to do."""


def version_file(root: Path, package: str) -> Path:
    return root / "packages" / package / "src" / "minihaiku" / package / "_version.py"


def current_version(root: Path, package: str) -> Version:
    path = version_file(root, package)
    m = VERSION_RE.search(path.read_text())
    if not m:
        raise ReleaseError(f'{path} has no line __version__ = "X.Y.Z".')
    return Version(m.group(1))


def next_version(current: Version, part: str) -> Version:
    major, minor, patch = (*current.release, 0, 0, 0)[:3]
    if part == "major":
        return Version(f"{major + 1}.0.0")
    if part == "minor":
        return Version(f"{major}.{minor + 1}.0")
    if part == "patch":
        return Version(f"{major}.{minor}.{patch + 1}")
    try:
        new = Version(part)
    except InvalidVersion:
        raise ReleaseError(
            f"{part!r} is neither major, minor, patch nor a version such as 0.2.0."
        ) from None
    if new <= current:
        raise ReleaseError(f"the new version {new} must be greater than the current {current}.")
    return new


def sibling_requirements(root: Path, package: str) -> list[tuple[Path, Requirement]]:
    """Every requirement on minihaiku-PACKAGE in the other packages' pyproject files."""
    found = []
    for other in PACKAGES:
        path = root / "packages" / other / "pyproject.toml"
        project = tomllib.loads(path.read_text())["project"]
        reqs = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            reqs.extend(extra)
        for text in reqs:
            req = Requirement(text)
            if req.name == f"minihaiku-{package}":
                found.append((path, req))
    return found


def check_ranges(root: Path, package: str, version: Version) -> None:
    bad = [
        f"{path.relative_to(root)} requires {req}, which excludes {version}"
        for path, req in sibling_requirements(root, package)
        if not req.specifier.contains(version, prereleases=True)
    ]
    if bad:
        raise ReleaseError(
            "; ".join(bad) + ". Widen those ranges first (and release the packages "
            "that hold them), or choose a version they admit."
        )


def release_changelog(text: str, version: Version, date: str, path: Path) -> str:
    m = re.search(r"^## Unreleased[ \t]*\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not m or not m.group(1).strip():
        raise ReleaseError(
            f"{path} has no '## Unreleased' section with entries. Write what changed "
            "under '## Unreleased' first."
        )
    head = f"## Unreleased\n\n## {version} ({date})\n\n{m.group(1).strip()}\n\n"
    return text[: m.start()] + head + text[m.end() :]


def bump(root: Path, package: str, part: str, date: str, commit: bool) -> Version:
    if package not in PACKAGES:
        raise ReleaseError(f"unknown package {package!r}; choose one of {', '.join(PACKAGES)}.")
    old = current_version(root, package)
    new = next_version(old, part)
    check_ranges(root, package, new)
    vpath = version_file(root, package)
    cpath = root / "packages" / package / "CHANGELOG.md"
    changelog = release_changelog(cpath.read_text(), new, date, cpath)
    vpath.write_text(VERSION_RE.sub(f'__version__ = "{new}"', vpath.read_text()))
    cpath.write_text(changelog)
    print(f"minihaiku-{package}: {old} -> {new}")
    if commit:
        tag = f"{package}-v{new}"
        subprocess.run(["git", "-C", str(root), "add", str(vpath), str(cpath)], check=True)
        subprocess.run(
            ["git", "-C", str(root), "commit", "-q", "-m", f"minihaiku-{package} {new}"], check=True
        )
        subprocess.run(
            ["git", "-C", str(root), "tag", "-a", tag, "-m", f"minihaiku-{package} {new}"],
            check=True,
        )
        print(f"committed and tagged {tag}")
    return new


def check(root: Path) -> None:
    for package in PACKAGES:
        check_ranges(root, package, current_version(root, package))
    print("every sibling range admits every current version")


def build(root: Path, which: str, out: Path) -> None:
    packages = PACKAGES if which == "all" else (which,)
    for package in packages:
        if package not in PACKAGES:
            raise ReleaseError(
                f"unknown package {package!r}; choose one of {', '.join(PACKAGES)} or all."
            )
        before = set(out.glob("*")) if out.exists() else set()
        # The package's own project, not the hatch environment this script may run in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("HATCH_ENV")}
        subprocess.run(
            ["hatch", "build", "-t", "wheel", "-t", "sdist", str(out.absolute())],
            cwd=root / "packages" / package,
            check=True,
            env=env,
        )
        built = sorted(set(out.glob("*")) - before)
        subprocess.run(
            [sys.executable, "-m", "twine", "check", "--strict", *map(str, built)], check=True
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="release.py", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bump", help="bump one package's version and changelog")
    b.add_argument("package")
    b.add_argument("part")
    b.add_argument("--date", default=datetime.date.today().isoformat())
    b.add_argument("--commit", action="store_true", help="commit and tag PACKAGE-vVERSION")
    sub.add_parser("check", help="check sibling ranges")
    bl = sub.add_parser("build", help="build wheel and sdist, twine check")
    bl.add_argument("package")
    bl.add_argument("--out", type=Path, default=Path("dist"))
    args = parser.parse_args(argv)
    try:
        if args.command == "bump":
            bump(args.root, args.package, args.part, args.date, args.commit)
        elif args.command == "check":
            check(args.root)
        else:
            build(args.root, args.package, args.out)
    except ReleaseError as e:
        print(f"release.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
