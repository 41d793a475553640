"""float32 vs bfloat16 compute: a small transformer language model trained with train().

The model (Embed, pre-norm blocks of MultiHeadAttention and an MLP with
LayerNorm, a final LayerNorm and an output Linear) is trained with adam on
random token sequences, once with no policy (float32) and once with the
policy "params=float32,compute=bfloat16,output=float32" set on it (the
LayerNorms keep their float32 default). For each: steps per second of
``train`` (compilation excluded, best of ``--repeats``), the temp bytes XLA
allocates for one compiled training step (``memory_analysis``), and the
loss after the run. On CPU, XLA has few native bfloat16 kernels, so bfloat16
compute is mainly a memory figure there; the speed gain needs a GPU or TPU.

A second table trains the repository's character-level transformer LM
(examples/char_lm.py: dropout, learned positions, real text windows, the
example's default sizes) the same two ways, with its ``--compute`` policy.

Usage: python bench/precision.py [--steps 100] [--layers 2] [--model 64] [--seq 32]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minihaiku.core import Module, Policy, policy_scope, transform
from minihaiku.layers import MLP, Embed, LayerNorm, Linear, MultiHeadAttention
from minihaiku.training import softmax_cross_entropy, train

BF16_POLICY = "params=float32,compute=bfloat16,output=float32"
#: dm-haiku's ``w_init_scale=1.0`` of MultiHeadAttention.
W_INIT = jax.nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal")


class TinyLM(Module):
    """A pre-norm decoder-only transformer: tokens (B, T) -> logits (B, T, vocab)."""

    def __init__(
        self, vocab: int, model: int, heads: int, layers: int, name: str | None = None
    ) -> None:
        super().__init__(name=name)
        self.vocab, self.model, self.heads, self.layers = vocab, model, heads, layers

    def __call__(self, tokens: jax.Array) -> jax.Array:
        seq = tokens.shape[-1]
        h = Embed(self.vocab, self.model)(tokens)
        mask = jnp.tril(jnp.ones((1, 1, seq, seq)))
        for _ in range(self.layers):
            x = LayerNorm(-1, True, True)(h)
            attn = MultiHeadAttention(
                self.heads, self.model // self.heads, w_init=W_INIT, model_size=self.model
            )
            h = h + attn(x, x, x, mask=mask)
            x = LayerNorm(-1, True, True)(h)
            h = h + MLP([4 * self.model, self.model], activation=jax.nn.gelu)(x)
        return Linear(self.vocab)(LayerNorm(-1, True, True)(h))


def make_lm(vocab: int = 32, model: int = 32, heads: int = 4, layers: int = 2) -> Any:
    """The transformed LM: ``apply(params, tokens) -> logits``."""
    return transform(lambda tokens: TinyLM(vocab, model, heads, layers)(tokens))


def lm_data(vocab: int, batch: int, seq: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random token sequences and their next tokens (inputs, targets)."""
    tokens = np.random.default_rng(seed).integers(0, vocab, (batch, seq + 1), dtype=np.int32)
    return tokens[:, :-1], tokens[:, 1:]


def temp_bytes(model: Any, params: Any, data: Any) -> int:
    """Temp bytes XLA allocates for one compiled adam step of ``model``."""
    loss = softmax_cross_entropy(model)
    opt = optax.adam(1e-3)

    def step(p: Any, s: Any, batch: Any) -> Any:
        g = jax.grad(lambda p, b: loss(p, b)[0])(p, batch)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s

    compiled = jax.jit(step).lower(params, opt.init(params), data).compile()
    return int(compiled.memory_analysis().temp_size_in_bytes)


def run(args: argparse.Namespace, policy: str | None) -> dict[str, float]:
    model = make_lm(args.vocab, args.model, args.heads, args.layers)
    data = lm_data(args.vocab, args.batch, args.seq)
    with policy_scope(*((TinyLM, policy) if policy else ())):
        params = model.init(0, data[0])
        best, last = 0.0, float("nan")
        for _ in range(args.repeats):
            result = train(
                softmax_cross_entropy(model),
                params,
                data,
                optax.adam(1e-3),
                args.steps,
                progress=False,
            )
            best, last = max(best, result.steps_per_second), result.final_loss
        memory = temp_bytes(model, params, data)
    return {"steps_per_second": best, "temp_bytes": memory, "final_loss": last}


def load_char_lm() -> Any:
    """examples/char_lm.py, loaded by path."""
    path = Path(__file__).parents[1] / "examples" / "char_lm.py"
    spec = importlib.util.spec_from_file_location("char_lm", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["char_lm"] = module
    spec.loader.exec_module(module)
    return module


def run_char_lm(args: argparse.Namespace, compute: str) -> dict[str, float]:
    """The char LM example's model on its text: steps/s, step temp bytes, final loss."""
    lm = load_char_lm()
    vocab, tokens, _ = lm.load_text()
    config = lm.Config(vocab_size=len(vocab))
    model = lm.build_model(config)
    stream = lm.batches(tokens, config.seq_len, 32, seed=0)
    data = [next(stream) for _ in range(args.steps)]
    policy = None if compute == "float32" else Policy("float32", compute, "float32")
    with policy_scope(*((lm.CharTransformer, policy) if policy is not None else ())):
        params = jax.jit(model.init)(jax.random.key(0), data[0][0])
        loss = softmax_cross_entropy(model, rng=True)
        best, last = 0.0, float("nan")
        for _ in range(args.repeats):
            result = train(loss, params, iter(data), optax.adam(1e-3), args.steps, progress=False)
            best, last = max(best, result.steps_per_second), result.final_loss
        opt = optax.adam(1e-3)

        def step(p: Any, s: Any, batch: Any) -> Any:
            g = jax.grad(lambda p, b: loss(p, b, jax.random.key(0))[0])(p, batch)
            u, s = opt.update(g, s, p)
            return optax.apply_updates(p, u), s

        compiled = jax.jit(step).lower(params, opt.init(params), data[0]).compile()
        memory = int(compiled.memory_analysis().temp_size_in_bytes)
    return {"steps_per_second": best, "temp_bytes": memory, "final_loss": last}


def table(rows: list[tuple[str, dict[str, float]]]) -> None:
    """Prints the rows as a markdown table, ratios to the first row."""
    base = rows[0][1]
    print("| compute | steps/s | vs float32 | step temp memory | vs float32 | final loss |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(
            f"| {name} | {r['steps_per_second']:,.1f} | "
            f"{r['steps_per_second'] / base['steps_per_second']:.2f}x | "
            f"{r['temp_bytes'] / 2**20:,.2f} MiB | {r['temp_bytes'] / base['temp_bytes']:.2f}x | "
            f"{r['final_loss']:.4f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--vocab", type=int, default=64)
    parser.add_argument("--model", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--seq", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    print(
        f"transformer LM: vocab {args.vocab}, model {args.model}, {args.heads} heads, "
        f"{args.layers} layers, batch {args.batch} x seq {args.seq}, adam, {args.steps} "
        f"steps; backend {jax.default_backend()}, {jax.devices()[0].device_kind}\n"
    )
    table([("float32", run(args, None)), ("bfloat16 compute", run(args, BF16_POLICY))])
    print(
        f"\nexamples/char_lm.py (its default sizes, batch 32 of real text, dropout), "
        f"{args.steps} steps:\n"
    )
    table([(c, run_char_lm(args, c)) for c in ("float32", "bfloat16")])


if __name__ == "__main__":
    main()
