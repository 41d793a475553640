"""train() on two real models against hand-written loops, dm-haiku and Flax NNX.

Two workloads, each trained with adam on the same batches by every loop:

- ``digits``: an MLP [128, 128, 10] classifier on digits-sized data (1797 x 64
  float32 examples, 10 classes; random values, as scikit-learn is not in the
  bench environment), shuffled minibatches of 128, softmax cross-entropy;
- ``char LM``: a byte-level transformer language model (``Embed`` + learned
  positions, 2 pre-LayerNorm blocks of causal ``MultiHeadAttention`` (4 heads)
  and a gelu MLP (4 x 128), a final ``LayerNorm``, ``Linear`` to the 256 byte
  values; d_model 128), batch 32 x 64 bytes, windows at random offsets of the
  repository's README.md, next-byte cross-entropy.

Loops (the first three run the same minihaiku model):

- ``train``: ``minihaiku.training.train`` with its ready-made
  ``softmax_cross_entropy`` (which also logs the accuracy at every step);
  digits: the arrays with ``batch_size=128`` (kept on the device, batches
  gathered there); LM: an iterator of the windows (stacked on the host per
  chunk); ``train, loss only``: the same with a plain ``Loss`` computing
  only the cross-entropy (the work the hand-written loops do);
  ``train, host-stacked batches`` (digits): ``train`` with the device-side
  gathering turned off, as train() did before;
- ``per-batch jit``: a hand-written ``jax.jit`` optax step called once per
  batch from Python (batches sent from the host one at a time);
- ``pre-stacked scan``: a hand-written ``lax.scan`` over all the batches
  stacked on the device before the clock starts (no host work at all);
- ``dm-haiku``: the same model in ``hk.transform``, a jitted optax step per
  batch (dm-haiku's usual loop);
- ``flax nnx``: the same model as ``nnx.Module``, an ``nnx.jit`` train step
  with ``nnx.Optimizer`` per batch (Flax NNX's usual loop).

Steps per second, compilation excluded (``train``: its own
``steps_per_second``, which excludes compilation; the others time their loop
after an ahead-of-time compile), best of ``--repeats`` runs interleaved across
the loops. Prints a markdown table with the ratios to the scan and to the
per-batch loop.

Usage: python bench/training_models.py [--repeats 3] [--digits-steps 2000] [--lm-steps 50]
       [--workloads digits lm]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minihaiku.core import get_param, transform
from minihaiku.initializers import truncated_normal, variance_scaling
from minihaiku.layers import MLP, Embed, LayerNorm, Linear, MultiHeadAttention
from minihaiku.training import Loss, softmax_cross_entropy, train

DIGITS_BATCH = 128
B, T, D, H, V = 32, 64, 128, 4, 256  # LM: batch, sequence, model size, heads, vocabulary
LAYERS = 2
LR = 1e-3


# ------------------------------------------------------------------ data


def digits_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1797, 64)).astype(np.float32)
    y = rng.integers(0, 10, size=1797).astype(np.int32)
    return x, y


def digits_batches(data: tuple[np.ndarray, ...], steps: int, seed: int = 0) -> tuple[Any, ...]:
    """The batches train(batch_size=) draws: epoch e is permutation(seed, e), rest dropped."""
    n = len(data[0])
    per_epoch = n // DIGITS_BATCH
    idx = np.stack(
        [
            np.random.default_rng((seed, s // per_epoch)).permutation(n)[
                (s % per_epoch) * DIGITS_BATCH :
            ][:DIGITS_BATCH]
            for s in range(steps)
        ]
    )
    return tuple(x[idx] for x in data)


def lm_batches(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` batches of (inputs, next bytes) at random offsets of README.md, stacked."""
    text = np.frombuffer((Path(__file__).parents[1] / "README.md").read_bytes(), np.uint8)
    starts = np.random.default_rng(0).integers(0, len(text) - T - 1, size=(steps, B))
    windows = text[starts[..., None] + np.arange(T + 1)].astype(np.int32)
    return windows[..., :-1], windows[..., 1:]


# ------------------------------------------------------------------ models


def digits_minihaiku() -> Any:
    return transform(lambda x: MLP([128, 128, 10])(x))


