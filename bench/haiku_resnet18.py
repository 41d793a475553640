"""``hk.nets.ResNet18`` in training mode hand-written in plain JAX: the floor of its speed table.

The same architecture, sizes, names and layout as dm-haiku's ResNet18 (v1,
no bottleneck, 64-128-256-512 channels, two blocks per group, projections in
groups 1-3), written with ``jax.numpy``/``lax`` only: convolutions without
bias, BatchNorm from the batch's statistics with dm-haiku's moving averages
(``counter``, ``hidden``, ``average`` per statistic), max pool, global mean,
a ``logits`` linear layer. ``init`` draws the kernels from one key split
(truncated normal, fan-in variance scaling, as dm-haiku's defaults) and runs
the forward pass the BatchNorm state's first values need; ``apply`` runs the
forward pass and the moving-average update. The params and state are keyed by
dm-haiku's module names, so ``apply`` takes dm-haiku's params as they are
(``python bench/haiku_resnet18.py`` checks the outputs and new state against
dm-haiku's within 1e-5).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

NAME = "res_net18/~/"
CHANNELS = (64, 128, 256, 512)
DECAY, EPS = 0.9, 1e-5
#: dm-haiku's truncated-normal correction: the stddev of a standard normal truncated to [-2, 2].
TRUNC = 0.87962566103423978
Tree = dict[str, dict[str, jax.Array]]


def _blocks() -> list[tuple[str, int, int, int, bool]]:
    """Each block's (name, input channels, output channels, stride, projection)."""
    out, cin = [], CHANNELS[0]
    for g, c in enumerate(CHANNELS):
        for b in range(2):
            stride, proj = (1 if g == 0 or b else 2), (g > 0 and b == 0)
            out.append((f"{NAME}block_group_{g}/~/block_{b}/~/", cin, c, stride, proj))
            cin = c
    return out


def _convs() -> list[tuple[str, tuple[int, int, int, int]]]:
    """Each conv kernel's name and shape (HWIO), in dm-haiku's creation order."""
    convs = [(f"{NAME}initial_conv", (7, 7, 3, CHANNELS[0]))]
    for prefix, cin, c, _, proj in _blocks():
        if proj:
            convs.append((f"{prefix}shortcut_conv", (1, 1, cin, c)))
        convs += [(f"{prefix}conv_0", (3, 3, cin, c)), (f"{prefix}conv_1", (3, 3, c, c))]
    return convs


def _norms() -> list[tuple[str, int]]:
    """Each BatchNorm's name and channels."""
    norms = [(f"{NAME}initial_batchnorm", CHANNELS[0])]
    for prefix, _, c, _, proj in _blocks():
        names = ["shortcut_batchnorm"] if proj else []
        norms += [(f"{prefix}{n}", c) for n in [*names, "batchnorm_0", "batchnorm_1"]]
    return norms


CONVS, NORMS = _convs(), _norms()


def _conv(x: jax.Array, w: jax.Array, stride: int) -> jax.Array:
    dims = ("NHWC", "HWIO", "NHWC")
    return lax.conv_general_dilated(x, w, (stride, stride), "SAME", dimension_numbers=dims)


