"""The same hk program on dm-haiku and on minihaiku.haiku: issue 18's speed table.

Each model is one program written for ``hk`` and built twice, once with
``import haiku as hk`` and once with ``import minihaiku.haiku as hk`` (nothing
else differs). Models: a dm-haiku MLP (``hk.nets.MLP([256, 256, 256, 10])``
on (8, 64) inputs, the program of bench/haiku_mlp.py), a pre-LayerNorm
transformer block (bench/layers_models.py's, batch 8 x 128, d_model 256, 4
heads) and ``hk.nets.ResNet18`` (4 x 32 x 32 x 3, training mode, state).

Columns: un-jitted ``init``, un-jitted ``apply``, tracing (``jax.make_jaxpr``
of a fresh function calling ``apply``), the jitted train step per call
(value_and_grad of a loss plus an SGD update, params fed back in), and whether
the two jitted train steps lower to the same StableHLO once locations and
metadata are stripped (and, where not, which ops differ in number, and whether
XLA's optimized programs are the same once instructions are renamed in order).
For each model a third row, the same math hand-written in JAX
(bench/layers_models.py's block; bench/haiku_resnet18.py's ResNet18, checked
against dm-haiku's outputs; their own initializers), is the floor: the
arithmetic, dispatches and tracing no library on top of JAX can skip. Every
timing is the median of ``--repeats`` rounds; in each round the libraries run
one after the other (the order flips every round) in this one process, so
machine drift hits all alike; a round's figure is the best of ``--calls``
calls. The range of the rounds' ratios is printed as the noise.

Usage: python bench/haiku_models.py [--models mlp transformer resnet18]
       [--repeats 7] [--calls 5] [--show-diff]
"""

from __future__ import annotations

import argparse
import collections
import difflib
import re
import statistics
import time
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

import jax
import jax.numpy as jnp

warnings.simplefilter("ignore")

import haiku  # noqa: E402

import minihaiku.haiku as mhk  # noqa: E402

B, T, D, H = 8, 128, 256, 4
IMAGE = (4, 32, 32, 3)
CLASSES = 10
LR = 1e-3
LIBS = {"dm-haiku": haiku, "minihaiku.haiku": mhk}
COLS = ["init", "apply", "trace", "train step"]
HAND = "hand-written JAX"


# ------------------------------------------------------------ the hk programs


def mlp(hk: ModuleType, x: jax.Array, is_training: bool) -> jax.Array:
    del is_training
    return hk.nets.MLP([256, 256, 256, 10])(x)


def transformer(hk: ModuleType, x: jax.Array, is_training: bool) -> jax.Array:
    del is_training
    t = x.shape[-2]
    mask = jnp.tril(jnp.ones((1, 1, t, t), bool))
    h = hk.LayerNorm(axis=-1, create_scale=True, create_offset=True)(x)
    attn = hk.MultiHeadAttention(
        num_heads=H, key_size=D // H, w_init=hk.initializers.VarianceScaling(1.0)
    )
    x = x + attn(h, h, h, mask)
    h = hk.LayerNorm(axis=-1, create_scale=True, create_offset=True)(x)
    return x + hk.nets.MLP([4 * D, D], activation=jax.nn.gelu)(h)


def resnet18(hk: ModuleType, x: jax.Array, is_training: bool) -> jax.Array:
    return hk.nets.ResNet18(CLASSES)(x, is_training=is_training)


MODELS: dict[str, tuple[Callable[..., jax.Array], tuple[int, ...], tuple[int, ...]]] = {
    "mlp": (mlp, (8, 64), (8, 10)),
    "transformer": (transformer, (B, T, D), (B, T, D)),
    "resnet18": (resnet18, IMAGE, (IMAGE[0], CLASSES)),
}


