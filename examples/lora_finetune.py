"""Fine-tune the char LM on another slice of the text: LoRA (rank 4) against full fine-tuning.

The character-level transformer of ``examples/char_lm.py`` is first trained
for ``--pretrain-steps`` on the first half of the training text (the first
45% of ``examples/data/tinyshakespeare.txt``), then fine-tuned for
``--finetune-steps`` on the second half (45% to 90%) twice, from the same
pretrained params:

* full fine-tuning: every parameter trains (adam, ``--lr``);
* LoRA: ``lora(model, "*/w", rank=--rank)`` adds adapters to every Linear
  weight (attention, MLPs, logits) and ``train(..., frozen=model.base)``
  trains only them (adam, ``--lora-lr``); the base params stay bit for bit.

Both are evaluated on the held-out text (the last 10%). The script prints
the trainable parameters as a share of the model, the held-out loss of the
pretrained model and of both fine-tunings, the optimizer-state bytes of
both, and checks that the LoRA params merged into plain params of the
original model give the same held-out loss.

Usage: python examples/lora_finetune.py [--pretrain-steps 400] [--finetune-steps 200] [--rank 4]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

import jax
import optax

from minihaiku.core import filter_params, lora, tree_bytes, tree_size
from minihaiku.training import TrainResult, softmax_cross_entropy, train

HERE = Path(__file__).parent


def load_char_lm() -> Any:
    """The ``examples/char_lm.py`` module, loaded by path (examples are not a package)."""
    if "char_lm" in sys.modules:
        return sys.modules["char_lm"]
    spec = importlib.util.spec_from_file_location("char_lm", HERE / "char_lm.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["char_lm"] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Pretrains, fine-tunes both ways, prints the comparison; returns it as a dict."""
    lm = load_char_lm()
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--pretrain-steps", type=int, default=400, help="steps on the first half (0: none)")
    add("--finetune-steps", type=int, default=200, help="steps of each fine-tuning")
    add("--rank", type=int, default=4, help="the LoRA adapters' rank")
    add("--alpha", type=float, default=8.0, help="LoRA's scale numerator (scale alpha/rank)")
    add("--lr", type=float, default=1e-3, help="adam's rate: pretraining, full fine-tuning")
    add("--lora-lr", type=float, default=3e-3, help="adam's rate for the LoRA adapters")
    add("--batch-size", type=int, default=32, help="text windows per training step")
    add("--seq-len", type=int, default=64, help="characters per window (the context length)")
    add("--d-model", type=int, default=64, help="width of the embeddings and of every block")
    add("--heads", type=int, default=4, help="attention heads per transformer block")
    add("--layers", type=int, default=2, help="number of transformer blocks")
    add("--mlp-width", type=int, default=256, help="hidden width of each block's MLP")
    add("--seed", type=int, default=0, help="random seed (init, batches, dropout)")
    add("--no-progress", action="store_true", help="hide the progress bars")
    args = parser.parse_args(argv)

    vocab, train_tokens, held_out = lm.load_text()
    half = len(train_tokens) // 2
    first, second = train_tokens[:half], train_tokens[half:]
    config = lm.Config(
        vocab_size=len(vocab),
        seq_len=args.seq_len,
        d_model=args.d_model,
        num_heads=args.heads,
        num_layers=args.layers,
        mlp_width=args.mlp_width,
    )
    model = lm.build_model(config)
    x0, _ = next(lm.batches(first, config.seq_len, args.batch_size, args.seed))
    eval_data = lm.eval_windows(held_out, config.seq_len)

    def fit(m: Any, params: Any, tokens: Any, lr: float, steps: int, **kw: Any) -> TrainResult:
        return train(
            softmax_cross_entropy(m, rng=True),
            params,
            lm.batches(tokens, config.seq_len, args.batch_size, args.seed + 1),
            optax.adam(lr),
            steps,
            seed=args.seed,
            progress=not args.no_progress,
            **kw,
        )

    start = time.perf_counter()
    params = jax.jit(model.init)(jax.random.key(args.seed), x0)
    pretrained = params  # --pretrain-steps 0: fine-tune the fresh model (quick checks)
    if args.pretrain_steps:
        pretrained = fit(model, params, first, args.lr, args.pretrain_steps).params
    evaluate = jax.jit(lm.eval_loss(model))
    before = evaluate(pretrained, eval_data)["loss"]

    full = fit(model, pretrained, second, args.lr, args.finetune_steps)

    adapted = lora(model, "*/w", rank=args.rank, alpha=args.alpha)
    # init makes the adapters (b = 0); the pretrained values replace the fresh base ones.
    lora_params = {**jax.jit(adapted.init)(jax.random.key(args.seed), x0), **pretrained}
    tuned = fit(
        adapted, lora_params, second, args.lora_lr, args.finetune_steps, frozen=adapted.base
    )
    merged = adapted.merge(tuned.params)
    merged_loss = evaluate(merged, eval_data)["loss"]
    lora_loss = jax.jit(lm.eval_loss(adapted))(tuned.params, eval_data)["loss"]
    seconds = time.perf_counter() - start

    total = tree_size(pretrained)
    trainable = tree_size(filter_params(tuned.params, adapted.adapters))
    summary = {
        "model_params": total,
        "lora_trainable_params": trainable,
        "lora_trainable_share": trainable / total,
        "held_out_loss_pretrained": float(before),
        "held_out_loss_full": float(evaluate(full.params, eval_data)["loss"]),
        "held_out_loss_lora": float(lora_loss),
        "held_out_loss_lora_merged": float(merged_loss),
        "opt_state_bytes_full": tree_bytes(full.opt_state),
        "opt_state_bytes_lora": tree_bytes(tuned.opt_state),
        "base_unchanged": all(bool((tuned.params[k] == v).all()) for k, v in pretrained.items()),
        "seconds": seconds,
    }
    s = summary
    print(
        f"model: {total} params; LoRA rank {args.rank} on every Linear weight trains "
        f"{trainable} ({100 * s['lora_trainable_share']:.1f}% of the model)\n"
        f"held-out loss (nats/char): pretrained {s['held_out_loss_pretrained']:.3f}, "
        f"full fine-tuning {s['held_out_loss_full']:.3f}, LoRA {s['held_out_loss_lora']:.3f} "
        f"(merged: {s['held_out_loss_lora_merged']:.3f})\n"
        f"optimizer state: full {s['opt_state_bytes_full']} bytes, LoRA "
        f"{s['opt_state_bytes_lora']} bytes\n"
        f"base params unchanged by LoRA training: {s['base_unchanged']}; {seconds:.0f} s in all"
    )
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
