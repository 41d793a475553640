"""A small CNN forward pass: minihaiku versus dm-haiku, Flax NNX, Equinox and hand-written JAX.

The network: Conv2D(16, 3) -> relu -> max_pool(2) -> Conv2D(32, 3) -> relu ->
max_pool(2) -> Flatten -> Linear(10), on a batch of 28x28x1 images. For each
implementation: un-jitted init, un-jitted apply, tracing apply (jax.make_jaxpr of
a fresh function), trace + compile of jit(apply) (lower + compile), and the jitted
apply per call. Prints a markdown table with ratios to hand-written JAX. Repeats
are interleaved across implementations so that machine drift hits all alike.
Equinox's layers take one channels-first example, so it runs vmapped on NCHW input.
Implementations whose library is not installed are skipped.

Usage: python bench/layers_convnet.py [--batch 64] [--repeats 5] [--calls 200]
    [--impls pure minihaiku haiku flax equinox]
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import jax
import jax.numpy as jnp
from jax import lax

H = 28
C1, C2, OUT = 16, 32, 10
FLAT = (H // 4) * (H // 4) * C2


def pure():
    dn = lax.conv_dimension_numbers((1, H, H, 1), (3, 3, 1, C1), ("NHWC", "HWIO", "NHWC"))

    def init(key):
        k1, k2, k3 = jax.random.split(key, 3)
        return {
            "c1w": jax.random.truncated_normal(k1, -2, 2, (3, 3, 1, C1)) / 3.0,
            "c1b": jnp.zeros((C1,)),
            "c2w": jax.random.truncated_normal(k2, -2, 2, (3, 3, C1, C2)) / (3.0 * C1**0.5),
            "c2b": jnp.zeros((C2,)),
            "lw": jax.random.truncated_normal(k3, -2, 2, (FLAT, OUT)) / FLAT**0.5,
            "lb": jnp.zeros((OUT,)),
        }

    def pool(x):
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    def apply(p, x):
        x = lax.conv_general_dilated(x, p["c1w"], (1, 1), "SAME", dimension_numbers=dn)
        x = pool(jax.nn.relu(x + p["c1b"]))
        x = lax.conv_general_dilated(x, p["c2w"], (1, 1), "SAME", dimension_numbers=dn)
        x = pool(jax.nn.relu(x + p["c2b"]))
        return x.reshape(x.shape[0], -1) @ p["lw"] + p["lb"]

    return init, apply, "NHWC"


def minihaiku():
    from minihaiku.core import transform
    from minihaiku.layers import Conv2D, Flatten, Linear, max_pool

    def net(x):
        x = max_pool(jax.nn.relu(Conv2D(C1, 3)(x)), 2, 2, "VALID")
        x = max_pool(jax.nn.relu(Conv2D(C2, 3)(x)), 2, 2, "VALID")
        return Linear(OUT)(Flatten()(x))

    f = transform(net)
    x = jnp.ones((1, H, H, 1))
    return (lambda k: f.init(k, x)), f.apply, "NHWC"


def haiku():
    import warnings

    import haiku as hk

    warnings.filterwarnings("ignore", category=DeprecationWarning)  # int window_shape

    def net(x):
        x = hk.max_pool(jax.nn.relu(hk.Conv2D(C1, 3)(x)), 2, 2, "VALID")
        x = hk.max_pool(jax.nn.relu(hk.Conv2D(C2, 3)(x)), 2, 2, "VALID")
        return hk.Linear(OUT)(hk.Flatten()(x))

    f = hk.without_apply_rng(hk.transform(net))
    x = jnp.ones((1, H, H, 1))
    return (lambda k: f.init(k, x)), f.apply, "NHWC"


def flax():
    from flax import nnx
    from flax.linen import max_pool

    class CNN(nnx.Module):
        def __init__(self, rngs):
            self.c1 = nnx.Conv(1, C1, (3, 3), rngs=rngs)
            self.c2 = nnx.Conv(C1, C2, (3, 3), rngs=rngs)
            self.lin = nnx.Linear(FLAT, OUT, rngs=rngs)

        def __call__(self, x):
            x = max_pool(jax.nn.relu(self.c1(x)), (2, 2), (2, 2))
            x = max_pool(jax.nn.relu(self.c2(x)), (2, 2), (2, 2))
            return self.lin(x.reshape(x.shape[0], -1))

    graphdef, _ = nnx.split(nnx.eval_shape(lambda: CNN(nnx.Rngs(0))))

    def init(k):
        return nnx.split(CNN(nnx.Rngs(k)))[1]

    return init, (lambda p, x: nnx.merge(graphdef, p)(x)), "NHWC"


def equinox():
    import equinox as eqx

    class CNN(eqx.Module):
        c1: eqx.nn.Conv2d
        c2: eqx.nn.Conv2d
        pool: eqx.nn.MaxPool2d
        lin: eqx.nn.Linear

        def __init__(self, key):
            k1, k2, k3 = jax.random.split(key, 3)
            self.c1 = eqx.nn.Conv2d(1, C1, 3, padding="SAME", key=k1)
            self.c2 = eqx.nn.Conv2d(C1, C2, 3, padding="SAME", key=k2)
            self.pool = eqx.nn.MaxPool2d(2, 2)
            self.lin = eqx.nn.Linear(FLAT, OUT, key=k3)

        def __call__(self, x):  # one example, CHW
            x = self.pool(jax.nn.relu(self.c1(x)))
            x = self.pool(jax.nn.relu(self.c2(x)))
            return self.lin(x.reshape(-1))

    static = eqx.filter(CNN(jax.random.PRNGKey(0)), eqx.is_array, inverse=True)

    def init(k):
        return eqx.filter(CNN(k), eqx.is_array)

    return init, (lambda p, x: jax.vmap(eqx.combine(p, static))(x)), "NCHW"


LIBS = {"haiku": "haiku", "flax": "flax", "equinox": "equinox"}


def once(f):
    t = time.perf_counter()
    jax.block_until_ready(f())
    return time.perf_counter() - t


def per_call(fn, args, calls):
    jax.block_until_ready(fn(*args))
    t = time.perf_counter()
    for _ in range(calls):
        out = fn(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - t) / calls


def measure_all(makers, batch, repeats, calls):
    key = jax.random.PRNGKey(0)
    nhwc = jax.random.normal(jax.random.PRNGKey(1), (batch, H, H, 1))
    inputs = {"NHWC": nhwc, "NCHW": jnp.transpose(nhwc, (0, 3, 1, 2))}
    built = {}
    for name, make in makers.items():
        init, apply, layout = make()
        x = inputs[layout]
        p = init(key)
        jax.block_until_ready(apply(p, x))  # warm the op caches
        built[name] = (init, apply, p, x, jax.jit(apply))
    rows = {name: {} for name in makers}
    for _ in range(repeats):
        for name, make in makers.items():
            init, apply, p, x, jitted = built[name]
            fresh_init, fresh_apply, _ = make()  # a fresh function: nothing cached
            fresh_p = fresh_init(key)
            fresh = jax.jit(lambda p, x, f=fresh_apply: f(p, x))
            times = {
                "init": once(lambda init=init: init(key)),
                "apply": once(lambda apply=apply, p=p, x=x: apply(p, x)),
                "trace": once(
                    lambda apply=apply, p=p, x=x: jax.make_jaxpr(lambda p, x: apply(p, x))(p, x)
                ),
                "trace+compile": once(
                    lambda f=fresh, p=fresh_p, x=x: f.lower(p, x).compile() and None
                ),
                "jitted apply": per_call(jitted, (p, x), calls),
            }
            for k, v in times.items():
                rows[name][k] = min(rows[name].get(k, float("inf")), v)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats")
    parser.add_argument("--calls", type=int, default=200, help="calls per jitted timing")
    parser.add_argument(
        "--impls", nargs="+", default=["pure", "minihaiku", "haiku", "flax", "equinox"]
    )
    args = parser.parse_args()
    impls = [n for n in args.impls if n not in LIBS or importlib.util.find_spec(LIBS[n])]
    skipped = sorted(set(args.impls) - set(impls))
    print(
        f"backend {jax.default_backend()}, jax {jax.__version__}, batch {args.batch} x "
        f"{H}x{H}x1, best of {args.repeats}"
        + (f"; skipped (not installed): {', '.join(skipped)}" if skipped else "")
    )
    rows = measure_all({n: globals()[n] for n in impls}, args.batch, args.repeats, args.calls)
    base = rows["pure"]
    cols = list(base)
    print("\n### small CNN forward (seconds; ratio to hand-written JAX)\n")
    print("| impl | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for n, r in rows.items():
        cells = [f"{r[c]:.2e} ({r[c] / base[c]:.2f}x)" for c in cols]
        print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