def lm_minihaiku() -> Any:
    def forward(tokens: jax.Array) -> jax.Array:
        x = Embed(V, D, w_init=truncated_normal(0.02))(tokens)
        pos = get_param("positions", (T, D), init=truncated_normal(0.02))
        x = x + pos[: tokens.shape[-1]]
        mask = jnp.tril(jnp.ones((1, 1, T, T), bool))
        for _ in range(LAYERS):
            h = LayerNorm(axis=-1, create_scale=True, create_offset=True)(x)
            attn = MultiHeadAttention(H, D // H, w_init=variance_scaling(1.0))
            x = x + attn(h, h, h, mask)
            h = LayerNorm(axis=-1, create_scale=True, create_offset=True)(x)
            x = x + MLP([4 * D, D], activation=jax.nn.gelu)(h)
        x = LayerNorm(axis=-1, create_scale=True, create_offset=True)(x)
        return Linear(V)(x)

    return transform(forward)


def digits_haiku() -> Any:
    import haiku as hk

    return hk.without_apply_rng(hk.transform(lambda x: hk.nets.MLP([128, 128, 10])(x)))


def lm_haiku() -> Any:
    import haiku as hk

    def forward(tokens: jax.Array) -> jax.Array:
        x = hk.Embed(V, D, w_init=hk.initializers.TruncatedNormal(0.02))(tokens)
        pos = hk.get_parameter("positions", (T, D), init=hk.initializers.TruncatedNormal(0.02))
        x = x + pos[: tokens.shape[-1]]
        mask = jnp.tril(jnp.ones((1, 1, T, T), bool))
        for _ in range(LAYERS):
            h = hk.LayerNorm(axis=-1, create_scale=True, create_offset=True)(x)
            attn = hk.MultiHeadAttention(H, D // H, w_init=hk.initializers.VarianceScaling(1.0))
            x = x + attn(h, h, h, mask)
            h = hk.LayerNorm(axis=-1, create_scale=True, create_offset=True)(x)
            x = x + hk.nets.MLP([4 * D, D], activation=jax.nn.gelu)(h)
        x = hk.LayerNorm(axis=-1, create_scale=True, create_offset=True)(x)
        return hk.Linear(V)(x)

    return hk.without_apply_rng(hk.transform(forward))


def digits_flax() -> Any:
    from flax import nnx

    class Net(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.l1 = nnx.Linear(64, 128, rngs=rngs)
            self.l2 = nnx.Linear(128, 128, rngs=rngs)
            self.l3 = nnx.Linear(128, 10, rngs=rngs)

        def __call__(self, x: jax.Array) -> jax.Array:
            return self.l3(jax.nn.relu(self.l2(jax.nn.relu(self.l1(x)))))

    return Net(nnx.Rngs(0))


def lm_flax() -> Any:
    from flax import nnx

    class Block(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.ln1 = nnx.LayerNorm(D, epsilon=1e-5, rngs=rngs)
            self.attn = nnx.MultiHeadAttention(
                num_heads=H, in_features=D, decode=False, keep_rngs=False, rngs=rngs
            )
            self.ln2 = nnx.LayerNorm(D, epsilon=1e-5, rngs=rngs)
            self.fc1 = nnx.Linear(D, 4 * D, rngs=rngs)
            self.fc2 = nnx.Linear(4 * D, D, rngs=rngs)

        def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
            x = x + self.attn(self.ln1(x), mask=mask)
            return x + self.fc2(jax.nn.gelu(self.fc1(self.ln2(x))))

    class LM(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            init = nnx.initializers.truncated_normal(0.02)
            self.embed = nnx.Embed(V, D, embedding_init=init, rngs=rngs)
            self.positions = nnx.Param(init(rngs.params(), (T, D)))
            self.blocks = nnx.List([Block(rngs) for _ in range(LAYERS)])
            self.ln = nnx.LayerNorm(D, epsilon=1e-5, rngs=rngs)
            self.out = nnx.Linear(D, V, rngs=rngs)

        def __call__(self, tokens: jax.Array) -> jax.Array:
            x = self.embed(tokens) + self.positions[: tokens.shape[-1]]
            mask = nnx.make_causal_mask(tokens)
            for block in self.blocks:
                x = block(x, mask)
            return self.out(self.ln(x))

    return LM(nnx.Rngs(0))


def ce(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


# ------------------------------------------------------------------ loops
# Each returns steps per second over ``stacked`` (a tuple of (steps, ...) arrays).


def run_train(
    model: Any, params: Any, data: Any, stacked: Any, lm: bool, metrics: bool = True
) -> float:
    steps = len(stacked[0])
    if lm:  # an iterator of random windows
        source: Any = zip(*stacked, strict=True)
        kw: dict[str, Any] = {}
    else:  # in-memory arrays, shuffled minibatches
        source, kw = data, {"batch_size": DIGITS_BATCH}
    loss = (
        softmax_cross_entropy(model)
        if metrics
        else Loss(lambda p, batch: ce(model.apply(p, batch[0]), batch[1]))
    )
    r = train(loss, params, source, optax.adam(LR), steps, **kw, progress=False)
    return r.steps_per_second


def run_per_batch(apply: Callable[..., Any], params: Any, stacked: Any) -> float:
    opt = optax.adam(LR)

    @jax.jit
    def update(p: Any, s: Any, x: Any, y: Any) -> Any:
        value, g = jax.value_and_grad(lambda q: ce(apply(q, x), y))(p)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, value

    s = opt.init(params)
    xs, ys = stacked
    fn = update.lower(params, s, xs[0], ys[0]).compile()
    t = time.perf_counter()
    for i in range(len(xs)):
        params, s, _ = fn(params, s, xs[i], ys[i])
    jax.block_until_ready(params)
    return len(xs) / (time.perf_counter() - t)


def run_scan(apply: Callable[..., Any], params: Any, stacked: Any) -> float:
    opt = optax.adam(LR)

    def run(p: Any, s: Any, data: Any) -> Any:
        def step(carry: Any, batch: Any) -> Any:
            p, s = carry
            value, g = jax.value_and_grad(lambda q: ce(apply(q, batch[0]), batch[1]))(p)
            u, s = opt.update(g, s, p)
            return (optax.apply_updates(p, u), s), value

        return jax.lax.scan(step, (p, s), data)

    s = opt.init(params)
    data = jax.device_put(stacked)
    fn = jax.jit(run).lower(params, s, data).compile()
    jax.block_until_ready(data)
    t = time.perf_counter()
    jax.block_until_ready(fn(params, s, data))
    return len(stacked[0]) / (time.perf_counter() - t)


def run_flax(make: Callable[[], Any], stacked: Any) -> float:
    from flax import nnx

    model = make()
    optimizer = nnx.Optimizer(model, optax.adam(LR), wrt=nnx.Param)

    @nnx.jit
    def step(model: Any, optimizer: Any, x: jax.Array, y: jax.Array) -> jax.Array:
        value, grads = nnx.value_and_grad(lambda m: ce(m(x), y))(model)
        optimizer.update(model, grads)
        return value

    xs, ys = stacked
    step(model, optimizer, xs[0], ys[0])  # compiles (one extra step, before the clock)
    jax.block_until_ready(nnx.state(model))
    t = time.perf_counter()
    for i in range(len(xs)):
        step(model, optimizer, xs[i], ys[i])
    jax.block_until_ready(nnx.state(model))
    return len(xs) / (time.perf_counter() - t)


def host_stacked(run: Callable[[], float]) -> float:
    """``run()`` with train's device-side gathering turned off (batches stacked on the host)."""
    from minihaiku.training import _feed

    limit = _feed.DEVICE_GATHER_BYTES
    _feed.DEVICE_GATHER_BYTES = 0
    try:
        return run()
    finally:
        _feed.DEVICE_GATHER_BYTES = limit


# ------------------------------------------------------------------ main


def workload(name: str, steps: int, repeats: int) -> list[tuple[str, str, float]]:
    lm = name == "char LM"
    if lm:
        stacked = lm_batches(steps)
        data, example = None, stacked[0][0]
        mh, hk_model, flax_make = lm_minihaiku(), lm_haiku(), lm_flax
    else:
        data = digits_data()
        stacked = digits_batches(data, steps)
        example = data[0][:DIGITS_BATCH]
        mh, hk_model, flax_make = digits_minihaiku(), digits_haiku(), digits_flax
    params = mh.init(0, example)
    hk_params = hk_model.init(jax.random.key(0), example)
    loops: dict[str, Callable[[], float]] = {
        "train": lambda: run_train(mh, params, data, stacked, lm),
        "train, loss only": lambda: run_train(mh, params, data, stacked, lm, metrics=False),
        "per-batch jit": lambda: run_per_batch(mh.apply, params, stacked),
        "pre-stacked scan": lambda: run_scan(mh.apply, params, stacked),
        "dm-haiku (per-batch jit)": lambda: run_per_batch(hk_model.apply, hk_params, stacked),
        "flax nnx (nnx.jit per batch)": lambda: run_flax(flax_make, stacked),
    }
    if not lm:  # the same train() with the batches stacked on the host (the path before)
        loops["train, host-stacked batches"] = lambda: host_stacked(
            lambda: run_train(mh, params, data, stacked, lm)
        )
    best = dict.fromkeys(loops, 0.0)
    for _ in range(repeats):
        for loop, f in loops.items():
            best[loop] = max(best[loop], f())
    return [(name, loop, value) for loop, value in best.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--digits-steps", type=int, default=2000)
    parser.add_argument("--lm-steps", type=int, default=50)
    parser.add_argument(
        "--workloads", nargs="+", choices=["digits", "lm"], default=["digits", "lm"]
    )
    args = parser.parse_args()
    names = [n for n, flag in (("digits", "digits"), ("char LM", "lm")) if flag in args.workloads]
    rows = []
    for name in names:
        rows += workload(
            name, args.digits_steps if name == "digits" else args.lm_steps, args.repeats
        )
    import flax
    import haiku

    print(
        f"device: {jax.devices()[0].device_kind} ({platform.processor() or platform.machine()}); "
        f"jax {jax.__version__}, optax {optax.__version__}, dm-haiku {haiku.__version__}, "
        f"flax {flax.__version__}; digits {args.digits_steps} steps, char LM "
        f"{args.lm_steps} steps; best of {args.repeats}\n"
    )
    print("| workload | loop | steps/s | vs scan | vs per-batch jit |\n|---|---|---:|---:|---:|")
    for name in names:
        got = {loop: v for w, loop, v in rows if w == name}
        scan, per_batch = got["pre-stacked scan"], got["per-batch jit"]
        for loop, v in got.items():
            rate = f"{v:,.0f}" if v >= 100 else f"{v:.2f}"
            print(f"| {name} | {loop} | {rate} | {v / scan:.2f}x | {v / per_batch:.2f}x |")


if __name__ == "__main__":
    main()
