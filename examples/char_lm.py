"""Train a character-level transformer language model with ``minihaiku.training.train``.

The text is a 150 KB slice of Shakespeare that ships with the repository
(``examples/data/tinyshakespeare.txt``; see ``examples/data/README.md``): its
first 90% trains, the last 10% is held out. The model: token embeddings plus
learned positional embeddings, ``--layers`` pre-LayerNorm transformer blocks
(causal MultiHeadAttention, an MLP with gelu, dropout on both residual
branches while training), a final LayerNorm and a Linear to the vocabulary.
Each step trains on ``--batch-size`` random windows of the training text
(softmax cross-entropy of every next character, adam); the loss on fixed
windows of the held-out text is evaluated every ``--eval-every`` steps. At the
end a jitted sampler continues ``--prompt`` and the sample is printed. Writes
``curves.png`` (training and held-out loss) and ``history.jsonl`` into ``--out``.

Usage: python examples/char_lm.py [--steps 2000] [--out char-lm-run] [--prompt "MENENIUS:"]

The file is not in a package; other code loads it by path::

    import importlib.util, sys
    spec = importlib.util.spec_from_file_location("char_lm", "examples/char_lm.py")
    char_lm = importlib.util.module_from_spec(spec)
    sys.modules["char_lm"] = char_lm
    spec.loader.exec_module(char_lm)
    vocab, train_tokens, held_out = char_lm.load_text()
    model = char_lm.build_model(char_lm.Config(vocab_size=len(vocab), num_layers=4))
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minihaiku.core import (
    InvalidArgumentError,
    Module,
    Policy,
    Transformed,
    maybe_next_rng_key,
    policy_scope,
    transform,
)
from minihaiku.initializers import truncated_normal, variance_scaling
from minihaiku.layers import MLP, Embed, LayerNorm, Linear, MultiHeadAttention, dropout
from minihaiku.training import DynamicLossScale, TrainResult, softmax_cross_entropy, train

TEXT = Path(__file__).parent / "data" / "tinyshakespeare.txt"


@dataclass(frozen=True)
class Config:
    """The model's sizes.

    Attributes:
      vocab_size: the number of distinct characters.
      seq_len: the longest context (positional embeddings exist for this many).
      d_model: the width of the residual stream.
      num_heads: attention heads per block (``d_model`` must divide by it).
      num_layers: transformer blocks.
      mlp_width: the hidden width of each block's MLP.
      dropout: the dropout rate in training (none when apply gets no key).
    """

    vocab_size: int
    seq_len: int = 64
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    mlp_width: int = 256
    dropout: float = 0.1

    def __post_init__(self) -> None:
        """Checks the sizes."""
        for name in ("vocab_size", "seq_len", "d_model", "num_heads", "num_layers", "mlp_width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(f"Config.{name} must be an int >= 1, got {value!r}.")
        if self.d_model % self.num_heads:
            raise InvalidArgumentError(
                f"Config: d_model={self.d_model} does not divide into num_heads="
                f"{self.num_heads} heads; choose d_model a multiple of num_heads."
            )
        if not 0.0 <= self.dropout < 1.0:
            raise InvalidArgumentError(
                f"Config.dropout must be in [0, 1) (the probability of dropping an entry), "
                f"got {self.dropout!r}."
            )


class Vocab:
    """The characters of a text, each mapped to its index in sorted order."""

    def __init__(self, text: str) -> None:
        """The vocabulary of the characters in ``text``."""
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        """The number of characters."""
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """``text`` as int32 character indices; refuses characters not in the vocabulary."""
        unknown = sorted(set(text) - self.index.keys())
        if unknown:
            raise InvalidArgumentError(
                f"the text {text[:40]!r} has characters that are not in the vocabulary: "
                f"{''.join(unknown)!r}. Use only characters of the training text "
                f"({''.join(self.chars)!r})."
            )
        return np.array([self.index[c] for c in text], dtype=np.int32)

    def decode(self, tokens: Any) -> str:
        """Character indices back to text."""
        return "".join(self.chars[int(t)] for t in np.asarray(tokens).ravel())


def load_text(path: Path = TEXT, held_out: float = 0.1) -> tuple[Vocab, np.ndarray, np.ndarray]:
    """The vocabulary, the training tokens and the held-out tokens (the last ``held_out``)."""
    text = Path(path).read_text(encoding="utf-8")
    vocab = Vocab(text)
    tokens = vocab.encode(text)
    cut = int(len(tokens) * (1.0 - held_out))
    return vocab, tokens[:cut], tokens[cut:]


def batches(
    tokens: np.ndarray, seq_len: int, batch_size: int, seed: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Endless batches ``(x, y)`` of random windows: ``y`` is ``x`` shifted by one character.

    Both have shape ``[batch_size, seq_len]``; the window starts are drawn
    from ``np.random.default_rng(seed)``, so the stream is reproducible.
    """
    if len(tokens) <= seq_len:
        raise InvalidArgumentError(
            f"batches: the text has {len(tokens)} characters, too few for windows of "
            f"seq_len + 1 = {seq_len + 1}; use a longer text or a smaller seq_len."
        )
    rng = np.random.default_rng(seed)
    offsets = np.arange(seq_len + 1)
    while True:
        starts = rng.integers(0, len(tokens) - seq_len, size=batch_size)
        windows = tokens[starts[:, None] + offsets]
        yield windows[:, :-1], windows[:, 1:]


