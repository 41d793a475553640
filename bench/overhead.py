"""Python overhead of a deep MLP (DEPTH Linear layers of width 32, tanh), one process.

For each implementation: un-jitted init, tracing apply (jax.make_jaxpr of a fresh
function), un-jitted apply, and (up to --compile-max-depth) the compile time of
jit(init) and jit(apply) (lower + compile). Prints a markdown table with ratios to hand-written JAX.
hand-written JAX and minihaiku draw w from N(0, 1) and set b to zero; dm-haiku,
Flax (nnx) and Equinox use their own default initializers (as in the anchors).
Implementations whose library is not installed are skipped.

Usage: python bench/overhead.py [--depth 100 1000] [--impls pure minihaiku haiku flax equinox]
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import jax
import jax.numpy as jnp

W = 32


def best(f, n=3):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        jax.block_until_ready(f())
        ts.append(time.perf_counter() - t)
    return min(ts)


def pure(depth):
    def init(key):
        ks = jax.random.split(key, depth)
        return [(jax.random.normal(k, (W, W)), jnp.zeros((W,))) for k in ks]

    def apply(p, x):
        for w, b in p:
            x = jnp.tanh(x @ w + b)
        return x

    return init, apply


def minihaiku(depth):
    from minihaiku.core import transform
    from minihaiku.layers import MLP

    f = transform(
        lambda x: MLP(
            [W] * depth, activation=jnp.tanh, activate_final=True, w_init="normal", b_init="zeros"
        )(x)
    )
    x = jnp.ones((8, W))
    return (lambda k: f.init(k, x)), f.apply


def haiku(depth):
    import haiku as hk

    f = hk.without_apply_rng(
        hk.transform(
            lambda x: hk.nets.MLP([W] * depth, activation=jnp.tanh, activate_final=True)(x)
        )
    )
    x = jnp.ones((8, W))
    return (lambda k: f.init(k, x)), f.apply


def flax(depth):
    from flax import nnx

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.layers = nnx.List([nnx.Linear(W, W, rngs=rngs) for _ in range(depth)])

        def __call__(self, x):
            for layer in self.layers:
                x = jnp.tanh(layer(x))
            return x

    graphdef, _ = nnx.split(nnx.eval_shape(lambda: MLP(nnx.Rngs(0))))

    def init(k):
        return nnx.split(MLP(nnx.Rngs(k)))[1]

    return init, (lambda p, x: nnx.merge(graphdef, p)(x))


def equinox(depth):
    import equinox as eqx

    class MLP(eqx.Module):
        layers: list

        def __init__(self, key):
            self.layers = [eqx.nn.Linear(W, W, key=k) for k in jax.random.split(key, depth)]

        def __call__(self, x):
            for layer in self.layers:
                x = jnp.tanh(jax.vmap(layer)(x))
            return x

    def init(k):
        return eqx.filter(MLP(k), eqx.is_array)

    static = eqx.filter(MLP(jax.random.PRNGKey(0)), eqx.is_array, inverse=True)
    return init, (lambda p, x: eqx.combine(p, static)(x))


LIBS = {"haiku": "haiku", "flax": "flax", "equinox": "equinox"}


def measure_all(makers, depth, compile_times, repeats=5):
    """Best-of-``repeats`` times per implementation, repeats interleaved across them.

    Interleaving spreads the machine's drift over every implementation alike.
    """
    x = jnp.ones((8, W))
    key = jax.random.PRNGKey(0)
    built = {}
    for name, make in makers.items():
        init, apply = make(depth)
        built[name] = (init, apply, init(key))
    rows = {name: {} for name in makers}
    for _ in range(repeats):
        for name, (init, apply, p) in built.items():
            times = {
                "init": best(lambda init=init: init(key), n=1),
                "trace": best(
                    lambda apply=apply, p=p: jax.make_jaxpr(lambda p, x: apply(p, x))(p, x), n=1
                ),
                "apply": best(lambda apply=apply, p=p: apply(p, x), n=1),
            }
            for k, v in times.items():
                rows[name][k] = min(rows[name].get(k, float("inf")), v)
    if compile_times:
        for name, make in makers.items():
            init2, apply2 = make(depth)  # fresh functions: nothing cached
            p2 = init2(key)
            t = time.perf_counter()
            jax.jit(init2).lower(key).compile()
            rows[name]["jit init"] = time.perf_counter() - t
            t = time.perf_counter()
            jax.jit(apply2).lower(p2, x).compile()
            rows[name]["jit apply"] = time.perf_counter() - t
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats")
    parser.add_argument(
        "--compile-max-depth",
        type=int,
        default=100,
        help="measure jit compile times only up to this depth (XLA needs "
        "minutes for a 1000-layer init)",
    )
    parser.add_argument(
        "--impls", nargs="+", default=["pure", "minihaiku", "haiku", "flax", "equinox"]
    )
    args = parser.parse_args()
    impls = [n for n in args.impls if n not in LIBS or importlib.util.find_spec(LIBS[n])]
    skipped = sorted(set(args.impls) - set(impls))
    print(
        f"backend {jax.default_backend()}, jax {jax.__version__}, width {W}"
        + (f"; skipped (not installed): {', '.join(skipped)}" if skipped else "")
    )
    for depth in args.depth:
        rows = measure_all(
            {n: globals()[n] for n in impls}, depth, depth <= args.compile_max_depth, args.repeats
        )
        base = rows["pure"]
        print(f"\n### depth {depth} (seconds; ratio to hand-written JAX)\n")
        cols = list(base)
        print("| impl | " + " | ".join(cols) + " |")
        print("|---|" + "---:|" * len(cols))
        for n, r in rows.items():
            cells = [f"{r[c]:.4f} ({r[c] / base[c]:.2f}x)" for c in cols]
            print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
