"""The abstract ``init`` under the haiku scheme: record the key draws, replay them.

Under the haiku scheme every key comes from one ``PRNGSequence`` of the init
key, in call order: random initializers (which draw inside themselves, with
``next_rng_key``) and the forward pass's own draws share it. The abstract
trace runs no initializer, so it records, in order, each entry to create and
each draw the forward pass makes (:class:`PlanKeys`); :func:`replay` then runs
that log concretely in a frame of its own: the initializers run in creation
order, interleaved with the recorded draws, so every initializer sees the key
the eager ``init`` would give it, bit for bit.

What cannot be replayed so falls back to the eager ``init``
(:class:`~minihaiku.core._init_plan.CannotPlanError`): lifted transforms
(they thread the sequence through JAX transforms), ``with_rng``, and reading
or replacing the sequence's state (``maybe_get_rng_sequence_state``).
"""

from __future__ import annotations

from typing import Any

from minihaiku.core._create import build
from minihaiku.core._frame import InitFrame, running
from minihaiku.core._init_plan import CannotPlanError, Entry
from minihaiku.core._keys import Keys
from minihaiku.core._schemes import HaikuKeys, KeySequence, Scheme

__all__ = ["Event", "PlanKeys", "replay"]

#: One step of the log: an entry to create, or a draw ``("draw"|"take"|"reserve", n)``.
Event = Entry | tuple[str, int]


class PlanKeys(HaikuKeys):
    """The haiku keys of an abstract ``init``: the forward pass's draws, logged in order.

    Draws return keys of a sequence of the init key (staged in the trace;
    their values are never used), and each is appended to ``events``.
    """

    __slots__ = ("events",)

    def __init__(self, base: Any) -> None:
        super().__init__(base, KeySequence(base))
        self.events: list[Event] = []

    def _sequence(self) -> KeySequence:
        raise CannotPlanError("the key sequence's state is read or replaced")

    def can_draw(self) -> bool:
        return True

    def param_key(self, salt: int) -> Any:  # pragma: no cover - create records instead
        raise CannotPlanError("a parameter key is drawn outside the plan")

    def draw(self) -> Any:
        self.events.append(("draw", 1))
        return next(self.seq)  # type: ignore[arg-type]

    def take(self, num: int) -> Any:
        self.events.append(("take", num))
        return HaikuKeys(self.base, self.seq).take(num)

    def reserve(self, num: int) -> None:
        self.events.append(("reserve", num))

    def swap_draws(self, base: Any, count: int = 0) -> tuple[Any, int]:
        raise CannotPlanError("with_rng changes the key sequence")

    def child(self, base: Any) -> Keys:
        raise CannotPlanError("a lifted transform threads the key sequence")


def replay(
    key: Any, scheme: Scheme, events: list[Event], order: tuple[dict[str, Any], ...]
) -> tuple[dict[str, Any], ...]:
    """Creates the logged entries in order, with the draws between them, outside any trace.

    The initializers run in a frame of ``scheme`` with key ``key`` (they draw
    with ``next_rng_key``); ``order`` gives each result's paths in ``init``'s
    order (the frame's params, then its initial state).
    """
    last = max((i for i, e in enumerate(events) if isinstance(e, Entry)), default=-1)
    frame = InitFrame({}, {}, allow_state=True, rng=key, scheme=scheme)
    keys = frame.keys
    made: dict[str, dict[str, Any]] = {"parameter": {}, "state": {}}
    with running(frame):
        for event in events[: last + 1]:
            if isinstance(event, Entry):
                k = None if event.salt is None else keys.param_key(0)
                made[event.kind][event.path] = build(
                    event.initializer,
                    event.label,
                    k,
                    event.shape,
                    event.dtype,
                    event.kind,
                    event.path,
                    event.sizes,
                )
            elif event[0] == "draw":
                keys.draw()
            elif event[0] == "take":
                keys.take(event[1])
            else:
                keys.reserve(event[1])
    return tuple(
        {p: made[kind][p] for p in paths}
        for kind, paths in zip(("parameter", "state"), order, strict=False)
    )
