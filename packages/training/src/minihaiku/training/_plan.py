"""The chunk plan of a run: how many steps each compiled dispatch takes."""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["plan_chunks"]


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
