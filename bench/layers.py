"""A transformer block and ResNet18: minihaiku, dm-haiku, Flax NNX, Equinox, hand-written JAX.

One process. For each model and implementation: un-jitted init, un-jitted
apply, tracing apply (jax.make_jaxpr of a fresh function), compile time of
jit(apply) and of jit(train step) (lower + compile of fresh functions, one
measurement each), and the jitted train step per call after warm-up
(value_and_grad of a loss plus an SGD update, parameters fed back in). The
un-jitted columns and the train step are best of --repeats, the repeats
interleaved across the implementations so that machine drift hits all alike.
Prints one markdown table per model with ratios to the reference row:
hand-written JAX for the transformer block, dm-haiku for ResNet18 (no
hand-written ResNet18 here). Implementations whose library is not installed
are skipped. The models are defined in bench/layers_models.py.

Usage: python bench/layers.py [--model transformer resnet18] [--repeats 3]
       [--calls 5] [--impls pure minihaiku haiku flax equinox]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import layers_models as m

LR = 1e-3
IMPLS = ["pure", "minihaiku", "haiku", "flax", "equinox"]
LIBS = {"minihaiku": "minihaiku.layers", "haiku": "haiku", "flax": "flax", "equinox": "equinox"}
REFERENCE = {"transformer": "pure", "resnet18": "haiku"}
COLS = ["init", "apply", "trace", "compile apply", "compile step", "train step"]


def data(model: str) -> tuple[jax.Array, jax.Array]:
    """Inputs and targets: regression targets for the block, one-hot labels for ResNet18."""
    kx, ky = jax.random.split(jax.random.PRNGKey(1))
    if model == "transformer":
        shape = (m.B, m.T, m.D)
        return jax.random.normal(kx, shape), jax.random.normal(ky, shape)
    labels = jax.random.randint(ky, (m.IMAGE[0],), 0, m.CLASSES)
    return jax.random.normal(kx, m.IMAGE), jax.nn.one_hot(labels, m.CLASSES)


def loss(model: str, out: jax.Array, y: jax.Array) -> jax.Array:
    if model == "transformer":
        return jnp.mean(jnp.square(out - y))
    return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(out), axis=-1))


def train_step(model: str, apply: Callable[..., Any]) -> Callable[..., Any]:
    def step(params: Any, state: Any, x: jax.Array, y: jax.Array) -> Any:
        def f(p: Any) -> tuple[jax.Array, Any]:
            out, new_state = apply(p, state, x)
            return loss(model, out, y), new_state

        (value, new_state), grads = jax.value_and_grad(f, has_aux=True)(params)
        params = jax.tree_util.tree_map(lambda p, g: p - LR * g, params, grads)
        return params, new_state, value

    return step


def seconds(f: Callable[[], Any]) -> float:
    t = time.perf_counter()
    jax.block_until_ready(f())
    return time.perf_counter() - t


def trace(apply: Callable[..., Any], *args: Any) -> Any:
    """The jaxpr of a fresh function calling ``apply``: nothing cached by jax."""
    return jax.make_jaxpr(lambda *a: apply(*a))(*args)


def warm_up_compiler() -> None:
    """The first compilations in a process pay XLA's one-time set-up: pay it here, untimed."""

    def f(w: jax.Array, x: jax.Array) -> jax.Array:
        y = jax.lax.conv_general_dilated(
            x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        return jnp.sum(jax.nn.softmax(jax.nn.gelu(y)) * jnp.tanh(y @ w[0, 0]))

    w, x = jnp.ones((3, 3, 4, 4)), jnp.ones((2, 8, 8, 4))
    jax.jit(jax.value_and_grad(f)).lower(w, x).compile()


def measure(
    model: str, impls: list[str], repeats: int, calls: int, compiled: bool = True
) -> dict[str, dict[str, float]]:
    x, y = data(model)
    key = jax.random.PRNGKey(0)
    makers = {n: getattr(m, f"{model}_{n}") for n in impls}
    built = {n: make() for n, make in makers.items()}
    variables = {n: impl.init(key) for n, impl in built.items()}
    shapes = {n: impl.apply(*variables[n], x)[0].shape for n, impl in built.items()}  # warm-up
    if len(set(shapes.values())) != 1:
        raise SystemExit(f"{model}: the implementations' outputs differ in shape: {shapes}")
    rows: dict[str, dict[str, float]] = {n: {} for n in impls}

    def keep(n: str, col: str, t: float) -> None:
        rows[n][col] = min(rows[n].get(col, float("inf")), t)

    for _ in range(repeats):
        for n, impl in built.items():
            p, s = variables[n]
            keep(n, "init", seconds(lambda impl=impl: impl.init(key)))
            keep(n, "apply", seconds(lambda impl=impl, p=p, s=s: impl.apply(p, s, x)))
            keep(n, "trace", seconds(lambda impl=impl, p=p, s=s: trace(impl.apply, p, s, x)))
    if not compiled:
        return rows
    steps, start = {}, {}
    for n, make in makers.items():
        fresh = make()  # fresh functions (and classes): nothing cached from the runs above
        p, s = start[n] = fresh.init(key)
        t = time.perf_counter()
        jax.jit(fresh.apply).lower(p, s, x).compile()
        rows[n]["compile apply"] = time.perf_counter() - t
        t = time.perf_counter()
        steps[n] = jax.jit(train_step(model, fresh.apply)).lower(p, s, x, y).compile()
        rows[n]["compile step"] = time.perf_counter() - t
    current = {}
    for n, step in steps.items():
        current[n] = step(*start[n], x, y)  # warm-up
        if not bool(jnp.isfinite(current[n][2])):
            raise SystemExit(f"{model}/{n}: the train step's loss is not finite")
    for _ in range(repeats):
        for n, step in steps.items():
            p, s, _ = current[n]
            t = time.perf_counter()
            for _ in range(calls):
                p, s, value = step(p, s, x, y)
            jax.block_until_ready(value)
            keep(n, "train step", (time.perf_counter() - t) / calls)
            current[n] = (p, s, value)
    return rows


CAPTIONS = {
    "transformer": (
        "Transformer block (pre-LayerNorm, {h}-head causal self-attention, gelu MLP "
        "of width {d4}, residuals), batch {b}, sequence {t}, model size {d}; "
        "milliseconds, ratio to {ref}."
    ),
    "resnet18": (
        "ResNet18 (v1) on {image} NHWC, {classes} classes, batch norm in training mode; "
        "milliseconds, ratio to {ref} (there is no hand-written ResNet18: dm-haiku is the "
        "reference row)."
    ),
}


def table(model: str, rows: dict[str, dict[str, float]], ref: str, note: str) -> None:
    names = {"pure": "hand-written JAX", "haiku": "dm-haiku", "flax": "Flax NNX"}
    caption = CAPTIONS[model].format(
        h=m.H, d4=4 * m.D, b=m.B, t=m.T, d=m.D, image=m.IMAGE, classes=m.CLASSES,
        ref=names.get(ref, ref),
    )  # fmt: skip
    print(f"\n### {model}\n\n{caption}{note}\n")
    base = rows[ref]
    cols = [c for c in COLS if c in base]
    print("| impl | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for n, r in sorted(rows.items(), key=lambda item: item[0] != ref):  # reference first
        cells = [f"{r[c] * 1e3:.1f} ({r[c] / base[c]:.2f}x)" for c in cols]
        print(f"| {names.get(n, n)} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", default=["transformer", "resnet18"])
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats")
    parser.add_argument("--calls", type=int, default=3, help="train-step calls per repeat")
    parser.add_argument("--impls", nargs="+", default=IMPLS)
    parser.add_argument(
        "--uncompiled-only", action="store_true", help="only init, apply and trace (no jit)"
    )
    args = parser.parse_args()
    for model in args.model:
        if model not in REFERENCE:
            parser.error(f"unknown model {model!r}; choose from {', '.join(REFERENCE)}")
    missing = [n for n in args.impls if n in LIBS and not _importable(LIBS[n])]
    print(
        f"backend {jax.default_backend()}, jax {jax.__version__}; best of {args.repeats} "
        f"interleaved repeats, train step: {args.calls} calls per repeat"
        + (f"; skipped (not installed): {', '.join(missing)}" if missing else "")
    )
    if not args.uncompiled_only:
        warm_up_compiler()
    for model in args.model:
        impls = [n for n in args.impls if n not in missing and hasattr(m, f"{model}_{n}")]
        if (
            model == "resnet18"
            and "minihaiku" in impls
            and not _importable("minihaiku.layers.nets")
        ):
            impls.remove("minihaiku")
            missing_here = ["minihaiku (no minihaiku.layers.nets in this checkout)"]
        else:
            missing_here = []
        note = f" Not run: {', '.join(missing_here)}." if missing_here else ""
        if not impls:
            print(f"\n### {model}\n\nno implementation to run.{note}")
            continue
        ref = REFERENCE[model] if REFERENCE[model] in impls else impls[0]
        rows = measure(model, impls, args.repeats, args.calls, not args.uncompiled_only)
        table(model, rows, ref, note)


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


if __name__ == "__main__":
    main()
