"""``minihaiku-fit``: the seed's quadratic fit from the command line."""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["main"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


# JAX keeps 32 bits of a seed (2**32 gives the key of 0), so core's init
# accepts seeds below 2**32 only.
_SEED_LIMIT = 2**32


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < _SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"the seed must be an integer in [0, 2**32), got {value}")
    return value


def _learning_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"the learning rate must be > 0 and finite, got {text}")
    return value


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(_positive_int(t) for t in text.split(","))
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(
            f"--sizes takes comma-separated positive integers such as 128,128,1 ({e})"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``minihaiku-fit``."""
    p = argparse.ArgumentParser(
        prog="minihaiku-fit",
        description=(
            "Fit y = x**2 on 128 points in [-2, 2] with an MLP (sigmoid, full-batch "
            "SGD), as in the seed tutorial. Writes fit.png, metrics.json and "
            "checkpoints into --out."
        ),
    )
    p.add_argument(
        "--steps", type=_positive_int, default=5000, help="training steps to reach (default 5000)"
    )
    p.add_argument(
        "--lr", type=_learning_rate, default=0.003, help="SGD learning rate (default 0.003)"
    )
    p.add_argument("--seed", type=_seed, default=0, help="init seed, 0 <= seed < 2**32 (default 0)")
    p.add_argument(
        "--sizes",
        type=_sizes,
        default=(128, 128, 1),
        help="MLP layer sizes, last must be 1 (default 128,128,1)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("fit-output"),
        help="output directory (default ./fit-output)",
    )
    # --resume and --overwrite are one choice (what to do with the checkpoints already
    # in --out): the last one given wins, so `hatch run fit --resume` (whose script
    # passes --overwrite first) resumes.
    p.add_argument(
        "--resume",
        dest="start",
        action="store_const",
        const="resume",
        help="continue from the checkpoint in --out up to --steps (--resume and "
        "--overwrite are one choice: the last one given wins)",
    )
    p.add_argument(
        "--overwrite",
        dest="start",
        action="store_const",
        const="overwrite",
        help="delete the checkpoints already in --out and start afresh (refused if "
        "checkpoints/ holds files minihaiku did not write; the last of --resume and "
        "--overwrite given wins)",
    )
    p.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        default=None,
        help="also save a checkpoint every N steps (always at the end)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--no-plot", action="store_true", help="do not write fit.png")
    p.add_argument(
        "--no-export",
        action="store_true",
        help="do not write the trained params to params.safetensors",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the fit; returns the process exit code.

    Bad options exit with 2 (argparse); every other error of minihaiku (a
    ``MinihaikuError``) prints one line ``minihaiku-fit: error: ...`` and exits
    with 1.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.sizes[-1] != 1:
        parser.error(f"--sizes must end with 1 (one output per x), got {args.sizes}")
    args.resume = args.start == "resume"
    args.overwrite = args.start == "overwrite"
    out: Path = args.out
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out} exists and is not a directory")

    from minihaiku.core import MinihaikuError

    try:
        return _run(args)
    except MinihaikuError as e:
        message = " ".join(str(e).split())
        print(f"minihaiku-fit: error: {message}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from minihaiku.training._checkpoints import DirectoryLock, ensure_writable_dir
    from minihaiku.training._errors import OutputDirectoryError
    from minihaiku.training.fit._quadratic import run_quadratic_fit
    from minihaiku.training.fit._sizes import check_sizes

    check_sizes(args.sizes, rows=128)
    if not args.no_plot:
        check_can_plot()
    out = ensure_writable_dir(args.out, "--out", OutputDirectoryError)
    ckpt_dir = out / "checkpoints"
    if not (args.resume or args.overwrite):
        latest = latest_step(ckpt_dir)
        if latest is not None:
            raise OutputDirectoryError(
                f"{ckpt_dir.absolute()} already holds a checkpoint (step {latest}). "
                "Continue it with --resume, start afresh with --overwrite, or choose "
                "another --out."
            )
    lock = None
    try:
        if args.overwrite and ckpt_dir.exists():
            ensure_writable_dir(ckpt_dir, "the checkpoint directory", OutputDirectoryError)
            # Held through the run, so no other process starts in between.
            lock = DirectoryLock(ckpt_dir).acquire()
            clear_checkpoints(ckpt_dir)
        fit = run_quadratic_fit(
            args.steps,
            args.lr,
            args.seed,
            sizes=args.sizes,
            checkpoint_dir=ckpt_dir,
            checkpoint_every=args.checkpoint_every,
            resume=args.resume,
            progress=not args.no_progress,
        )
    finally:
        if lock is not None:
            lock.release()
    r = fit.result
    metrics = {
        "final_loss": r.final_loss,
        "steps": r.step,
        "steps_this_run": r.step - (r.resumed_from or 0),
        "steps_per_second": r.steps_per_second,
        "compile_seconds": r.compile_seconds,
        "resumed_from": r.resumed_from,
        "lr": args.lr,
        "seed": args.seed,
        "sizes": list(args.sizes),
        "checkpoint_dir": str(ckpt_dir),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if not args.no_export:
        from minihaiku.training._export import save_params

        save_params(out / "params.safetensors", r.params)
    if not args.no_plot:
        from minihaiku.training.fit._plot import plot_fit

        prediction = np.asarray(fit.model.apply(r.params, fit.xs))
        plot_fit(fit.xs, fit.ys, prediction, out / "fit.png", r.losses)
    print(
        f"final loss {r.final_loss:.6f} after {r.step} steps "
        f"({r.steps_per_second:,.0f} steps/s, compile {r.compile_seconds:.2f} s); "
        f"wrote {out}"
    )
    return 0


_STEP = re.compile(r"^[0-9]+$")
_TMP = re.compile(r"^[0-9]+\.orbax-checkpoint-tmp-[0-9]+$")


def check_can_plot() -> None:
    """Refuses, before any training, a run that would fail at the end on fit.png."""
    from minihaiku.training._errors import TrainingError

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise TrainingError(
            "fit.png needs matplotlib, which is not installed: "
            'pip install "minihaiku-training[plot]", or pass --no-plot.'
        ) from None


def _is_step_dir(entry: Path) -> bool:
    is_dir = entry.is_dir() and not entry.is_symlink()
    return is_dir and bool(_STEP.match(entry.name)) and (entry / "meta").is_dir()


def latest_step(directory: Path) -> int | None:
    """The newest checkpoint step saved in ``directory``, or None (no folder, no step)."""
    if not directory.is_dir():
        return None
    steps = [int(e.name) for e in directory.iterdir() if _is_step_dir(e)]
    return max(steps, default=None)


def clear_checkpoints(directory: Path) -> None:
    """Deletes the checkpoints in ``directory``; refuses if it holds anything else.

    Known: step folders (``100/`` with a ``meta/`` item), orbax's temporary
    folders (``100.orbax-checkpoint-tmp-...``) and the lock file, which stays.
    """
    from minihaiku.training._checkpoints import LOCK_NAME
    from minihaiku.training._errors import OutputDirectoryError

    known, unknown = [], []
    for entry in sorted(directory.iterdir()):
        if entry.name == LOCK_NAME:
            continue
        is_dir = entry.is_dir() and not entry.is_symlink()
        if is_dir and (
            (_STEP.match(entry.name) and (entry / "meta").is_dir()) or _TMP.match(entry.name)
        ):
            known.append(entry)
        else:
            unknown.append(entry.name)
    if unknown:
        shown = ", ".join(unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        raise OutputDirectoryError(
            f"--overwrite refuses to clear {directory}: it holds files minihaiku did "
            f"not write ({shown}). Move them away, or choose another --out."
        )
    for entry in known:
        shutil.rmtree(entry)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
