"""The chunk plan of a run: how many steps each compiled dispatch takes."""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["chunk_lengths", "plan_chunks"]


def plan_chunks(start: int, stop: int, per_dispatch: int, every: int | None) -> Iterator[int]:
    """Chunk lengths from ``start`` to ``stop``, ending at each checkpoint step.

    A generator: a plan of 10**12 steps starts at once.
    """
    step = start
    while step < stop:
        boundary = stop
        if every:
            boundary = min(stop, (step // every + 1) * every)
        n = min(per_dispatch, boundary - step)
        yield n
        step += n


def chunk_lengths(start: int, stop: int, per_dispatch: int, every: int | None) -> set[int]:
    """The distinct lengths :func:`plan_chunks` yields (one compilation each), by arithmetic."""
    if stop <= start:
        return set()

    def segment(length: int) -> set[int]:
        # A stretch between two boundaries: full chunks, then the remainder.
        out = {per_dispatch} if length >= per_dispatch else set()
        if length % per_dispatch:
            out.add(length % per_dispatch)
        return out

    if not every:
        return segment(stop - start)
    first_end = min(stop, (start // every + 1) * every)
    lengths = segment(first_end - start)
    if first_end < stop:
        last_start = max(first_end, (stop - 1) // every * every)
        if last_start > first_end:
            lengths |= segment(every)
        lengths |= segment(stop - last_start)
    return lengths
