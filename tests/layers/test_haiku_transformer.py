"""dm-haiku's transformer language model (examples/transformer/model.py) on minihaiku.

The model is written as in dm-haiku's example, dataclass modules included;
dm-haiku's initial params are converted with ``from_haiku`` and both are
trained for a few Adam steps: the losses agree step by step.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.core as mh
import minihaiku.initializers as mi
from minihaiku.layers import (
    Embed,
    LayerNorm,
    Linear,
    MultiHeadAttention,
    Sequential,
    dropout,
    from_haiku,
)

hk = pytest.importorskip("haiku")
optax = pytest.importorskip("optax")

pytestmark = pytest.mark.slow  # long: see tests/conftest.py

VOCAB, MODEL, HEADS, LAYERS, SEQ, BATCH, PAD = 32, 32, 4, 2, 12, 4, 0


# ---- dm-haiku, as in its examples/transformer/model.py ------------------------------------


def hk_layer_norm(x):
    return hk.LayerNorm(axis=-1, create_scale=True, create_offset=True)(x)


@dataclasses.dataclass
class HkTransformer(hk.Module):
    num_heads: int
    num_layers: int
    attn_size: int
    dropout_rate: float
    widening_factor: int = 4
    name: str | None = None

    def __call__(self, embeddings, mask):
        initializer = hk.initializers.VarianceScaling(2 / self.num_layers)
        _, seq_len, model_size = embeddings.shape
        mask = mask[:, None, None, :] * np.tril(np.ones((1, 1, seq_len, seq_len)))
        h = embeddings
        for _ in range(self.num_layers):
            attn = hk.MultiHeadAttention(
                num_heads=self.num_heads,
                key_size=self.attn_size,
                model_size=model_size,
                w_init=initializer,
            )
            h_norm = hk_layer_norm(h)
            h = h + hk.dropout(
                hk.next_rng_key(), self.dropout_rate, attn(h_norm, h_norm, h_norm, mask=mask)
            )
            dense = hk.Sequential(
                [
                    hk.Linear(self.widening_factor * model_size, w_init=initializer),
                    jax.nn.gelu,
                    hk.Linear(model_size, w_init=initializer),
                ]
            )
            h = h + hk.dropout(hk.next_rng_key(), self.dropout_rate, dense(hk_layer_norm(h)))
        return hk_layer_norm(h)


@dataclasses.dataclass
class HkLanguageModel(hk.Module):
    transformer: HkTransformer
    model_size: int
    vocab_size: int
    pad_token: int
    name: str | None = None

    def __call__(self, tokens):
        input_mask = tokens != self.pad_token
        embed_init = hk.initializers.TruncatedNormal(stddev=0.02)
        token_embeddings = hk.Embed(self.vocab_size, embed_dim=self.model_size, w_init=embed_init)(
            tokens
        )
        positional = hk.get_parameter(
            "positional_embeddings", [tokens.shape[1], self.model_size], init=embed_init
        )
        h = self.transformer(token_embeddings + positional, input_mask)
        return hk.Linear(self.vocab_size)(h)


# ---- the same on minihaiku --------------------------------------------------------------------


def mh_layer_norm(x):
    return LayerNorm(axis=-1, create_scale=True, create_offset=True)(x)


@dataclasses.dataclass
class Transformer(mh.Module):
    num_heads: int
    num_layers: int
    attn_size: int
    dropout_rate: float
    widening_factor: int = 4
    name: str | None = None

    def __call__(self, embeddings, mask):
        initializer = mi.variance_scaling(2 / self.num_layers)
        _, seq_len, model_size = embeddings.shape
        mask = mask[:, None, None, :] * np.tril(np.ones((1, 1, seq_len, seq_len)))
        h = embeddings
        for _ in range(self.num_layers):
            attn = MultiHeadAttention(
                num_heads=self.num_heads,
                key_size=self.attn_size,
                model_size=model_size,
                w_init=initializer,
            )
            h_norm = mh_layer_norm(h)
            h = h + dropout(
                mh.next_rng_key(), self.dropout_rate, attn(h_norm, h_norm, h_norm, mask=mask)
            )
            dense = Sequential(
                [
                    Linear(self.widening_factor * model_size, w_init=initializer),
                    jax.nn.gelu,
                    Linear(model_size, w_init=initializer),
                ]
            )
            h = h + dropout(mh.next_rng_key(), self.dropout_rate, dense(mh_layer_norm(h)))
        return mh_layer_norm(h)


@dataclasses.dataclass
class LanguageModel(mh.Module):
    transformer: Transformer
    model_size: int
    vocab_size: int
    pad_token: int
    name: str | None = None

    def __call__(self, tokens):
        input_mask = tokens != self.pad_token
        embed_init = mi.truncated_normal(stddev=0.02)
        token_embeddings = Embed(self.vocab_size, embed_dim=self.model_size, w_init=embed_init)(
            tokens
        )
        positional = mh.get_param(
            "positional_embeddings", (tokens.shape[1], self.model_size), init=embed_init
        )
        h = self.transformer(token_embeddings + positional, input_mask)
        return Linear(self.vocab_size)(h)


def lm_loss(forward):
    """Next-token cross-entropy over non-pad targets, as the example's train.py."""

    def loss(params, rng, tokens):
        logits = forward(params, rng, tokens[:, :-1])
        targets = jax.nn.one_hot(tokens[:, 1:], VOCAB)
        log_likelihood = jnp.sum(targets * jax.nn.log_softmax(logits), axis=-1)
        mask = tokens[:, 1:] != PAD
        return -jnp.sum(log_likelihood * mask) / jnp.sum(mask)

    return loss


