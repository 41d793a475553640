"""Frames are per thread and per asyncio task."""

import asyncio
import threading

import jax.numpy as jnp
import numpy as np

from minihaiku.core import Module, get_param, transform


class Net(Module):
    def __init__(self, depth, name=None):
        super().__init__(name=name)
        self.depth = depth

    def __call__(self, x):
        for i in range(self.depth):
            x = jnp.tanh(x @ get_param(f"w{i}", (x.shape[-1], x.shape[-1])))
        return x


def job(depth, seed):
    f = transform(lambda x: Net(depth)(x))
    x = jnp.ones((1, 3)) * seed
    params = f.init(seed, x)
    return sorted(params), np.asarray(f.apply(params, x))


def test_many_threads_get_the_sequential_results():
    cases = [(1 + i % 4, i) for i in range(24)]
    expected = [job(*c) for c in cases]
    results = [None] * len(cases)
    barrier = threading.Barrier(8)

    def worker(indices):
        barrier.wait()
        for i in indices:
            results[i] = job(*cases[i])

    threads = [threading.Thread(target=worker, args=(range(t, len(cases), 8),)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (names, out), (want_names, want_out) in zip(results, expected, strict=True):
        assert names == want_names
        np.testing.assert_array_equal(out, want_out)


def test_asyncio_tasks_in_threads_get_the_sequential_results():
    cases = [(1 + i % 3, i) for i in range(12)]
    expected = [job(*c) for c in cases]

    async def main():
        return await asyncio.gather(*(asyncio.to_thread(job, *c) for c in cases))

    for (names, out), (want_names, want_out) in zip(asyncio.run(main()), expected, strict=True):
        assert names == want_names
        np.testing.assert_array_equal(out, want_out)


def test_a_task_started_inside_a_transform_does_not_change_its_frame():
    seen = {}

    def f(x):
        before = Net(1, name="before")(x)

        async def side():
            # A task copies the context: a transform run inside it has its own frame.
            seen["inner"] = sorted(transform(lambda: get_param("z", ())).init(0))

        asyncio.run(side())
        after = Net(1, name="after")(x)
        return before + after

    params = transform(f).init(0, jnp.ones((1, 2)))
    assert sorted(params) == ["~/after/__call__/w0", "~/before/__call__/w0"]
    assert seen["inner"] == ["~/z"]