def _stats(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    mean = jnp.mean(x, (0, 1, 2), keepdims=True)
    return mean, jnp.mean(jnp.square(x), (0, 1, 2), keepdims=True) - jnp.square(mean)


def _ema(state: dict[str, jax.Array], value: jax.Array) -> dict[str, jax.Array]:
    """The moving average's next state (zero-debiased, as dm-haiku's)."""
    counter = state["counter"] + 1
    hidden = state["hidden"] * DECAY + value * (1 - DECAY)
    try:  # the exponent from the stored counter: ``counter``'s value waits for the queue
        step: int | jax.Array = int(state["counter"]) + 1
    except TypeError:  # traced
        step = counter
    return {"counter": counter, "hidden": hidden, "average": hidden / (1 - DECAY**step)}


def _first(value: jax.Array) -> dict[str, jax.Array]:
    """The moving average's state after ``init``: the batch's value, nothing accumulated."""
    return {"counter": jnp.zeros((), jnp.int32), "hidden": jnp.zeros_like(value), "average": value}


def forward(params: Tree, state: Tree | None, x: jax.Array) -> tuple[jax.Array, Tree]:
    """The logits and the new state; with ``state`` None, the state ``init`` returns."""
    new: Tree = {}

    def norm(name: str, x: jax.Array) -> jax.Array:
        mean, var = _stats(x)
        for stat, value in (("mean_ema", mean), ("var_ema", var)):
            key = f"{name}/~/{stat}"
            new[key] = _first(value) if state is None else _ema(state[key], value)
        p = params[name]
        return (x - mean) * (p["scale"] * lax.rsqrt(var + EPS)) + p["offset"]

    x = _conv(x, params[f"{NAME}initial_conv"]["w"], 2)
    x = jax.nn.relu(norm(f"{NAME}initial_batchnorm", x))
    x = lax.reduce_window(x, -jnp.inf, lax.max, (1, 3, 3, 1), (1, 2, 2, 1), "SAME")
    for prefix, _, _, stride, proj in _blocks():
        shortcut = x
        if proj:
            shortcut = _conv(x, params[f"{prefix}shortcut_conv"]["w"], stride)
            shortcut = norm(f"{prefix}shortcut_batchnorm", shortcut)
        out = _conv(x, params[f"{prefix}conv_0"]["w"], stride)
        out = jax.nn.relu(norm(f"{prefix}batchnorm_0", out))
        out = norm(f"{prefix}batchnorm_1", _conv(out, params[f"{prefix}conv_1"]["w"], 1))
        x = jax.nn.relu(out + shortcut)
    x = jnp.mean(x, (1, 2))
    logits = params[f"{NAME}logits"]
    return x @ logits["w"] + logits["b"], new


def init(key: jax.Array, x: jax.Array) -> tuple[Tree, Tree]:
    """dm-haiku's ResNet18 params (same shapes and distributions) and the state of ``x``."""
    params: Tree = {}
    for k, (name, shape) in zip(jax.random.split(key, len(CONVS)), CONVS, strict=True):
        stddev = (1.0 / (shape[0] * shape[1] * shape[2])) ** 0.5 / TRUNC
        params[name] = {"w": stddev * jax.random.truncated_normal(k, -2.0, 2.0, shape)}
    for name, c in NORMS:
        params[name] = {"scale": jnp.ones((1, 1, 1, c)), "offset": jnp.zeros((1, 1, 1, c))}
    params[f"{NAME}logits"] = {"w": jnp.zeros((CHANNELS[-1], 10)), "b": jnp.zeros(10)}
    _, state = forward(params, None, x)
    return params, state


def apply(params: Tree, state: Tree, x: jax.Array) -> tuple[jax.Array, Tree]:
    """The logits and the new state (training mode)."""
    return forward(params, state, x)


def _worst(a: Tree, b: Tree) -> float:
    """The largest absolute difference between two trees of the same structure."""
    pairs = zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    return max(float(jnp.max(jnp.abs(u - v))) for u, v in pairs)


def check() -> None:
    """The hand-written ResNet18 against dm-haiku's, on dm-haiku's params and state."""
    import haiku as hk

    f = hk.without_apply_rng(
        hk.transform_with_state(lambda x: hk.nets.ResNet18(10)(x, is_training=True))
    )
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 32, 32, 3))
    params, state = f.init(jax.random.PRNGKey(0), x)
    mine, _ = init(jax.random.PRNGKey(0), x)
    shapes = jax.tree_util.tree_map(lambda a: (a.shape, a.dtype), params)
    assert shapes == jax.tree_util.tree_map(lambda a: (a.shape, a.dtype), mine), "params differ"
    # non-zero logits weights, so that the outputs depend on the whole net
    w = jax.random.normal(jax.random.PRNGKey(2), (CHANNELS[-1], 10))
    params[f"{NAME}logits"] = {**params[f"{NAME}logits"], "w": w}
    _, first = forward(params, None, x)
    assert jax.tree_util.tree_structure(first) == jax.tree_util.tree_structure(state)
    worst = {"init state": _worst(first, state), "outputs": 0.0, "new state": 0.0}
    for _ in range(3):
        out_dm, state_dm = f.apply(params, state, x)
        out, new = apply(params, state, x)
        worst["outputs"] = max(worst["outputs"], float(jnp.max(jnp.abs(out - out_dm))))
        worst["new state"] = max(worst["new state"], _worst(new, state_dm))
        state = state_dm
    print({k: f"{v:.2e}" for k, v in worst.items()}, f"(outputs up to {jnp.abs(out_dm).max():.1f})")
    assert all(v <= 1e-5 for v in worst.values()), worst
    print("hand-written ResNet18 = dm-haiku's within 1e-5 (init state, outputs, 3 steps' state)")


if __name__ == "__main__":
    check()
