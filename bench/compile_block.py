"""Compile time of ``jit(apply)`` of the transformer block, and where minihaiku's program differs.

Implementations: the hand-written block of bench/layers_models.py; the same
hand-written block with the math minihaiku.layers (and dm-haiku) use: the
variance by ``jnp.var`` and ``scale * rsqrt(var + eps) * (x - mean) + offset``
in LayerNorm, a (1, 1, T, T) mask and ``...``-einsums in the attention;
minihaiku; dm-haiku. Each round lowers and compiles a fresh ``jax.jit`` of
every implementation (the order flips every round); medians of ``ROUNDS``
(default 5). Then compares the StableHLO of minihaiku with the hand-written
block with the layers' math (locations stripped) and prints the diff.

Usage: python bench/compile_block.py [ROUNDS]
"""

import difflib
import statistics
import sys
import time
import warnings

import jax
import jax.numpy as jnp
import layers_models as m
import numpy as np
from haiku_models import strip

warnings.simplefilter("ignore")

B, T, D, H = m.B, m.T, m.D, m.H


def pure_like_layers():
    base = m.transformer_pure()

    def layer_norm(p, x):
        mean = jnp.mean(x, axis=-1, keepdims=True)
        var = jnp.var(x, axis=-1, keepdims=True)
        inv = p["scale"] * jax.lax.rsqrt(var + jax.lax.convert_element_type(1e-5, var.dtype))
        return inv * (x - mean) + p["offset"]

    def linear(p, x):
        return jnp.matmul(x, p["w"]) + p["b"]

    def apply(p, x):
        b, t, _ = x.shape
        k = D // H
        mask = jnp.tril(jnp.ones((1, 1, t, t), bool))
        h = layer_norm(p["ln1"], x)
        q, kk, v = (linear(p[n], h).reshape(b, t, H, k) for n in ("q", "k", "v"))
        logits = jnp.einsum("...thd,...Thd->...htT", q, kk) / np.sqrt(k).astype(x.dtype)
        logits = jnp.where(mask, logits, -1e30)
        attn = jnp.einsum("...htT,...Thd->...thd", jax.nn.softmax(logits), v).reshape(b, t, D)
        x = x + linear(p["o"], attn)
        h = layer_norm(p["ln2"], x)
        return x + linear(p["fc2"], jax.nn.gelu(linear(p["fc1"], h)))

    return base.init, lambda p, s, x: (apply(p, x), s)


def compile_once(built: dict, name: str) -> tuple[float, float, str]:
    apply, p, s = built[name]
    f = jax.jit(lambda p, s, x: apply(p, s, x))
    x = jnp.ones((B, T, D))
    t0 = time.perf_counter()
    lowered = f.lower(p, s, x)
    t1 = time.perf_counter()
    lowered.compile()
    return t1 - t0, time.perf_counter() - t1, lowered.as_text()


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    impls = {
        "hand-written": m.transformer_pure(),
        "hand-written, layers' math": pure_like_layers(),
        "minihaiku": m.transformer_minihaiku(),
        "dm-haiku": m.transformer_haiku(),
    }
    built = {}
    for name, (init, apply) in impls.items():
        p, s = init(jax.random.PRNGKey(0))
        built[name] = (apply, p, s)
    for name in built:  # warm-up: JAX's own first-use costs
        compile_once(built, name)
    samples: dict[str, list[tuple[float, float, float]]] = {n: [] for n in built}
    for r in range(rounds):
        for name in list(built) if r % 2 == 0 else list(reversed(built)):
            lo, co, _ = compile_once(built, name)
            samples[name].append((lo, co, lo + co))
    ref = statistics.median(t for *_, t in samples["hand-written"])
    texts = {n: strip(compile_once(built, n)[2]) for n in built}
    print(f"### compile of jit(apply), transformer block (median of {rounds} alternating rounds)\n")
    print("| impl | lower (ms) | compile (ms) | total (ms) | / hand-written | StableHLO lines |")
    print("|---|---:|---:|---:|---:|---:|")
    for n, v in samples.items():
        lo, co, t = (statistics.median(x[i] for x in v) for i in range(3))
        lines = len(texts[n].splitlines())
        print(
            f"| {n} | {lo * 1e3:.1f} | {co * 1e3:.1f} | {t * 1e3:.1f} | {t / ref:.2f}x | {lines} |"
        )
    ours, theirs = texts["minihaiku"], texts["hand-written, layers' math"]
    print(
        "\nminihaiku's StableHLO == the hand-written block with the layers' math:", ours == theirs
    )
    diff = difflib.unified_diff(theirs.splitlines(), ours.splitlines(), lineterm="", n=0)
    print("\n".join(list(diff)[:40]))


if __name__ == "__main__":
    main()
