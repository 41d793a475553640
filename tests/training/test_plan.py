"""The chunk plan is lazy: any step count starts at once, with few distinct chunk lengths."""

import contextlib
import itertools
from collections.abc import Iterator

import optax
from hypothesis import given
from hypothesis import strategies as st

from minihaiku.training import quadratic_data, quadratic_model, train
from minihaiku.training._plan import plan_chunks


def test_a_plan_of_a_trillion_steps_is_lazy():
    plan = plan_chunks(0, 10**12, 1000, None)
    assert isinstance(plan, Iterator)
    assert list(itertools.islice(plan, 3)) == [1000, 1000, 1000]
    # Checkpoints every 1000003 steps: 5 -> 1000003 is 999 chunks of 1000 and
    # one of 998.
    plan = plan_chunks(5, 10**12 + 7, 1000, 10**6 + 3)
    assert list(itertools.islice(plan, 1000)) == [1000] * 999 + [998]
    assert next(plan) == 1000


@given(
    start=st.integers(0, 60),
    length=st.integers(0, 120),
    per_dispatch=st.integers(1, 25),
    every=st.one_of(st.none(), st.integers(1, 40)),
)
def test_the_plan_covers_the_run_and_ends_chunks_at_checkpoints(start, length, per_dispatch, every):
    stop = start + length
    chunks = list(plan_chunks(start, stop, per_dispatch, every))
    assert sum(chunks) == length
    assert all(1 <= n <= per_dispatch for n in chunks)
    ends = list(itertools.accumulate(chunks, initial=start))
    if every:
        for boundary in range(start + 1, stop):
            if boundary % every == 0:
                assert boundary in ends


class Stop(Exception):
    pass


def test_train_of_a_trillion_steps_starts_at_once():
    xs, ys = quadratic_data()
    model = quadratic_model((8, 1))
    seen = []

    def report(step, loss):
        seen.append(step)
        raise Stop

    with contextlib.suppress(Stop):
        train(
            model,
            model.init(0, xs),
            (xs, ys),
            optax.sgd(0.01),
            10**12,
            progress=False,
            report=report,
        )
    assert seen == [1000]
