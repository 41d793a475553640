"""dm-haiku style programs run unchanged on minihaiku.haiku: same losses at every optimizer step.

Each program below is written once against an ``hk`` module and trained for a
few adam steps twice: with ``import haiku as hk`` and with ``import
minihaiku.haiku as hk``. The losses must agree at every step (float32
rounding), the trained params must have the same names and shapes, and (where
the program draws keys or keeps state) the same keys and state. The programs
are small versions of dm-haiku's examples: an MNIST MLP, a VAE, a transformer
language model, a ResNet step with BatchNorm, a VQ-VAE, the IMPALA network and
an LSTM language model; and a dm-haiku checkpoint that training continues from.
"""

import pickle

import haiku
import jax
import jax.numpy as jnp
import numpy as np
import optax

import minihaiku.haiku as mhk

STEPS = 3


def fit(hk, forward, batch, *, steps=STEPS, params=None, opt_state=None, rng_apply=True):
    """Trains ``forward(batch) -> loss`` (transform_with_state) with adam; (params, losses)."""
    f = hk.transform_with_state(forward)
    init_params, state = f.init(jax.random.PRNGKey(0), batch)
    params = init_params if params is None else params
    opt = optax.adam(1e-3)
    opt_state = opt.init(params) if opt_state is None else opt_state

    @jax.jit
    def step(params, state, opt_state, rng):
        def objective(p):
            return f.apply(p, state, rng if rng_apply else None, batch)

        (loss, state), grads = jax.value_and_grad(objective, has_aux=True)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), state, opt_state, loss

    losses = []
    for i in range(steps):
        params, state, opt_state, loss = step(params, state, opt_state, jax.random.PRNGKey(i + 1))
        losses.append(float(loss))
    return params, state, opt_state, losses


def assert_same_run(program, batch, **kwargs):
    ref = fit(haiku, lambda b: program(haiku, b), batch, **kwargs)
    got = fit(mhk, lambda b: program(mhk, b), batch, **kwargs)
    np.testing.assert_allclose(got[3], ref[3], rtol=2e-5, atol=1e-6)
    assert_close(got[0], ref[0])
    return ref, got


