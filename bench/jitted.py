"""The seed's MLP jitted: minihaiku versus the hand-written JAX function.

Times the jitted apply and a jitted SGD training step per call (best of
REPEATS runs of CALLS calls), and proves that both compile to the same
program: the StableHLO operations of minihaiku's lowered function equal those
of the hand-written one, line for line.

Usage: python bench/jitted.py [--calls 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp

from minihaiku.training import quadratic_data, quadratic_model

LR = 0.003
PREFIX = "~/MLP_0/__call__/Linear_{}/__call__/"


def hand_apply(params, x):
    for i in range(3):
        p = PREFIX.format(i)
        out = x @ params[p + "w"] + params[p + "b"]
        x = jax.nn.sigmoid(out)
    return out


def step_fn(apply):
    def step(params, x, y):
        grads = jax.grad(lambda p: jnp.mean((apply(p, x) - y) ** 2))(params)
        return jax.tree_util.tree_map(lambda p, g: p - LR * g, params, grads)

    return step


def ops(lowered):
    """The operations of a lowered function, without SSA names or locations."""
    lines = []
    for line in lowered.as_text().splitlines():
        if "stablehlo." in line or "func.call" in line:
            rhs = line.split("=", 1)[-1].split(" loc(")[0].strip()
            lines.append(rhs)
    return lines


def per_call(fn, args, calls, repeats):
    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(calls):
            out = fn(*args)
        jax.block_until_ready(out)
        best = min(best, (time.perf_counter() - t) / calls)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    xs, ys = quadratic_data()
    xs, ys = jnp.asarray(xs), jnp.asarray(ys)
    model = quadratic_model()
    params = model.init(0, xs)
    cases = {
        "apply": ((model.apply, hand_apply), (params, xs)),
        "train step": ((step_fn(model.apply), step_fn(hand_apply)), (params, xs, ys)),
    }
    print(
        f"backend {jax.default_backend()}, jax {jax.__version__}, seed MLP [128, 128, 1], "
        f"batch 128; best of {args.repeats} x {args.calls} calls\n"
    )
    print("| jitted | hand-written JAX (us/call) | minihaiku (us/call) | ratio | same program |")
    print("|---|---:|---:|---:|---|")
    for name, ((ours, hand), a) in cases.items():
        ours_j, hand_j = jax.jit(ours), jax.jit(hand)
        same = ops(ours_j.lower(*a)) == ops(hand_j.lower(*a))
        # interleave repeats so that machine drift hits both alike
        t_hand = min(per_call(hand_j, a, args.calls, 1) for _ in range(args.repeats))
        t_ours = min(per_call(ours_j, a, args.calls, 1) for _ in range(args.repeats))
        print(
            f"| {name} | {t_hand * 1e6:.1f} | {t_ours * 1e6:.1f} | {t_ours / t_hand:.2f}x | "
            f"{'yes' if same else 'NO'} |"
        )
        if not same:
            raise SystemExit(f"{name}: minihaiku's program differs from the hand-written one")


if __name__ == "__main__":
    main()
