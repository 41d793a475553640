"""Where the per-layer time of the depth-500 MLP's un-jitted apply goes (issue 20).

One process, every variant run once per round, the rounds alternating across
variants; prints the median per layer (microseconds) over ``--rounds`` rounds
and the ratio to the hand-written loop. Each variant computes the same
``tanh(x @ w + b)`` per layer on the same (8, 32) input with the same
parameters, adding one piece of what minihaiku's ``MLP`` does at a time:

* hand-written: a loop over a list of (w, b) pairs;
* plain Python object: a plain class (no minihaiku) constructed per layer,
  whose ``__call__`` does the math: the floor of any "construct a layer
  object, call it" design;
* get_param loop: the hand-written loop reading w and b with ``get_param``
  inside ``transform`` (frame, scope and lookup, no module);
* minimal Module: a ``Module`` subclass per layer whose ``__call__`` reads w
  and b with ``get_param`` and does the math (construction + method wrapper);
* Linear: ``minihaiku.layers.Linear`` per layer, then ``jnp.tanh``;
* MLP: ``minihaiku.layers.MLP`` (bench/overhead.py's minihaiku row);
* construct Linear / construct minimal Module / call a no-op method: the
  Python costs alone, no array op.

Usage: python bench/apply_breakdown.py [--depth 500] [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from minihaiku.core import Module, get_param, transform
from minihaiku.layers import MLP, Linear

W = 32


class Plain:
    def __init__(self, w: Any, b: Any) -> None:
        self.w, self.b = w, b

    def __call__(self, x: Any) -> Any:
        return x @ self.w + self.b


class Minimal(Module):
    def __init__(self, size: int, name: str | None = None) -> None:
        super().__init__(name=name)
        self.size = size

    def __call__(self, x: Any) -> Any:
        w = get_param("w", (x.shape[-1], self.size))
        b = get_param("b", (self.size,))
        return x @ w + b


class Noop(Module):
    def __call__(self, x: Any) -> Any:
        return x


def variants(depth: int) -> dict[str, Callable[[], Any]]:
    x = jnp.ones((8, W))

    def mlp(x: Any) -> Any:
        layers = MLP([W] * depth, activation=jnp.tanh, activate_final=True)
        return layers(x)

    f = transform(mlp)
    params = f.init(0, x)
    pairs = [
        (
            params[f"~/MLP_0/__call__/Linear_{i}/__call__/w"],
            params[f"~/MLP_0/__call__/Linear_{i}/__call__/b"],
        )
        for i in range(depth)
    ]

    def renamed(fmt: str) -> dict[str, Any]:
        out = {}
        for i, (w, b) in enumerate(pairs):
            out[fmt.format(i=i, n="w")] = w
            out[fmt.format(i=i, n="b")] = b
        return out

    def hand(pairs: Any, x: Any) -> Any:
        for w, b in pairs:
            x = jnp.tanh(x @ w + b)
        return x

    def plain(x: Any) -> Any:
        for w, b in pairs:
            x = jnp.tanh(Plain(w, b)(x))
        return x

    def gp_loop(x: Any) -> Any:
        for i in range(depth):
            w = get_param(f"w{i}", (W, W))
            b = get_param(f"b{i}", (W,))
            x = jnp.tanh(x @ w + b)
        return x

    def minimal(x: Any) -> Any:
        for _ in range(depth):
            x = jnp.tanh(Minimal(W)(x))
        return x

    def linear(x: Any) -> Any:
        for _ in range(depth):
            x = jnp.tanh(Linear(W)(x))
        return x

    def construct_linear(x: Any) -> Any:
        for _ in range(depth):
            Linear(W)
        return x

    def construct_minimal(x: Any) -> Any:
        for _ in range(depth):
            Minimal(W)
        return x

    def noop_calls(x: Any) -> Any:
        noop = Noop()
        for _ in range(depth):
            x = noop(x)
        return x

    gp_params = {}
    for i, (w, b) in enumerate(pairs):
        gp_params[f"~/w{i}"], gp_params[f"~/b{i}"] = w, b
    apply = {
        "get_param loop": (gp_loop, gp_params),
        "minimal Module": (minimal, renamed("~/Minimal_{i}/__call__/{n}")),
        "Linear": (linear, renamed("~/Linear_{i}/__call__/{n}")),
        "MLP": (mlp, params),
        "construct Linear (no math)": (construct_linear, {}),
        "construct minimal Module (no math)": (construct_minimal, {}),
        "call a no-op method (no math)": (noop_calls, {}),
    }
    out: dict[str, Callable[[], Any]] = {
        "hand-written": lambda: hand(pairs, x),
        "plain Python object": lambda: plain(x),
    }
    for name, (fn, p) in apply.items():
        out[name] = lambda fn=fn, p=p: transform(fn).apply(p, x)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    cases = variants(args.depth)
    times: dict[str, list[float]] = {k: [] for k in cases}
    for fn in cases.values():  # warm-up: compile every op once
        jax.block_until_ready(fn())
    for r in range(args.rounds):
        order = list(cases.items())
        for name, fn in order if r % 2 == 0 else reversed(order):
            t = time.perf_counter()
            jax.block_until_ready(fn())
            times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) * 1e6 / args.depth for k, v in times.items()}
    print(f"backend {jax.default_backend()}, jax {jax.__version__}, depth {args.depth}")
    print(
        f"\n### per layer, median of {args.rounds} alternating rounds (us; ratio to hand-written)\n"
    )
    print("| variant | us/layer |")
    print("|---|---:|")
    base = med["hand-written"]
    for k, v in med.items():
        print(f"| {k} | {v:.2f} ({v / base:.2f}x) |")


if __name__ == "__main__":
    main()