class Built:
    """One library's transformed program with its params, state and inputs."""

    def __init__(self, hk: ModuleType, model: str) -> None:
        fn, x_shape, y_shape = MODELS[model]
        kx, ky = jax.random.split(jax.random.PRNGKey(1))
        self.x = jax.random.normal(kx, x_shape)
        self.y = jax.random.normal(ky, y_shape)
        self.key = jax.random.PRNGKey(0)
        self.f = hk.without_apply_rng(
            hk.transform_with_state(lambda x, is_training=True: fn(hk, x, is_training))
        )
        self.params, self.state = self.f.init(self.key, self.x)
        apply = self.f.apply

        def step(params: Any, state: Any, x: jax.Array, y: jax.Array) -> Any:
            def loss(p: Any) -> tuple[jax.Array, Any]:
                out, new_state = apply(p, state, x)
                return jnp.mean(jnp.square(out - y)), new_state

            (value, new_state), grads = jax.value_and_grad(loss, has_aux=True)(params)
            params = jax.tree_util.tree_map(lambda p, g: p - LR * g, params, grads)
            return params, new_state, value

        self.step_fn = step
        self.step = jax.jit(step)
        self.carry = self.step(self.params, self.state, self.x, self.y)[:2]
        jax.block_until_ready(self.carry)

    def init(self) -> None:
        jax.block_until_ready(self.f.init(self.key, self.x))

    def apply(self) -> None:
        jax.block_until_ready(self.f.apply(self.params, self.state, self.x))

    def trace(self) -> None:
        apply = self.f.apply
        jax.make_jaxpr(lambda p, s, x: apply(p, s, x))(self.params, self.state, self.x)

    def train_step(self) -> None:
        params, state, _ = self.step(*self.carry, self.x, self.y)
        self.carry = jax.block_until_ready((params, state))

    def stablehlo(self) -> str:
        return strip(self.step.lower(self.params, self.state, self.x, self.y).as_text())

    def compiled(self) -> str:
        lowered = self.step.lower(self.params, self.state, self.x, self.y)
        return canonical(lowered.compile().as_text())


class HandWritten:
    """The floor: the same math hand-written (bench/layers_models.py's block; an MLP;
    bench/haiku_resnet18.py's ResNet18)."""

    def __init__(self, model: str) -> None:
        import layers_models

        _, x_shape, y_shape = MODELS[model]
        kx, ky = jax.random.split(jax.random.PRNGKey(1))
        self.x = jax.random.normal(kx, x_shape)
        self.y = jax.random.normal(ky, y_shape)
        self.key = jax.random.PRNGKey(0)
        if model == "transformer":
            impl = layers_models.transformer_pure()
            self._init, apply = impl.init, impl.apply
        elif model == "resnet18":
            import haiku_resnet18

            x = self.x
            self._init, apply = lambda key: haiku_resnet18.init(key, x), haiku_resnet18.apply
        else:
            sizes = (x_shape[-1], 256, 256, 256, 10)  # the MLP

            def init(key: jax.Array) -> tuple[Any, Any]:
                keys = jax.random.split(key, len(sizes) - 1)
                return [
                    (jax.random.truncated_normal(k, -2.0, 2.0, (a, b)) / a**0.5, jnp.zeros(b))
                    for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)
                ], {}

            def apply(params: Any, state: Any, x: jax.Array) -> tuple[jax.Array, Any]:
                for i, (w, b) in enumerate(params):
                    x = x @ w + b
                    if i < len(params) - 1:
                        x = jax.nn.relu(x)
                return x, state

            self._init = init
        self.apply_fn = apply
        self.params, self.state = self._init(self.key)

        def step(params: Any, state: Any, x: jax.Array, y: jax.Array) -> Any:
            def loss(p: Any) -> tuple[jax.Array, Any]:
                out, new_state = apply(p, state, x)
                return jnp.mean(jnp.square(out - y)), new_state

            (value, new_state), grads = jax.value_and_grad(loss, has_aux=True)(params)
            params = jax.tree_util.tree_map(lambda p, g: p - LR * g, params, grads)
            return params, new_state, value

        self.step = jax.jit(step)
        self.carry = self.step(self.params, self.state, self.x, self.y)[:2]

    def init(self) -> None:
        jax.block_until_ready(self._init(self.key))

    def apply(self) -> None:
        jax.block_until_ready(self.apply_fn(self.params, self.state, self.x))

    def trace(self) -> None:
        apply = self.apply_fn
        jax.make_jaxpr(lambda p, s, x: apply(p, s, x))(self.params, self.state, self.x)

    def train_step(self) -> None:
        params, state, _ = self.step(*self.carry, self.x, self.y)
        self.carry = jax.block_until_ready((params, state))


LOC = re.compile(r"\s*loc\((?:[^()]|\([^()]*\))*\)")


def strip(text: str) -> str:
    """StableHLO text without locations, metadata attributes and the module's name."""
    lines = []
    for line in text.splitlines():
        if line.startswith("#loc") or not line.strip():
            continue
        line = LOC.sub("", line)
        line = re.sub(r"module @\S+", "module @m", line)
        line = re.sub(r" attributes \{mhlo\.[^}]*\}", "", line)
        lines.append(line.rstrip())
    return "\n".join(lines)


HLO_LINE = re.compile(r"\s*(ROOT )?%\S+ = |ENTRY |HloModule |}|%\S+ \(")


