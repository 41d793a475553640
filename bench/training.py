"""train() against hand-written optax loops, on minibatches and on one full batch.

Three ways to run the same steps (an MLP, adam, the same batches):

- ``train``: ``minihaiku.training.train`` with ``batch_size=`` (chunks of
  steps in one compiled ``lax.scan``, batches stacked on the host, the next
  stack sent while the current chunk runs);
- ``per-batch jit``: a hand-written ``jax.jit`` optax step called once per
  batch (the common hand-written loop);
- ``pre-stacked scan``: a hand-written ``lax.scan`` over all batches stacked
  on the device up front (the fastest possible, no host work at all);

plus the full-batch quadratic fit (``minihaiku-fit``'s job) through ``train``
and through a hand-written scan. Steps per second, compilation excluded,
best of ``--repeats``. Prints a markdown table.

Usage: python bench/training.py [--steps 2000] [--batch 128] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minihaiku.core import transform
from minihaiku.layers import MLP
from minihaiku.training import (
    mse_loss,
    quadratic_data,
    quadratic_model,
    softmax_cross_entropy,
    train,
)


def batches_of(data, batch_size, seed, steps):
    n = len(data[0])
    per_epoch = n // batch_size
    idx = []
    for step in range(steps):
        epoch, i = divmod(step, per_epoch)
        idx.append(
            np.random.default_rng((seed, epoch)).permutation(n)[i * batch_size :][:batch_size]
        )
    idx = np.stack(idx)
    return tuple(x[idx] for x in data)


def per_batch_jit(loss, params, stacked, opt):
    @jax.jit
    def update(p, s, batch):
        value, g = jax.value_and_grad(loss)(p, batch)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, value

    s = opt.init(params)
    first = tuple(x[0] for x in stacked)
    update.lower(params, s, first).compile()
    t = time.perf_counter()
    for i in range(len(stacked[0])):
        params, s, _ = update(params, s, tuple(x[i] for x in stacked))
    jax.block_until_ready(params)
    return len(stacked[0]) / (time.perf_counter() - t)


def scan_pre_stacked(loss, params, stacked, opt):
    def run(p, s, data):
        def step(carry, batch):
            p, s = carry
            value, g = jax.value_and_grad(loss)(p, batch)
            u, s = opt.update(g, s, p)
            return (optax.apply_updates(p, u), s), value

        return jax.lax.scan(step, (p, s), data)

    s = opt.init(params)
    data = jax.device_put(stacked)
    fn = jax.jit(run).lower(params, s, data).compile()
    t = time.perf_counter()
    jax.block_until_ready(fn(params, s, data))
    return len(stacked[0]) / (time.perf_counter() - t)


def full_batch_scan(loss, params, data, opt, steps):
    def run(p, s):
        def step(carry, _):
            p, s = carry
            value, g = jax.value_and_grad(loss)(p, data)
            u, s = opt.update(g, s, p)
            return (optax.apply_updates(p, u), s), value

        return jax.lax.scan(step, (p, s), None, length=steps)

    s = opt.init(params)
    fn = jax.jit(run).lower(params, s).compile()
    t = time.perf_counter()
    jax.block_until_ready(fn(params, s))
    return steps / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1797, 64)).astype(np.float32)  # the size of sklearn's digits
    y = rng.integers(0, 10, size=1797).astype(np.int32)
    model = transform(lambda v: MLP([128, 128, 10])(v))
    params = model.init(0, x)
    ce = softmax_cross_entropy(model)

    def plain(p, batch):
        return jnp.mean(
            optax.softmax_cross_entropy_with_integer_labels(model.apply(p, batch[0]), batch[1])
        )

    opt = optax.adam(1e-3)
    stacked = batches_of((x, y), args.batch, 0, args.steps)
    rows = []

    def best(f):
        return max(f() for _ in range(args.repeats))

    rows.append(
        (
            "minibatches",
            "train(batch_size=)",
            best(
                lambda: (
                    train(
                        ce, params, (x, y), opt, args.steps, batch_size=args.batch, progress=False
                    ).steps_per_second
                )
            ),
        )
    )
    rows.append(
        ("minibatches", "per-batch jit", best(lambda: per_batch_jit(plain, params, stacked, opt)))
    )
    rows.append(
        (
            "minibatches",
            "pre-stacked scan",
            best(lambda: scan_pre_stacked(plain, params, stacked, opt)),
        )
    )
    xs, ys = quadratic_data()
    q = quadratic_model()
    qp = q.init(0, xs)
    steps = args.steps * 5
    rows.append(
        (
            "quadratic fit",
            "train (full batch)",
            best(
                lambda: (
                    train(q, qp, (xs, ys), optax.sgd(0.003), steps, progress=False).steps_per_second
                )
            ),
        )
    )
    rows.append(
        (
            "quadratic fit",
            "hand-written scan",
            best(lambda: full_batch_scan(mse_loss(q), qp, (xs, ys), optax.sgd(0.003), steps)),
        )
    )
    print(
        f"device: {jax.devices()[0].device_kind}; minibatch steps {args.steps}, "
        f"batch {args.batch}; quadratic steps {steps}\n"
    )
    print("| workload | loop | steps/s |\n|---|---|---|")
    for workload, loop, value in rows:
        print(f"| {workload} | {loop} | {value:,.0f} |")


if __name__ == "__main__":
    main()