def test_dm_haiku_transformer_language_model_trains_to_the_same_losses():
    def hk_fn(tokens):
        t = HkTransformer(
            num_heads=HEADS, num_layers=LAYERS, attn_size=MODEL // HEADS, dropout_rate=0.0
        )
        return HkLanguageModel(t, MODEL, VOCAB, PAD)(tokens)

    def mh_fn(tokens):
        t = Transformer(
            num_heads=HEADS, num_layers=LAYERS, attn_size=MODEL // HEADS, dropout_rate=0.0
        )
        return LanguageModel(t, MODEL, VOCAB, PAD)(tokens)

    tokens = jax.random.randint(jax.random.PRNGKey(1), (3, BATCH, SEQ + 1), 0, VOCAB)
    hk_model = hk.transform(hk_fn)
    mh_model = mh.transform(mh_fn, apply_rng=True)
    hk_params = hk_model.init(jax.random.PRNGKey(0), tokens[0, :, :-1])
    params = from_haiku(hk_params, mh_model.init(0, tokens[0, :, :-1]))
    # The dataclass modules and the Embed table land where the example expects them.
    assert "~/LanguageModel_0/__call__/positional_embeddings" in params
    assert "~/LanguageModel_0/__call__/Embed_0/embeddings" in params
    assert len(params) == sum(len(v) for v in hk_params.values())

    def run(loss_fn, params):
        optimizer = optax.adam(1e-3)
        opt_state = optimizer.init(params)
        step = jax.jit(
            lambda p, s, b: (lambda lg: (lg[0], *optimizer.update(lg[1], s, p)))(
                jax.value_and_grad(loss_fn)(p, jax.random.PRNGKey(2), b)
            )
        )
        losses = []
        for batch in (tokens[0], tokens[0], tokens[0], tokens[1]):
            loss, updates, opt_state = step(params, opt_state, batch)
            params = optax.apply_updates(params, updates)
            losses.append(float(loss))
        return losses

    hk_losses = run(lm_loss(hk_model.apply), hk_params)
    mh_losses = run(lm_loss(mh_model.apply), params)
    np.testing.assert_allclose(mh_losses, hk_losses, rtol=1e-5)
    assert hk_losses[2] < hk_losses[1] < hk_losses[0]  # it learns the repeated batch