def assert_close(got, ref):
    assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(ref)
    for a, b in zip(jax.tree_util.tree_leaves(ref), jax.tree_util.tree_leaves(got), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def mnist(hk, batch):
    images, labels = batch
    net = hk.Sequential(
        [hk.Flatten(), hk.Linear(64), jax.nn.relu, hk.Linear(32), jax.nn.relu, hk.Linear(10)]
    )
    logits = net(images.astype(jnp.float32) / 255.0)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def vae(hk, batch):
    x = hk.Flatten()(batch)
    h = jax.nn.relu(hk.Linear(32, name="encoder_hidden")(x))
    mean, log_std = hk.Linear(8, name="mean")(h), hk.Linear(8, name="log_std")(h)
    z = mean + jnp.exp(log_std) * jax.random.normal(hk.next_rng_key(), mean.shape)
    logits = hk.nets.MLP([32, x.shape[-1]], name="decoder")(z)
    nll = optax.sigmoid_binary_cross_entropy(logits, x).sum(-1)
    kl = 0.5 * (jnp.exp(2 * log_std) + mean**2 - 1 - 2 * log_std).sum(-1)
    return (nll + kl).mean()


def transformer_lm(hk, tokens):
    vocab, d, t = 32, 32, tokens.shape[1]
    x = hk.Embed(vocab, d)(tokens)
    x = x + hk.get_parameter("positions", (t, d), init=hk.initializers.TruncatedNormal(0.02))
    mask = jnp.tril(jnp.ones((1, 1, t, t), bool))
    for i in range(2):
        h = hk.LayerNorm(axis=-1, create_scale=True, create_offset=True, name=f"ln_{i}")(x)
        attn = hk.MultiHeadAttention(4, d // 4, w_init=hk.initializers.VarianceScaling(1.0))
        x = x + attn(h, h, h, mask)
        h = hk.LayerNorm(axis=-1, create_scale=True, create_offset=True)(x)
        x = x + hk.nets.MLP([2 * d, d], activation=jax.nn.gelu)(h)
        x = hk.dropout(hk.next_rng_key(), 0.1, x)
    logits = hk.Linear(vocab)(hk.LayerNorm(-1, True, True)(x))
    targets = jnp.roll(tokens, -1, axis=1)
    return optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean()


def resnet_step(hk, batch):
    images, labels = batch
    logits = hk.nets.ResNet18(10, resnet_v2=False)(images, is_training=True)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def vqvae(hk, images):
    z = jax.nn.relu(hk.Conv2D(16, 4, stride=2)(images))
    z = hk.Conv2D(8, 1, name="to_vq")(z)
    vq = hk.nets.VectorQuantizerEMA(8, 16, commitment_cost=0.25, decay=0.99)
    out = vq(z, is_training=True)
    recon = hk.Conv2DTranspose(images.shape[-1], 4, stride=2)(out["quantize"])
    return jnp.mean((recon - images) ** 2) + out["loss"]


def impala(hk, batch):
    frames, actions = batch
    x = frames
    for i, channels in enumerate((8, 16)):
        x = hk.Conv2D(channels, 3, name=f"conv_{i}")(x)
        x = hk.max_pool(x, window_shape=(1, 3, 3, 1), strides=(1, 2, 2, 1), padding="SAME")
        for j in range(2):
            y = hk.Conv2D(channels, 3, name=f"res_{i}_{j}_a")(jax.nn.relu(x))
            x = x + hk.Conv2D(channels, 3, name=f"res_{i}_{j}_b")(jax.nn.relu(y))
    x = jax.nn.relu(hk.Linear(32)(hk.Flatten()(jax.nn.relu(x))))
    logits = hk.Linear(6, name="policy_logits")(x)
    baseline = hk.Linear(1, name="baseline")(x)
    return optax.softmax_cross_entropy_with_integer_labels(logits, actions).mean() + jnp.mean(
        baseline**2
    )


def lstm_lm(hk, tokens):
    core = hk.DeepRNN([hk.LSTM(16), jax.nn.relu, hk.LSTM(16)])
    x = jax.nn.one_hot(tokens, 12)
    outs, _ = hk.dynamic_unroll(core, x, core.initial_state(tokens.shape[1]), time_major=True)
    logits = hk.Linear(12)(outs)
    return optax.softmax_cross_entropy_with_integer_labels(logits, jnp.roll(tokens, -1, 0)).mean()


def data(seed, *shapes_and_bounds):
    keys = jax.random.split(jax.random.PRNGKey(seed), len(shapes_and_bounds))
    out = []
    for k, (shape, bound) in zip(keys, shapes_and_bounds, strict=True):
        if bound is None:
            out.append(jax.random.uniform(k, shape))
        else:
            out.append(jax.random.randint(k, shape, 0, bound))
    return tuple(out) if len(out) > 1 else out[0]


def test_mnist_mlp():
    assert_same_run(mnist, data(1, ((8, 28, 28, 1), 256), ((8,), 10)), rng_apply=False)


def test_vae_draws_the_same_keys():
    assert_same_run(vae, data(2, ((8, 8, 8), None)))


def test_transformer_language_model_with_dropout():
    assert_same_run(transformer_lm, data(3, ((4, 16), 32)))


def test_resnet_step_with_batch_norm_state():
    (ref, got) = assert_same_run(
        resnet_step, data(4, ((2, 32, 32, 3), None), ((2,), 10)), steps=2, rng_apply=False
    )
    assert_close(got[1], ref[1])  # the state too


def test_vqvae_with_ema_state():
    (ref, got) = assert_same_run(vqvae, data(5, ((2, 8, 8, 3), None)), rng_apply=False)
    assert_close(got[1], ref[1])  # the state too


def test_impala_network():
    assert_same_run(impala, data(6, ((2, 16, 16, 3), None), ((2,), 6)), rng_apply=False)


def test_lstm_language_model():
    assert_same_run(lstm_lm, data(7, ((10, 4), 12)), rng_apply=False)


def test_a_dm_haiku_checkpoint_trains_on(tmp_path):
    batch = data(8, ((8, 28, 28, 1), 256), ((8,), 10))
    params, _, opt_state, _ = fit(haiku, lambda b: mnist(haiku, b), batch, rng_apply=False)
    path = tmp_path / "checkpoint.pkl"
    path.write_bytes(pickle.dumps(jax.device_get((params, opt_state))))
    params, opt_state = pickle.loads(path.read_bytes())
    kwargs = {"params": params, "opt_state": opt_state, "rng_apply": False}
    ref = fit(haiku, lambda b: mnist(haiku, b), batch, **kwargs)
    got = fit(mhk, lambda b: mnist(mhk, b), batch, **kwargs)
    np.testing.assert_allclose(got[3], ref[3], rtol=2e-5, atol=1e-6)
