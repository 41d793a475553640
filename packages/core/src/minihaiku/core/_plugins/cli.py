"""``minihaiku-plugins`` / ``python -m minihaiku.core plugins``: list the initializer plugins."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from collections.abc import Iterator, Sequence

from minihaiku.core._plugins.contract import AUTOLOAD_ENV, STRICT_ENV
from minihaiku.core._plugins.default import registry
from minihaiku.core._plugins.report import RegistryReport

__all__ = ["format_report", "main"]


def _who(dist: str | None, version: str | None) -> str:
    if dist is None:
        return "registered by hand"
    return f"{dist} {version}" if version else dist


def format_report(report: RegistryReport) -> str:
    """The text ``minihaiku-plugins`` prints for ``report``.

    Examples:
      >>> from minihaiku.core import RegistryReport
      >>> print(format_report(RegistryReport((), (), autoload=False, strict=False)))
      autoload: off (MINIHAIKU_DISABLE_PLUGIN_AUTOLOAD is set)
      strict mode: off (set MINIHAIKU_STRICT_PLUGINS=1 to raise on a broken plugin)
      <BLANKLINE>
      plugins, in load order: none
      <BLANKLINE>
      initializers: none
    """
    lines = [
        f"autoload: on (set {AUTOLOAD_ENV}=1 to turn it off)"
        if report.autoload
        else f"autoload: off ({AUTOLOAD_ENV} is set)",
        f"strict mode: on ({STRICT_ENV} is set)"
        if report.strict
        else f"strict mode: off (set {STRICT_ENV}=1 to raise on a broken plugin)",
        "",
    ]
    if report.plugins:
        lines.append("plugins, in load order:")
        for i, p in enumerate(report.plugins, 1):
            where = _who(p.distribution, p.version) + (", built-in" if p.builtin else "")
            ep = f"{p.name} = {p.value}" if p.value is not None else p.name
            if p.loaded:
                n = len(p.initializers)
                what = f"{n} initializer{'s' if n != 1 else ''}"
            else:
                what = f"FAILED: {p.error}"
            lines.append(f"  {i}. {ep} ({where}): {what}")
    else:
        lines.append("plugins, in load order: none")
    lines.append("")
    if report.initializers:
        rows = [("name", "plugin", "distribution")] + [
            (i.name, i.plugin, _who(i.distribution, i.version)) for i in report.initializers
        ]
        w0 = max(len(r[0]) for r in rows)
        w1 = max(len(r[1]) for r in rows)
        lines.append(f"initializers ({len(report.initializers)}):")
        lines += [f"  {a:<{w0}}  {b:<{w1}}  {c}".rstrip() for a, b, c in rows]
    else:
        lines.append("initializers: none")
    if report.failed:
        n = len(report.failed)
        names = ", ".join(p.name for p in report.failed)
        them = "them" if n != 1 else "it"
        lines += [
            "",
            f"{n} plugin{'s' if n != 1 else ''} failed to load ({names}): fix or "
            f"uninstall {them}; until then {'their' if n != 1 else 'its'} "
            "initializers are not available.",
        ]
    return "\n".join(lines)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Sends what runs inside to stderr, ``print`` and writes to file descriptor 1 alike.

    Plugins may print when imported or in their hook; stdout is kept for the
    report (``--json`` must stay parseable).
    """
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
        saved = os.dup(fd)
        os.dup2(sys.stderr.fileno(), fd)
    except (AttributeError, OSError, ValueError):  # no real descriptors (captured)
        fd = saved = -1
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        if saved >= 0:
            sys.stdout.flush()
            os.dup2(saved, fd)
            os.close(saved)


def _parser(prog: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="List the minihaiku initializers and the plugins that provide them: "
        "load order, distribution versions, failed plugins, autoload and strict mode. "
        "Exits with status 1 when a plugin failed to load.",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Runs ``minihaiku-plugins``; returns the exit status (1 if a plugin failed).

    Plugins load without strict mode here, so that every broken plugin is
    listed (strict mode is still reported as configured).

    Examples:
      >>> main(["--help"])  # doctest: +SKIP
    """
    args = _parser(prog).parse_args(argv)
    with warnings.catch_warnings(), _stdout_to_stderr():
        # The report lists the failures; no warning text on stderr as well.
        warnings.simplefilter("ignore")
        registry.load_plugins(strict=False)
    report = registry.registry_report()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_report(report))
    return 1 if report.failed else 0


def module_main(argv: Sequence[str] | None = None) -> int:
    """``python -m minihaiku.core plugins [--json]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "plugins":
        print(
            "usage: python -m minihaiku.core plugins [--json]\n"
            "minihaiku.core has one command, 'plugins': it lists the initializer "
            "plugins (see --help).",
            file=sys.stderr,
        )
        return 2
    return main(argv[1:], prog="python -m minihaiku.core plugins")