def eval_windows(
    tokens: np.ndarray, seq_len: int, count: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``count`` non-overlapping windows ``(x, y)`` from the start of ``tokens``."""
    n = min(count, (len(tokens) - 1) // seq_len)
    if n < 1:
        raise InvalidArgumentError(
            f"eval_windows: the held-out text has {len(tokens)} characters, too few for "
            f"one window of seq_len + 1 = {seq_len + 1}; hold out more text."
        )
    starts = np.arange(n) * seq_len
    windows = tokens[starts[:, None] + np.arange(seq_len + 1)]
    return windows[:, :-1], windows[:, 1:]


class CharTransformer(Module):
    """The language model: tokens ``[B, T]`` -> next-character logits ``[B, T, vocab]``."""

    def __init__(self, config: Config, name: str | None = None) -> None:
        """A model of the given sizes."""
        super().__init__(name=name)
        self.config = config

    def _dropout(self, x: jax.Array) -> jax.Array:
        key = maybe_next_rng_key()  # None when apply gets no key: evaluation
        if key is None or self.config.dropout == 0.0:
            return x
        return dropout(key, self.config.dropout, x)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        """The logits of the character after each position."""
        c = self.config
        seq_len = tokens.shape[-1]
        if seq_len > c.seq_len:
            raise InvalidArgumentError(
                f"CharTransformer {self.module_path}: got {seq_len} tokens, more than the "
                f"{c.seq_len} positions of Config.seq_len; pass at most {c.seq_len}."
            )
        embed_init = truncated_normal(stddev=0.02)
        w_init = variance_scaling(2.0 / c.num_layers)
        h = Embed(c.vocab_size, c.d_model, w_init=embed_init, name="tokens")(tokens)
        h = h + Embed(c.seq_len, c.d_model, w_init=embed_init, name="positions")(
            jnp.arange(seq_len)
        )
        causal = jnp.tril(jnp.ones((1, 1, seq_len, seq_len), dtype=bool))
        for _ in range(c.num_layers):
            x = LayerNorm(-1, create_scale=True, create_offset=True)(h)
            attention = MultiHeadAttention(
                num_heads=c.num_heads,
                key_size=c.d_model // c.num_heads,
                model_size=c.d_model,
                w_init=w_init,
            )
            h = h + self._dropout(attention(x, x, x, mask=causal))
            x = LayerNorm(-1, create_scale=True, create_offset=True)(h)
            mlp = MLP([c.mlp_width, c.d_model], activation=jax.nn.gelu, w_init=w_init)
            h = h + self._dropout(mlp(x))
        h = LayerNorm(-1, create_scale=True, create_offset=True)(h)
        return Linear(c.vocab_size, name="logits")(h)


def build_model(config: Config) -> Transformed:
    """The transformed model: ``init(rng, tokens)``, ``apply(params, rng, tokens)``.

    ``apply`` with a key applies dropout (training); with ``None`` as the key
    it does not (evaluation, sampling).
    """
    return transform(lambda tokens: CharTransformer(config)(tokens), apply_rng=True)


def eval_loss(model: Transformed) -> Callable[..., dict[str, jax.Array]]:
    """For ``train(evaluate=)``: the mean cross-entropy on ``(x, y)``, without dropout."""

    def evaluate(params: Any, batch: tuple[jax.Array, jax.Array]) -> dict[str, jax.Array]:
        x, y = batch
        logits = model.apply(params, None, x)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return {"loss": loss, "accuracy": jnp.mean(jnp.argmax(logits, -1) == y)}

    return evaluate


Sampler = Callable[[Any, jax.Array, jax.Array], jax.Array]


def make_sampler(model: Transformed, config: Config, num_chars: int, temperature: float) -> Sampler:
    """A jitted ``sample(params, prompt_tokens, key) -> tokens``: the prompt and ``num_chars`` more.

    Each new character is drawn from the model's distribution at
    ``temperature`` given the last ``seq_len`` characters (``temperature == 0``:
    the most likely one). No dropout.
    """
    if isinstance(num_chars, bool) or not isinstance(num_chars, int) or num_chars < 0:
        raise InvalidArgumentError(
            f"make_sampler: num_chars must be an int >= 0 (how many characters to add), "
            f"got {num_chars!r}."
        )
    if temperature < 0:
        raise InvalidArgumentError(
            f"make_sampler: temperature must be >= 0 (0 samples greedily), got {temperature!r}."
        )
    T = config.seq_len

    @jax.jit
    def sample(params: Any, prompt: jax.Array, key: jax.Array) -> jax.Array:
        p = prompt.shape[0]
        total = p + num_chars
        buf = jnp.zeros(max(total, T), jnp.int32).at[:p].set(prompt)

        def body(i: jax.Array, carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
            buf, key = carry
            start = jnp.maximum(0, i - T)
            window = jax.lax.dynamic_slice(buf, (start,), (T,))
            logits = model.apply(params, None, window[None])[0, i - 1 - start]
            key, sub = jax.random.split(key)
            if temperature == 0:
                token = jnp.argmax(logits)
            else:
                token = jax.random.categorical(sub, logits / temperature)
            return buf.at[i].set(token.astype(jnp.int32)), key

        out: jax.Array = jax.lax.fori_loop(p, total, body, (buf, key))[0]
        return out[:total]

    return sample


def generate(
    model: Transformed,
    config: Config,
    params: Any,
    vocab: Vocab,
    prompt: str,
    num_chars: int = 200,
    temperature: float = 0.8,
    seed: int = 0,
) -> str:
    """``prompt`` continued by ``num_chars`` sampled characters."""
    if not prompt:
        raise InvalidArgumentError("generate: the prompt is empty; give at least one character.")
    tokens = vocab.encode(prompt)[-config.seq_len :]
    sample = make_sampler(model, config, num_chars, temperature)
    out = sample(params, jnp.asarray(tokens), jax.random.key(seed))
    return prompt[: len(prompt) - len(tokens)] + vocab.decode(out)


def plot(result: TrainResult, out: Path) -> Path:
    """Writes ``curves.png``: the training loss per step and the held-out loss."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(result.losses, label="training batch", alpha=0.6)
    if result.evals:
        steps, values = zip(*[(s, m["loss"]) for s, m in result.evals], strict=True)
        ax.plot(steps, values, "o-", label="held-out text")
    ax.set(xlabel="step", ylabel="cross-entropy (nats per character)", title="char LM loss")
    ax.legend()
    fig.tight_layout()
    path = out / "curves.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Trains, evaluates, samples, writes the history and the curves; returns a summary."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--steps", type=int, default=2000, help="training steps")
    add("--batch-size", type=int, default=32, help="text windows per training step")
    add("--lr", type=float, default=1e-3, help="learning rate of adam")
    add("--seq-len", type=int, default=64, help="characters per window (the context length)")
    add("--d-model", type=int, default=64, help="width of the embeddings and of every block")
    add("--heads", type=int, default=4, help="attention heads per transformer block")
    add("--layers", type=int, default=2, help="number of transformer blocks")
    add("--mlp-width", type=int, default=256, help="hidden width of each block's MLP")
    add("--dropout", type=float, default=0.1, help="dropout rate of the residual branches")
    add("--eval-every", type=int, default=200, help="steps between held-out evaluations")
    add("--seed", type=int, default=0, help="random seed (init, batches, dropout, sample)")
    add("--text", type=Path, default=TEXT, help="text file: the first 90%% trains")
    add(
        "--prompt",
        default="MENENIUS:\n",
        help="text that the final sample continues (default: %(default)r)",
    )
    add("--sample-chars", type=int, default=300, help="characters sampled after the prompt")
    add("--temperature", type=float, default=0.8, help="sampling temperature (lower: safer)")
    add("--out", type=Path, default=Path("char-lm-run"), help="directory of the outputs")
    add("--no-progress", action="store_true", help="hide the progress bar")
    add(
        "--compute",
        choices=("float32", "bfloat16", "float16"),
        default="float32",
        help="the model's compute dtype (params stay float32, LayerNorms compute in "
        "float32); float16 trains with dynamic loss scaling",
    )
    args = parser.parse_args(argv)

    vocab, train_tokens, held_out = load_text(args.text)
    config = Config(
        vocab_size=len(vocab),
        seq_len=args.seq_len,
        d_model=args.d_model,
        num_heads=args.heads,
        num_layers=args.layers,
        mlp_width=args.mlp_width,
        dropout=args.dropout,
    )
    vocab.encode(args.prompt)  # a prompt the model cannot read fails before training
    model = build_model(config)
    data = batches(train_tokens, config.seq_len, args.batch_size, args.seed)
    x0, _ = next(batches(train_tokens, config.seq_len, args.batch_size, args.seed))
    policy = None if args.compute == "float32" else Policy("float32", args.compute, "float32")
    # The policy holds for the init (params made float32), training and sampling.
    with policy_scope(*((CharTransformer, policy) if policy is not None else ())):
        params = jax.jit(model.init)(jax.random.key(args.seed), x0)  # jitted: faster than eager
        args.out.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        result = train(
            softmax_cross_entropy(model, rng=True),
            params,
            data,
            optax.adam(args.lr),
            args.steps,
            seed=args.seed,
            evaluate=eval_loss(model),
            eval_data=eval_windows(held_out, config.seq_len),
            eval_every=args.eval_every,
            progress=not args.no_progress,
            loss_scale=DynamicLossScale() if args.compute == "float16" else None,
        )
        train_seconds = time.perf_counter() - start
        with (args.out / "history.jsonl").open("w") as f:
            for step, loss in enumerate(result.losses.tolist()):
                accuracy = float(result.metrics["accuracy"][step])
                f.write(json.dumps({"step": step, "loss": loss, "accuracy": accuracy}) + "\n")
            for step, values in result.evals:
                f.write(json.dumps({"step": step, "eval": values}) + "\n")
        path = plot(result, args.out)
        sample = generate(
            model,
            config,
            result.params,
            vocab,
            args.prompt,
            args.sample_chars,
            args.temperature,
            args.seed,
        )
    print(sample)
    summary = {
        "config": asdict(config),
        "compute": args.compute,
        "params": sum(int(v.size) for v in result.params.values()),
        "first_loss": float(result.losses[0]),
        "final_loss": result.final_loss,
        "held_out_loss": result.evals[-1][1]["loss"],
        "held_out_accuracy": result.evals[-1][1]["accuracy"],
        "train_seconds": train_seconds,
        "compile_seconds": result.compile_seconds,
        "steps_per_second": result.steps_per_second,
        "sample": sample,
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "sample"}), f"-> {path}")
    return summary


if __name__ == "__main__":
    main()
