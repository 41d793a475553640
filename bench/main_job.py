"""The main job (the seed's quadratic fit, 5000 steps) timed three ways in one process.

* hand_scan: hand-written pure JAX, all steps in one jitted lax.scan (the bar).
* seed_loop: minihaiku model, one jitted SGD step per Python iteration (the seed's loop).
* minihaiku: minihaiku.training.train (lax.scan chunks, progress reporting, final loss).

Each is run REPEATS times after a warm-up compile; the best time counts. Prints a
markdown table of steps/s and ratios to hand_scan.

Usage: python bench/main_job.py [--steps 5000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minihaiku.training import mse_loss, quadratic_data, quadratic_model, train

LR = 0.003


def hand_params(key, widths=(128, 128, 1), fan_in=1):
    params = []
    for w in widths:
        key, k1, k2 = jax.random.split(key, 3)
        params.append((jax.random.normal(k1, (fan_in, w)), jax.random.normal(k2, (w,))))
        fan_in = w
    return params


def hand_forward(params, x):
    for w, b in params:
        out = x @ w + b
        x = jax.nn.sigmoid(out)
    return out


def hand_scan(steps, xs, ys):
    loss = lambda p: jnp.mean((hand_forward(p, xs) - ys) ** 2)

    @jax.jit
    def run(params):
        def step(p, _):
            g = jax.grad(loss)(p)
            return jax.tree_util.tree_map(lambda a, b: a - LR * b, p, g), None

        return jax.lax.scan(step, params, None, length=steps)[0]

    params = hand_params(jax.random.PRNGKey(0))
    jax.block_until_ready(run(params))

    def once():
        t = time.perf_counter()
        out = jax.block_until_ready(run(params))
        return time.perf_counter() - t, float(loss(out))

    return once


def seed_loop(steps, xs, ys):
    model = quadratic_model()
    loss = mse_loss(model)

    @jax.jit
    def update(p):
        g = jax.grad(loss)(p, (xs, ys))
        return jax.tree_util.tree_map(lambda a, b: a - LR * b, p, g)

    params0 = model.init(0, xs)
    jax.block_until_ready(update(params0))

    def once():
        p = params0
        t = time.perf_counter()
        for _ in range(steps):
            p = update(p)
        jax.block_until_ready(p)
        return time.perf_counter() - t, float(loss(p, (xs, ys)))

    return once


def minihaiku_train(steps, xs, ys):
    model = quadratic_model()
    params0 = model.init(0, xs)

    def once():
        r = train(model, params0, (xs, ys), optax.sgd(LR), steps, progress=False)
        return steps / r.steps_per_second, r.final_loss

    return once


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    xs, ys = quadratic_data()
    xs, ys = jnp.asarray(xs), jnp.asarray(ys)
    impls = {"hand_scan": hand_scan, "seed_loop": seed_loop, "minihaiku": minihaiku_train}
    runners = {name: make(args.steps, xs, ys) for name, make in impls.items()}
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.repeats):  # interleave, so drift hits all alike
        for name, once in runners.items():
            dt, final = once()
            if name not in best or dt < best[name][0]:
                best[name] = (dt, final)
    base = args.steps / best["hand_scan"][0]
    seed = args.steps / best["seed_loop"][0]
    print(
        f"backend {jax.default_backend()} ({jax.devices()[0].device_kind}), jax "
        f"{jax.__version__}, {platform.processor() or platform.machine()}, "
        f"steps {args.steps}, best of {args.repeats}\n"
    )
    print("| impl | steps/s | vs hand_scan | vs seed_loop | final loss |")
    print("|---|---:|---:|---:|---:|")
    for name, (dt, final) in best.items():
        sps = args.steps / dt
        print(f"| {name} | {sps:,.0f} | {sps / base:.2f}x | {sps / seed:.2f}x | {final:.4g} |")
    if not np.isfinite(best["minihaiku"][1]):
        raise SystemExit("minihaiku run diverged")


if __name__ == "__main__":
    main()
