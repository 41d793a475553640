"""Train a classifier on scikit-learn's bundled digits with ``minihaiku.training.train``.

8x8 images of handwritten digits (1797 of them, shipped inside scikit-learn,
nothing downloaded), 80% to train, 20% to test. Two models: ``--model mlp``
(the default), an MLP [128, 10] on the 64 pixels; ``--model cnn``, a small
convolutional net on the 8x8x1 images (two 3x3 convolutions of 16 and 32
channels, the second with stride 2, relu, then Linear(10)). Minibatches of 128
shuffled per epoch, adam; the test accuracy is evaluated every ``--eval-every``
steps. Writes ``curves.png`` (training loss and accuracy per step, test
accuracy) and ``history.jsonl`` into ``--out``.

Usage: python examples/digits_classifier.py [--model mlp|cnn] [--steps 1000] [--out digits-run]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import jax
import numpy as np
import optax
from sklearn.datasets import load_digits

from minihaiku.core import Transformed, transform
from minihaiku.layers import MLP, Conv2D, Linear
from minihaiku.training import accuracy, softmax_cross_entropy, train


def load(seed: int = 0) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The digits, scaled to [0, 1], split 80/20 at random (``seed``)."""
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    train_idx, test_idx = order[:cut], order[cut:]
    return (x[train_idx], y[train_idx]), (x[test_idx], y[test_idx])


def mlp(x: jax.Array) -> jax.Array:
    """The MLP: flat pixels ``[N, 64]`` -> logits ``[N, 10]``."""
    return MLP([128, 10])(x)


def cnn(x: jax.Array) -> jax.Array:
    """The CNN: flat pixels ``[N, 64]`` -> images ``[N, 8, 8, 1]`` -> logits ``[N, 10]``."""
    x = x.reshape(-1, 8, 8, 1)
    x = jax.nn.relu(Conv2D(16, 3)(x))  # [N, 8, 8, 16]
    x = jax.nn.relu(Conv2D(32, 3, stride=2)(x))  # [N, 4, 4, 32]
    return Linear(10)(x.reshape(x.shape[0], -1))


MODELS = {"mlp": mlp, "cnn": cnn}


def build(name: str) -> Transformed:
    """The transformed model ``name`` (``"mlp"`` or ``"cnn"``) from :data:`MODELS`."""
    return transform(MODELS[name])


def plot(result: object, out: Path, title: str = "") -> Path:
    """Writes ``curves.png``: the loss, and the training and test accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(result.losses)  # type: ignore[attr-defined]
    left.set(xlabel="step", ylabel="training loss", yscale="log", title=f"{title} loss".strip())
    right.plot(result.metrics["accuracy"], label="training batch", alpha=0.6)  # type: ignore[attr-defined]
    steps, values = zip(*[(s, m["accuracy"]) for s, m in result.evals], strict=True)  # type: ignore[attr-defined]
    right.plot(steps, values, "o-", label="test set")
    right.set(xlabel="step", ylabel="accuracy", title="accuracy")
    right.legend()
    fig.tight_layout()
    path = out / "curves.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Trains, evaluates, writes the history and the curves; returns a summary."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--model", choices=sorted(MODELS), default="mlp", help="an MLP or a small CNN")
    add("--steps", type=int, default=1000, help="training steps")
    add("--batch-size", type=int, default=128, help="images per training step")
    add("--lr", type=float, default=1e-3, help="learning rate of adam")
    add("--eval-every", type=int, default=50, help="steps between test evaluations")
    add("--seed", type=int, default=0, help="random seed (split, init, shuffling)")
    add("--out", type=Path, default=Path("digits-run"), help="directory of the outputs")
    add("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)

    (x_train, y_train), (x_test, y_test) = load(args.seed)
    model = build(args.model)
    params = model.init(args.seed, x_train)
    args.out.mkdir(parents=True, exist_ok=True)
    result = train(
        softmax_cross_entropy(model),
        params,
        (x_train, y_train),
        optax.adam(args.lr),
        args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
        evaluate=accuracy(model),
        eval_data=(x_test, y_test),
        eval_every=args.eval_every,
        progress=not args.no_progress,
    )
    with (args.out / "history.jsonl").open("w") as f:
        for step, loss in enumerate(result.losses.tolist()):
            f.write(
                json.dumps(
                    {
                        "step": step,
                        "loss": loss,
                        "accuracy": float(result.metrics["accuracy"][step]),
                    }
                )
                + "\n"
            )
        for step, values in result.evals:
            f.write(json.dumps({"step": step, "eval": values}) + "\n")
    path = plot(result, args.out, title=args.model)
    summary = {
        "model": args.model,
        "final_loss": result.final_loss,
        "test_accuracy": result.evals[-1][1]["accuracy"],
        "steps_per_second": result.steps_per_second,
    }
    print(json.dumps(summary), f"-> {path}")
    return summary


if __name__ == "__main__":
    main()
