"""Compile time of a deep MLP with and without layer_stack, in one process.

A DEPTH-layer MLP of width WIDTH (tanh), written as a Python loop of Linear
layers versus layer_stack(DEPTH) around one Linear. Measures, for init and
apply: trace + compile time of jax.jit (lower().compile()), and the run time
of the compiled apply. Fresh functions each repeat, so nothing is cached.

Usage: python bench/compile_layer_stack.py [--depth 100] [--width 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp

from minihaiku.core import layer_stack, transform
from minihaiku.layers import Linear


def loop_model(depth):
    def f(x):
        for _ in range(depth):
            x = jnp.tanh(Linear(x.shape[-1])(x))
        return x

    return transform(f)


def stacked_model(depth):
    def f(x):
        return layer_stack(depth)(lambda h: jnp.tanh(Linear(h.shape[-1])(h)))(x)

    return transform(f)


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def compile_for(fn, *args):
    return jax.jit(fn).lower(*args).compile()


def run(compiled, *args):
    return jax.block_until_ready(compiled(*args))


def measure(make, depth, x, repeats):
    best = {}
    for _ in range(repeats):
        model = make(depth)
        key = jax.random.PRNGKey(0)
        t_init, init_c = timed(compile_for, model.init, key, x)
        params = init_c(key, x)
        t_apply, apply_c = timed(compile_for, model.apply, params, x)
        run(apply_c, params, x)
        t_run = min(timed(run, apply_c, params, x)[0] for _ in range(50))
        for k, v in {"init compile": t_init, "apply compile": t_apply, "apply run": t_run}.items():
            best[k] = min(best.get(k, float("inf")), v)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depth", type=int, default=100)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    x = jnp.ones((8, a.width))
    one = measure(loop_model, 1, x, a.repeats)
    loop = measure(loop_model, a.depth, x, a.repeats)
    stack = measure(stacked_model, a.depth, x, a.repeats)
    print(
        f"backend {jax.default_backend()}, jax {jax.__version__}, depth {a.depth}, width "
        f"{a.width}, best of {a.repeats} (seconds)\n"
    )
    print(
        f"| | 1 layer | {a.depth} layers, Python loop | {a.depth} layers, layer_stack | "
        "loop / layer_stack |"
    )
    print("|---|---:|---:|---:|---:|")
    for k in one:
        print(
            f"| {k} | {one[k]:.4g} | {loop[k]:.4g} | {stack[k]:.4g} | {loop[k] / stack[k]:.1f}x |"
        )


if __name__ == "__main__":
    main()
