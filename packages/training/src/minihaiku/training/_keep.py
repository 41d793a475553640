"""What a run keeps when its data fails mid-run: the steps done are saved, then the error raised."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from minihaiku.training._run import Run

__all__ = ["save_then_raise"]


def save_then_raise(run: Run, error: Exception) -> NoReturn:
    """Saves the steps ``run`` finished before its data raised ``error``, then raises it.

    The next chunk's batches are fetched while the finished chunk runs, so
    the data fails before that chunk is saved: it is saved here (at the step
    reached, as a dry iterator's run is). ``error`` propagates unchanged, with
    a note naming the checkpoint (or why saving it failed).
    """
    if run.ckpt is not None and run.step > run.start_step:
        try:
            if run.unsaved():
                run.save(run.step)
        except Exception as e:
            error.add_note(f"minihaiku: saving the steps done (step {run.step}) failed: {e}")
        else:
            error.add_note(
                f"minihaiku: the data raised this after step {run.step}; the checkpoint "
                f"of step {run.step} is in {run.ckpt.directory}."
            )
    raise error
