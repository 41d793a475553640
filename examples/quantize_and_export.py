"""Quantize trained models to int8 weights and export them for serving.

Trains the digits classifier's MLP (examples/digits_classifier.py) and the
character LM (examples/char_lm.py) briefly, then quantizes their weight
matrices with ``minihaiku.core.quantize`` (weight-only, symmetric, one scale
per output channel) and reports, before and after: the params' bytes, the
digits test accuracy and the LM's held-out loss. Finally exports the float and
the int8 models with ``minihaiku.core.export`` (a symbolic batch dimension),
loads them back with ``load_exported`` and checks they give the same outputs
as ``apply``. Writes the artifacts and ``summary.json`` into ``--out``.

Usage: python examples/quantize_and_export.py [--digits-steps 1000] [--lm-steps 600]
       [--out quantize-run]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import optax

sys.path.insert(0, str(Path(__file__).parent))  # the two examples this one reuses

import char_lm
import digits_classifier

from minihaiku.core import (
    export,
    filter_params,
    load_exported,
    quantize,
    quantized,
    transform,
    tree_bytes,
)
from minihaiku.training import softmax_cross_entropy, train

#: The weights quantized: every Linear's ``w`` and the embedding tables (not
#: biases or LayerNorm scales, which are 1-D and tiny).
WEIGHTS = ["*/w", "*/embeddings"]


def _bytes(params: dict[str, Any], qparams: dict[str, Any]) -> dict[str, Any]:
    """Bytes of all params and of the matched weights, float and quantized."""
    matched = filter_params(params, WEIGHTS)
    q_matched = {k: v for k, v in qparams.items() if k.split("@")[0] in matched}
    return {
        "params_bytes": tree_bytes(params),
        "int8_params_bytes": tree_bytes(qparams),
        "weights_bytes": tree_bytes(matched),
        "int8_weights_bytes": tree_bytes(q_matched),
        "weights_ratio": round(tree_bytes(matched) / tree_bytes(q_matched), 2),
    }


def _check_export(model: Any, params: Any, x: Any, path: Path) -> dict[str, Any]:
    """Exports ``model`` with ``params`` (batch axis 0), loads it, compares with apply."""
    served = load_exported(export(model, params, x[:1], path=path, batch_axes=0))
    diff = float(jnp.max(jnp.abs(served(x) - jax.jit(model.apply)(params, x))))
    return {"file_bytes": path.stat().st_size, "max_abs_diff_vs_apply": diff}


def digits(steps: int, seed: int, out: Path) -> dict[str, Any]:
    """The digits MLP: accuracy with float, int8 and int4 weights; exports."""
    (x_train, y_train), (x_test, y_test) = digits_classifier.load(seed)
    model = digits_classifier.build("mlp")
    params = model.init(seed, x_train)
    if steps:  # 0: the initial params (a quick check of the rest)
        result = train(softmax_cross_entropy(model), params, (x_train, y_train), optax.adam(1e-3),
                       steps, batch_size=128, seed=seed, progress=False)  # fmt: skip
        params = result.params

    def accuracy(apply: Any, p: Any) -> float:
        return float(jnp.mean(jnp.argmax(jax.jit(apply)(p, x_test), -1) == y_test))

    q8 = quantize(params, "*/w")
    q4 = quantize(params, "*/w", bits=4)
    qmodel = quantized(model)
    summary = {
        "steps": steps,
        "test_accuracy": accuracy(model.apply, params),
        "int8_test_accuracy": accuracy(qmodel.apply, q8),
        "int4_test_accuracy": accuracy(qmodel.apply, q4),
        **_bytes(params, q8),
        "export_float": _check_export(model, params, x_test, out / "digits_float.mhx"),
        "export_int8": _check_export(qmodel, q8, x_test, out / "digits_int8.mhx"),
    }
    same = jnp.argmax(jax.jit(qmodel.apply)(q8, x_test), -1) == jnp.argmax(
        jax.jit(model.apply)(params, x_test), -1
    )
    summary["int8_same_predictions"] = float(jnp.mean(same))
    return summary


def lm(steps: int, seed: int, out: Path, config: char_lm.Config | None = None) -> dict[str, Any]:
    """The char LM: held-out loss with float and int8 weights; exports the next-token logits."""
    vocab, train_tokens, held_out = char_lm.load_text()
    config = config or char_lm.Config(vocab_size=len(vocab))
    model = char_lm.build_model(config)
    data = char_lm.batches(train_tokens, config.seq_len, 32, seed)
    x0, _ = next(char_lm.batches(train_tokens, config.seq_len, 32, seed))
    params = jax.jit(model.init)(jax.random.key(seed), x0)
    if steps:
        result = train(softmax_cross_entropy(model, rng=True), params, data, optax.adam(1e-3),
                       steps, seed=seed, progress=False)  # fmt: skip
        params = result.params
    windows = char_lm.eval_windows(held_out, config.seq_len)
    q8 = quantize(params, WEIGHTS)

    def held_out_loss(m: Any, p: Any) -> float:
        return float(jax.jit(char_lm.eval_loss(m))(p, windows)["loss"])

    # The next-token logits of a window: the same module at the same path as
    # the trained model, so its params fit; no dropout (no key).
    next_token = transform(lambda tokens: char_lm.CharTransformer(config)(tokens)[:, -1])
    x = jnp.asarray(windows[0][:8])
    return {
        "steps": steps,
        "held_out_loss": held_out_loss(model, params),
        "int8_held_out_loss": held_out_loss(quantized(model), q8),
        **_bytes(params, q8),
        "export_int8_next_token": _check_export(quantized(next_token), q8, x, out / "lm_int8.mhx"),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Runs both parts, prints and writes the summary."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add(
        "--digits-steps",
        type=int,
        default=1000,
        help="training steps of the digits MLP (0: untrained)",
    )
    add("--lm-steps", type=int, default=600, help="training steps of the char LM (0: untrained)")
    add("--lm-tiny", action="store_true", help="a tiny char LM (for tests)")
    add("--seed", type=int, default=0, help="random seed")
    add("--out", type=Path, default=Path("quantize-run"), help="directory of the outputs")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    config = None
    if args.lm_tiny:
        vocab_size = len(char_lm.load_text()[0])
        config = char_lm.Config(vocab_size=vocab_size, seq_len=16, d_model=16, num_heads=2,
                                num_layers=1, mlp_width=32)  # fmt: skip
    summary = {
        "digits": digits(args.digits_steps, args.seed, args.out),
        "char_lm": lm(args.lm_steps, args.seed, args.out, config),
    }
    summary["seconds"] = round(time.perf_counter() - start, 1)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
