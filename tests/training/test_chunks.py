"""Every chunk of a run executes one compiled program, so the chunking never changes a bit.

A chunk compiled per length let XLA drop the loop of a one-step chunk and fuse
its step differently (a last-bit difference): a resumed run, or another
``steps_per_dispatch``, then did not equal the uninterrupted run.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from minihaiku.core import next_rng_key, transform
from minihaiku.layers import MLP
from minihaiku.training import _run, _step, mse_loss, quadratic_data, train

xs, ys = quadratic_data()
dropped = transform(
    lambda x: MLP([8, 1])(jnp.where(jax.random.bernoulli(next_rng_key(), 0.5, x.shape), x, 0.0)),
    apply_rng=True,
)
params0 = dropped.init(0, xs)
d_loss = mse_loss(dropped, rng=True)
# Fixed minibatches for the iterator runs (stacked on the host).
BATCHES = [(xs[i * 16 : (i + 1) * 16], ys[i * 16 : (i + 1) * 16]) for i in range(8)]
KINDS = ["full batch", "batch_size (gathered on the device)", "iterator (stacked on the host)"]


def run(kind, steps, **kwargs):
    data = iter(BATCHES) if kind.startswith("iterator") else (xs, ys)
    batch_size = 16 if kind.startswith("batch_size") else None
    return train(
        d_loss,
        params0,
        data,
        optax.sgd(0.05),
        steps,
        seed=7,
        batch_size=batch_size,
        progress=False,
        **kwargs,
    )


def assert_identical(got, want):
    np.testing.assert_array_equal(got.losses, want.losses)
    assert got.final_loss == want.final_loss
    for k in want.params:
        np.testing.assert_array_equal(got.params[k], want.params[k])


@pytest.mark.parametrize("kind", KINDS)
def test_steps_per_dispatch_changes_no_bit_of_the_run(kind):
    whole = run(kind, 8, steps_per_dispatch=8)
    for per_dispatch in (1, 3):
        assert_identical(run(kind, 8, steps_per_dispatch=per_dispatch), whole)


@pytest.mark.parametrize("kind", KINDS)
def test_a_resume_after_any_step_is_bit_identical(tmp_path, kind):
    whole = run(kind, 8, steps_per_dispatch=3)
    for split in range(1, 8):
        directory = tmp_path / str(split)
        run(kind, split, steps_per_dispatch=3, checkpoint_dir=directory)
        resumed = run(kind, 8, steps_per_dispatch=3, checkpoint_dir=directory, resume=True)
        assert resumed.resumed_from == split
        assert_identical(resumed, whole)


def test_one_chunk_program_is_compiled_per_run(monkeypatch, tmp_path):
    made = []

    def counting(*args, **kwargs):
        made.append(args)
        return make_chunk(*args, **kwargs)

    make_chunk = _run.make_chunk
    monkeypatch.setattr(_run, "make_chunk", counting)
    # Chunks of 3, 1, 3, 1 steps (checkpoint_every ends a chunk at steps 4 and 8).
    result = run(KINDS[1], 8, steps_per_dispatch=3, checkpoint_dir=tmp_path, checkpoint_every=4)
    assert result.checkpoints == [4, 8]
    assert len(made) == 1
    made.clear()
    run(KINDS[0], 8, steps_per_dispatch=3)  # chunks of 3, 3, 2 steps
    assert len(made) == 1


def test_a_resumed_run_compiles_the_capacity_of_the_uninterrupted_one(monkeypatch, tmp_path):
    capacities = []
    make_chunk = _run.make_chunk

    def recording(f, optimizer, capacity, *args, **kwargs):
        capacities.append(capacity)
        return make_chunk(f, optimizer, capacity, *args, **kwargs)

    monkeypatch.setattr(_run, "make_chunk", recording)
    run(KINDS[0], 7, steps_per_dispatch=3, checkpoint_dir=tmp_path)
    # Resumed at step 7: one step is left, but the program is the 3-step one.
    run(KINDS[0], 8, steps_per_dispatch=3, checkpoint_dir=tmp_path, resume=True)
    assert capacities == [3, 3]


def _loops(capacity):
    f = _step.normalize(mse_loss(transform(lambda x: MLP([2, 1])(x))))
    chunk = _step.make_chunk(f, optax.sgd(0.1), capacity, stacked=False)
    params = transform(lambda x: MLP([2, 1])(x)).init(0, xs[:4])
    args = (params, {}, optax.sgd(0.1).init(params), {}, None, 0, 1, (xs[:4], ys[:4]))
    jaxpr = jax.make_jaxpr(chunk)(*args)
    return [(e.primitive.name, e.params.get("length")) for e in jaxpr.jaxpr.eqns]


def test_the_chunk_loop_has_a_trip_count_known_at_compile_time():
    # A trip count known only at run time makes a GPU copy the loop's condition to
    # the host after every step (the quadratic fit at 0.57x a hand-written scan).
    loops = [e for e in _loops(3) if e[0] in ("scan", "while")]
    assert loops == [("scan", 3)]
    # A one-step program keeps a run-time trip count, so XLA cannot drop its loop.
    assert [e[0] for e in _loops(1) if e[0] in ("scan", "while")] == ["while"]