def canonical(text: str) -> str:
    """Optimized HLO text without metadata, with instructions renamed in order of appearance."""
    text = re.sub(r",? ?metadata=\{[^}]*\}|,? ?stack_frame_id=\d+", "", text)
    text = re.sub(r"HloModule \S+", "HloModule m", text)
    kept = [line.rstrip() for line in text.splitlines() if HLO_LINE.match(line)]
    text = re.sub(r"[\w.\-]+: ", "", "\n".join(kept))  # computations' parameter names
    names: dict[str, str] = {}
    return re.sub(r"%[\w.\-]+", lambda m: names.setdefault(m.group(0), f"%v{len(names)}"), text)


def op_counts(text: str) -> collections.Counter[str]:
    return collections.Counter(re.findall(r"= (?:\(.*?\) = )?\"?([a-z_]+\.[a-z_]+)", text))


def best(fn: Callable[[], None], calls: int) -> float:
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(model: str, repeats: int, calls: int, show_diff: bool) -> None:
    built: dict[str, Any] = {name: Built(hk, model) for name, hk in LIBS.items()}
    built[HAND] = HandWritten(model)
    for b in built.values():  # warm-up
        b.init(), b.apply(), b.trace(), b.train_step()
    samples: dict[tuple[str, str], list[float]] = {(n, c): [] for n in built for c in COLS}
    ratios: dict[str, list[float]] = {c: [] for c in COLS}
    floor: dict[str, list[float]] = {c: [] for c in COLS}
    for r in range(repeats):
        names = list(built) if r % 2 == 0 else list(reversed(built))
        this: dict[tuple[str, str], float] = {}
        for col in COLS:
            for name in names:
                b = built[name]
                fn = {"init": b.init, "apply": b.apply, "trace": b.trace}.get(col, b.train_step)
                this[(name, col)] = best(fn, calls if col != "train step" else 20 * calls)
        for key, value in this.items():
            samples[key].append(value)
        for col in COLS:
            ratios[col].append(this[("minihaiku.haiku", col)] / this[("dm-haiku", col)])
            if HAND in built:
                floor[col].append(this[(HAND, col)] / this[("dm-haiku", col)])
    hlo = {name: built[name].stablehlo() for name in LIBS}
    same = hlo["dm-haiku"] == hlo["minihaiku.haiku"]
    n_lines = len(hlo["dm-haiku"].splitlines()), len(hlo["minihaiku.haiku"].splitlines())
    compiled = {name: built[name].compiled() for name in LIBS}
    same_compiled = compiled["dm-haiku"] == compiled["minihaiku.haiku"]
    counts = {name: op_counts(text) for name, text in hlo.items()}
    ops = sorted(set(counts["dm-haiku"]) | set(counts["minihaiku.haiku"]))
    delta = {
        op: counts["minihaiku.haiku"][op] - counts["dm-haiku"][op]
        for op in ops
        if counts["minihaiku.haiku"][op] != counts["dm-haiku"][op]
    }
    print(f"\n### {model} (median of {repeats} alternating rounds, best of {calls} calls each)\n")
    print("| library | init (ms) | apply (ms) | trace (ms) | train step (us) |")
    print("|---|---:|---:|---:|---:|")
    scale = {"init": 1e3, "apply": 1e3, "trace": 1e3, "train step": 1e6}
    for name in built:
        cells = [f"{statistics.median(samples[(name, c)]) * scale[c]:.2f}" for c in COLS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    rows = {"minihaiku.haiku / dm-haiku (rounds' range)": ratios}
    if HAND in built:
        rows["hand-written / dm-haiku: the floor (rounds' range)"] = floor
    for label, values in rows.items():
        cells = [
            f"{statistics.median(values[c]):.2f}x ({min(values[c]):.2f}-{max(values[c]):.2f})"
            for c in COLS
        ]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print(
        f"\nSame StableHLO of the jitted train step: {'yes' if same else 'NO'} "
        f"({n_lines[0]} / {n_lines[1]} lines); ops minihaiku.haiku - dm-haiku: "
        f"{', '.join(f'{op} {d:+d}' for op, d in delta.items()) or 'none'}; "
        f"same compiled (XLA-optimized) program, renamed: {'yes' if same_compiled else 'NO'}"
    )
    if not same and show_diff:
        diff = difflib.unified_diff(
            hlo["dm-haiku"].splitlines(),
            hlo["minihaiku.haiku"].splitlines(),
            "dm-haiku",
            "minihaiku.haiku",
            lineterm="",
            n=1,
        )
        print("\n```diff\n" + "\n".join(list(diff)[:200]) + "\n```")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--show-diff", action="store_true", help="print the StableHLO diff")
    args = parser.parse_args()
    print(f"JAX {jax.__version__}, {jax.default_backend()}, dm-haiku {haiku.__version__}")
    for model in args.models:
        measure(model, args.repeats, args.calls, args.show_diff)


if __name__ == "__main__":
    main()
