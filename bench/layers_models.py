"""The models that bench/layers.py times, one builder per implementation.

Every builder returns an ``Impl``: ``init(key) -> (params, state)`` and
``apply(params, state, x) -> (out, state)``, where ``params`` is a pytree of
arrays only (what a train step differentiates) and ``state`` the rest (batch
norm statistics; empty for the transformer block). Each library uses its own
default initializers (where a weight initializer is required: variance
scaling 1.0), so initial values differ between implementations; the programs
compute the same architecture.

Transformer block (pre-LayerNorm): ``x + MHA(LN(x))`` with a causal mask, then
``x + MLP(LN(x))`` with a gelu hidden layer of 4 * model size.

ResNet18 (v1, as dm-haiku's ``hk.nets.ResNet18``): 7x7/2 conv, batch norm,
relu, 3x3/2 max pool, four groups of two basic blocks (64, 128, 256, 512
channels, strides 1, 2, 2, 2, a projection shortcut in the first block of
groups 2-4), spatial mean, a linear layer; batch norm in training mode
(batch statistics, moving averages updated in the state).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

B, T, D, H = 8, 128, 256, 4  # transformer: batch, sequence, model size, heads
IMAGE = (4, 32, 32, 3)  # ResNet18 input, NHWC (64x64 takes seconds per step on 2 cores)
CLASSES = 10
CHANNELS = (64, 128, 256, 512)
STRIDES = (1, 2, 2, 2)
PROJECTION = (False, True, True, True)  # hk.nets.ResNet.CONFIGS[18]


class Impl(NamedTuple):
    init: Callable[[jax.Array], tuple[Any, Any]]
    apply: Callable[[Any, Any, jax.Array], tuple[jax.Array, Any]]


def _no_state(init: Callable[[jax.Array], Any], apply: Callable[..., jax.Array]) -> Impl:
    return Impl(lambda k: (init(k), {}), lambda p, s, x: (apply(p, x), s))


# ---------------------------------------------------------------- transformer block


def transformer_pure() -> Impl:
    """Hand-written JAX: a dict of arrays and one function."""

    def dense(key: jax.Array, n_in: int, n_out: int) -> dict[str, jax.Array]:
        return {"w": jax.random.normal(key, (n_in, n_out)) / np.sqrt(n_in), "b": jnp.zeros(n_out)}

    def norm() -> dict[str, jax.Array]:
        return {"scale": jnp.ones(D), "offset": jnp.zeros(D)}

    def init(key: jax.Array) -> dict[str, Any]:
        kq, kk, kv, ko, k1, k2 = jax.random.split(key, 6)
        return {
            "ln1": norm(),
            "q": dense(kq, D, D),
            "k": dense(kk, D, D),
            "v": dense(kv, D, D),
            "o": dense(ko, D, D),
            "ln2": norm(),
            "fc1": dense(k1, D, 4 * D),
            "fc2": dense(k2, 4 * D, D),
        }

    def layer_norm(p: dict[str, jax.Array], x: jax.Array) -> jax.Array:
        mean = jnp.mean(x, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
        return (x - mean) * jax.lax.rsqrt(var + 1e-5) * p["scale"] + p["offset"]

    def linear(p: dict[str, jax.Array], x: jax.Array) -> jax.Array:
        return x @ p["w"] + p["b"]

    def apply(p: dict[str, Any], x: jax.Array) -> jax.Array:
        b, t, _ = x.shape
        k = D // H
        h = layer_norm(p["ln1"], x)
        q, kk, v = (linear(p[n], h).reshape(b, t, H, k) for n in ("q", "k", "v"))
        logits = jnp.einsum("bthd,bThd->bhtT", q, kk) / np.sqrt(k).astype(x.dtype)
        logits = jnp.where(jnp.tril(jnp.ones((t, t), bool)), logits, -1e30)
        attn = jnp.einsum("bhtT,bThd->bthd", jax.nn.softmax(logits), v).reshape(b, t, D)
        x = x + linear(p["o"], attn)
        h = layer_norm(p["ln2"], x)
        return x + linear(p["fc2"], jax.nn.gelu(linear(p["fc1"], h)))

    return _no_state(init, apply)


def transformer_minihaiku() -> Impl:
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
    x = jnp.ones((B, T, D))
    return _no_state(lambda k: f.init(k, x), f.apply)


def transformer_haiku() -> Impl:
    import haiku as hk

    def block(x: jax.Array) -> jax.Array:
        t = x.shape[-2]
        mask = jnp.tril(jnp.ones((1, 1, t, t), bool))
        h = hk.LayerNorm(axis=-1, create_scale=True, create_offset=True)(x)
        attn = hk.MultiHeadAttention(
            num_heads=H, key_size=D // H, w_init=hk.initializers.VarianceScaling(1.0)
        )
        x = x + attn(h, h, h, mask)
        h = hk.LayerNorm(axis=-1, create_scale=True, create_offset=True)(x)
        return x + hk.nets.MLP([4 * D, D], activation=jax.nn.gelu)(h)

    f = hk.without_apply_rng(hk.transform(block))
    x = jnp.ones((B, T, D))
    return _no_state(lambda k: f.init(k, x), f.apply)


def _nnx_impl(make: Callable[[Any], Any], copy: bool = False) -> Impl:
    """``make(rngs) -> nnx.Module``, split into (params, other state) as nnx does.

    ``copy=True`` for models that update their state (batch norm): ``nnx.merge``
    then builds new Variables, so that a functional ``apply`` (and ``grad`` of it)
    never mutates the state it was given; without it nnx raises a
    ``TraceContextError`` under ``grad`` and mutates the caller's state un-jitted.
    """
    from flax import nnx

    graphdef, _, _ = nnx.split(nnx.eval_shape(lambda: make(nnx.Rngs(0))), nnx.Param, ...)

    def init(key: jax.Array) -> tuple[Any, Any]:
        _, params, rest = nnx.split(make(nnx.Rngs(key)), nnx.Param, ...)
        return params, rest

    def apply(params: Any, rest: Any, x: jax.Array) -> tuple[jax.Array, Any]:
        model = nnx.merge(graphdef, params, rest, copy=copy)
        out = model(x)
        return out, nnx.split(model, nnx.Param, ...)[2]

    return Impl(init, apply)


def transformer_flax() -> Impl:
    from flax import nnx

    class Block(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.ln1 = nnx.LayerNorm(D, epsilon=1e-5, rngs=rngs)
            self.attn = nnx.MultiHeadAttention(
                num_heads=H, in_features=D, decode=False, keep_rngs=False, rngs=rngs
            )
            self.ln2 = nnx.LayerNorm(D, epsilon=1e-5, rngs=rngs)
            self.fc1 = nnx.Linear(D, 4 * D, rngs=rngs)
            self.fc2 = nnx.Linear(4 * D, D, rngs=rngs)

        def __call__(self, x: jax.Array) -> jax.Array:
            mask = nnx.make_causal_mask(x[..., 0])
            x = x + self.attn(self.ln1(x), mask=mask)
            return x + self.fc2(jax.nn.gelu(self.fc1(self.ln2(x))))

    return _nnx_impl(Block)


def _eqx_impl(make: Callable[[jax.Array], Any], call: Callable[..., Any]) -> Impl:
    """``make(key) -> eqx.Module``; ``call(model, state, x)`` runs it on a batch."""
    import equinox as eqx

    def init(key: jax.Array) -> tuple[Any, Any]:
        model, state = eqx.nn.make_with_state(make)(key)
        return eqx.filter(model, eqx.is_array), state

    model, _ = eqx.nn.make_with_state(make)(jax.random.PRNGKey(0))
    static = eqx.filter(model, eqx.is_array, inverse=True)
    return Impl(init, lambda p, s, x: call(eqx.combine(p, static), s, x))


def transformer_equinox() -> Impl:
    import equinox as eqx

    class Block(eqx.Module):
        ln1: eqx.nn.LayerNorm
        attn: eqx.nn.MultiheadAttention
        ln2: eqx.nn.LayerNorm
        fc1: eqx.nn.Linear
        fc2: eqx.nn.Linear

        def __init__(self, key: jax.Array) -> None:
            ka, k1, k2 = jax.random.split(key, 3)
            self.ln1 = eqx.nn.LayerNorm(D)
            bias = dict.fromkeys(("use_query_bias", "use_key_bias", "use_value_bias"), True)
            self.attn = eqx.nn.MultiheadAttention(H, D, **bias, use_output_bias=True, key=ka)
            self.ln2 = eqx.nn.LayerNorm(D)
            self.fc1 = eqx.nn.Linear(D, 4 * D, key=k1)
            self.fc2 = eqx.nn.Linear(4 * D, D, key=k2)

        def __call__(self, x: jax.Array) -> jax.Array:  # one sequence, (T, D)
            t = x.shape[0]
            h = jax.vmap(self.ln1)(x)
            x = x + self.attn(h, h, h, mask=jnp.tril(jnp.ones((t, t), bool)))
            h = jax.vmap(self.ln2)(x)
            return x + jax.vmap(self.fc2)(jax.nn.gelu(jax.vmap(self.fc1)(h)))

    return _eqx_impl(Block, lambda model, s, x: (jax.vmap(model)(x), s))


# ---------------------------------------------------------------- ResNet18


def resnet18_minihaiku() -> Impl:
    from minihaiku.core import transform_with_state
    from minihaiku.layers.nets import ResNet18

    f = transform_with_state(lambda x: ResNet18(CLASSES)(x, is_training=True))
    x = jnp.ones(IMAGE)
    return Impl(lambda k: f.init(k, x), f.apply)


def resnet18_haiku() -> Impl:
    import haiku as hk

    f = hk.without_apply_rng(
        hk.transform_with_state(lambda x: hk.nets.ResNet18(CLASSES)(x, is_training=True))
    )
    x = jnp.ones(IMAGE)
    return Impl(lambda k: f.init(k, x), f.apply)


def resnet18_flax() -> Impl:
    from flax import nnx

    def conv(c_in: int, c_out: int, k: int, stride: int, rngs: nnx.Rngs) -> nnx.Conv:
        return nnx.Conv(
            c_in, c_out, (k, k), strides=stride, padding="SAME", use_bias=False, rngs=rngs
        )

    def bn(c: int, rngs: nnx.Rngs) -> nnx.BatchNorm:
        return nnx.BatchNorm(c, momentum=0.9, epsilon=1e-5, rngs=rngs)

    class Block(nnx.Module):
        def __init__(self, c_in: int, c_out: int, stride: int, proj: bool, rngs: nnx.Rngs) -> None:
            self.proj = nnx.List(
                [conv(c_in, c_out, 1, stride, rngs), bn(c_out, rngs)] if proj else []
            )
            self.conv0, self.bn0 = conv(c_in, c_out, 3, stride, rngs), bn(c_out, rngs)
            self.conv1, self.bn1 = conv(c_out, c_out, 3, 1, rngs), bn(c_out, rngs)

        def __call__(self, x: jax.Array) -> jax.Array:
            shortcut = self.proj[1](self.proj[0](x)) if self.proj else x
            out = jax.nn.relu(self.bn0(self.conv0(x)))
            return jax.nn.relu(self.bn1(self.conv1(out)) + shortcut)

    class ResNet18(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.conv, self.bn = conv(IMAGE[-1], 64, 7, 2, rngs), bn(64, rngs)
            blocks, c_in = [], 64
            for c, stride, proj in zip(CHANNELS, STRIDES, PROJECTION, strict=True):
                blocks += [Block(c_in, c, stride, proj, rngs), Block(c, c, 1, False, rngs)]
                c_in = c
            self.blocks = nnx.List(blocks)
            self.logits = nnx.Linear(c_in, CLASSES, kernel_init=nnx.initializers.zeros, rngs=rngs)

        def __call__(self, x: jax.Array) -> jax.Array:
            x = jax.nn.relu(self.bn(self.conv(x)))
            x = nnx.max_pool(x, (3, 3), strides=(2, 2), padding="SAME")
            for block in self.blocks:
                x = block(x)
            return self.logits(jnp.mean(x, axis=(1, 2)))

    return _nnx_impl(ResNet18, copy=True)


def resnet18_equinox() -> Impl:
    import equinox as eqx

    def conv(c_in: int, c_out: int, k: int, stride: int, key: jax.Array) -> eqx.nn.Conv2d:
        return eqx.nn.Conv2d(c_in, c_out, k, stride, padding="SAME", use_bias=False, key=key)

    def bn(c: int) -> eqx.nn.BatchNorm:
        return eqx.nn.BatchNorm(c, axis_name="batch", momentum=0.9, eps=1e-5, mode="ema")

    class Block(eqx.Module):
        proj: list[Any]
        conv0: eqx.nn.Conv2d
        bn0: eqx.nn.BatchNorm
        conv1: eqx.nn.Conv2d
        bn1: eqx.nn.BatchNorm

        def __init__(self, c_in: int, c_out: int, stride: int, proj: bool, key: jax.Array) -> None:
            kp, k0, k1 = jax.random.split(key, 3)
            self.proj = [conv(c_in, c_out, 1, stride, kp), bn(c_out)] if proj else []
            self.conv0, self.bn0 = conv(c_in, c_out, 3, stride, k0), bn(c_out)
            self.conv1, self.bn1 = conv(c_out, c_out, 3, 1, k1), bn(c_out)

        def __call__(self, x: jax.Array, state: Any) -> tuple[jax.Array, Any]:
            shortcut = x
            if self.proj:
                shortcut, state = self.proj[1](self.proj[0](x), state)
            out, state = self.bn0(self.conv0(x), state)
            out, state = self.bn1(self.conv1(jax.nn.relu(out)), state)
            return jax.nn.relu(out + shortcut), state

    class ResNet18(eqx.Module):
        conv: eqx.nn.Conv2d
        bn: eqx.nn.BatchNorm
        pool: eqx.nn.MaxPool2d
        blocks: list[Block]
        logits: eqx.nn.Linear

        def __init__(self, key: jax.Array) -> None:
            keys = iter(jax.random.split(key, 10))
            self.conv, self.bn = conv(IMAGE[-1], 64, 7, 2, next(keys)), bn(64)
            self.pool = eqx.nn.MaxPool2d(3, 2, padding=((0, 1), (0, 1)))  # SAME on even sizes
            self.blocks, c_in = [], 64
            for c, stride, proj in zip(CHANNELS, STRIDES, PROJECTION, strict=True):
                self.blocks += [
                    Block(c_in, c, stride, proj, next(keys)),
                    Block(c, c, 1, False, next(keys)),
                ]
                c_in = c
            logits = eqx.nn.Linear(c_in, CLASSES, key=next(keys))
            self.logits = eqx.tree_at(lambda m: m.weight, logits, jnp.zeros_like(logits.weight))

        def __call__(self, x: jax.Array, state: Any) -> tuple[jax.Array, Any]:  # x: (H, W, C)
            x, state = self.bn(self.conv(jnp.transpose(x, (2, 0, 1))), state)
            x = self.pool(jax.nn.relu(x))
            for block in self.blocks:
                x, state = block(x, state)
            return self.logits(jnp.mean(x, axis=(1, 2))), state

    def call(model: Any, state: Any, x: jax.Array) -> tuple[jax.Array, Any]:
        batched = jax.vmap(model, axis_name="batch", in_axes=(0, None), out_axes=(0, None))
        return batched(x, state)  # type: ignore[no-any-return]

    return _eqx_impl(ResNet18, call)
