"""Initial values stay bit for bit what they were (issue 20).

``tests/core/data/init_digests.npz`` holds, for the seed's MLP, the transformer
block of ``bench/layers_models.py`` and ResNet18, one line per parameter and
state entry (``kind|path|dtype|shape|sha256 of the bytes``), made with main's
eager ``init`` (revision 0ef303b) for an int seed and a typed key. Every init
mode must reproduce them (the abstract path where the model allows it:
ResNet18's batch norm moving averages start from the forward pass's batch
statistics, so its init falls back to the eager path).

Random values are bit-exact only on one backend and JAX version (XLA's
``erf_inv`` and friends change between releases and differ between CPU and
GPU), so the digests are recorded per platform, ``<backend>_jax<version>``:
the CPU with the lowest JAX of the test matrix (0.6.0) and the newest ones
it resolves (0.10.2 on Python 3.11, 0.12.0.1 on 3.12 and 3.13). On another
platform the tests skip, saying so. To record one, run the previous release's
code there (a git worktree of it on ``PYTHONPATH``) with this file's
``digests`` over ``MODELS`` and ``KEYS``, and add the entries under that
platform's prefix; ``python tests/core/test_init_values.py`` records the
current code's values for the current platform (only for an intended change).
"""

from __future__ import annotations

import hashlib
import pathlib
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import init_mode

DATA = pathlib.Path(__file__).parent / "data" / "init_digests.npz"
B, T, D, H = 2, 16, 256, 4  # the bench's block (model size 256, 4 heads), shorter input
IMAGE = (2, 32, 32, 3)


def _mlp() -> Callable[[Any], Any]:
    from minihaiku.training import quadratic_model

    f = quadratic_model()
    return lambda key: (f.init(key, np.ones((8, 1), np.float32)), {})


def _transformer() -> Callable[[Any], Any]:
    from minihaiku.core import transform
    from minihaiku.initializers import variance_scaling
    from minihaiku.layers import MLP, LayerNorm, MultiHeadAttention

    def block(x: jax.Array) -> jax.Array:
        t = x.shape[-2]
        mask = jnp.tril(jnp.ones((1, 1, t, t), bool))
        h = LayerNorm(axis=-1, create_scale=True, create_offset=True)(x)
        attn = MultiHeadAttention(num_heads=H, key_size=D // H, w_init=variance_scaling(1.0))
        x = x + attn(h, h, h, mask)
        h = LayerNorm(axis=-1, create_scale=True, create_offset=True)(x)
        return x + MLP(output_sizes=[4 * D, D], activation=jax.nn.gelu)(h)

    f = transform(block)
    return lambda key: (f.init(key, jnp.ones((B, T, D))), {})


def _resnet18() -> Callable[[Any], Any]:
    from minihaiku.core import transform_with_state
    from minihaiku.layers.nets import ResNet18

    f = transform_with_state(lambda x: ResNet18(10)(x, is_training=True))
    return lambda key: f.init(key, jnp.ones(IMAGE))


MODELS = {"mlp": _mlp, "transformer": _transformer, "resnet18": _resnet18}
KEYS = {"seed0": lambda: 0, "key42": lambda: jax.random.key(42)}


def digests(params: Any, state: Any) -> list[str]:
    """One line per entry, in the order init returned them."""
    lines = []
    for kind, values in (("param", params), ("state", state)):
        for path, value in values.items():
            a = np.asarray(value)
            sha = hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
            lines.append(f"{kind}|{path}|{a.dtype}|{a.shape}|{sha}")
    return lines


PLATFORM = f"{jax.default_backend()}_jax{jax.__version__}"


@pytest.fixture(scope="module")
def saved() -> dict[str, list[str]]:
    with np.load(DATA) as data:
        mine = {
            name.split("__", 1)[1]: [str(s) for s in data[name]]
            for name in data.files
            if name.startswith(PLATFORM + "__")
        }
        recorded = sorted({name.split("__", 1)[0] for name in data.files})
    if not mine:
        pytest.skip(
            f"no initial values recorded for {PLATFORM} (recorded: {', '.join(recorded)}); "
            "see this module's docstring to record them"
        )
    return mine


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("key", sorted(KEYS))
@pytest.mark.parametrize("mode", ["auto", "eager"])
def test_initial_values_unchanged(
    saved: dict[str, list[str]], model: str, key: str, mode: str
) -> None:
    init = MODELS[model]()
    with init_mode(mode):
        assert digests(*init(KEYS[key]())) == saved[f"{model}_{key}"]


@pytest.mark.parametrize("model", ["mlp", "transformer"])
def test_abstract_init_gives_the_saved_values(saved: dict[str, list[str]], model: str) -> None:
    init = MODELS[model]()
    with init_mode("abstract"):  # ResNet18's batch norm averages need the forward pass
        assert digests(*init(0)) == saved[f"{model}_seed0"]


if __name__ == "__main__":  # record this platform's values (the others are kept)
    with np.load(DATA) as data:
        out = {name: data[name] for name in data.files if not name.startswith(PLATFORM + "__")}
    for m, make in MODELS.items():
        for k, key_fn in KEYS.items():
            out[f"{PLATFORM}__{m}_{k}"] = np.array(digests(*make()(key_fn())))
    np.savez_compressed(DATA, **out)
    print(PLATFORM, sorted(out))
