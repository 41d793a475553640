"""Real small models trained end to end through train(): minibatches, metrics, evaluation,
checkpoints, and a resume that is bit-identical to one uninterrupted run.

Each model is trained twice: run A does all ``STEPS`` steps in one call; run B does
``STEPS // 2`` steps, checkpoints, and a second call resumes from the checkpoint to
``STEPS``. Params, model state, optimizer state, losses, per-step metrics, evaluations and
the ``history.jsonl`` file must be equal bit for bit.
"""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.datasets import load_digits

from minihaiku.core import next_rng_key, transform, transform_with_state
from minihaiku.layers import MLP, BatchNorm, Linear
from minihaiku.training import Loss, accuracy, softmax_cross_entropy, train

STEPS = 12

digits = load_digits()
DX = (digits.data / 16.0).astype(np.float32)  # (1797, 64), pixels in [0, 1]
DY = digits.target.astype(np.int32)
TRAIN_X, TRAIN_Y = DX[:1500], DY[:1500]
EVAL_X, EVAL_Y = DX[1500:], DY[1500:]


def leaves_equal(got, want):
    """Asserts two pytrees have the same structure and bit-identical leaves."""
    got_leaves, got_def = jax.tree_util.tree_flatten(got)
    want_leaves, want_def = jax.tree_util.tree_flatten(want)
    assert got_def == want_def
    for a, b in zip(got_leaves, want_leaves, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def history_lines(directory):
    return [json.loads(line) for line in (directory / "history.jsonl").read_text().splitlines()]


def train_whole_and_resumed(tmp_path, loss, params, data, optimizer, **kw):
    """Runs A (all steps) and B (half, then resumed from the checkpoint); returns both."""
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    whole = train(loss, params, data, optimizer, STEPS, checkpoint_dir=a_dir, **kw)
    first = train(loss, params, data, optimizer, STEPS // 2, checkpoint_dir=b_dir, **kw)
    second = train(loss, params, data, optimizer, STEPS, checkpoint_dir=b_dir, resume=True, **kw)
    assert first.checkpoints == [STEPS // 2]
    # The same seed gives the same run: B's first half is A's first half.
    np.testing.assert_array_equal(first.losses, whole.losses[: STEPS // 2])
    assert second.resumed_from == STEPS // 2 and second.step == STEPS
    leaves_equal(second.params, whole.params)
    leaves_equal(second.opt_state, whole.opt_state)
    leaves_equal(second.state, whole.state)
    np.testing.assert_array_equal(second.losses, whole.losses)
    assert sorted(second.metrics) == sorted(whole.metrics)
    for name in whole.metrics:
        np.testing.assert_array_equal(
            np.concatenate([first.metrics[name], second.metrics[name]]), whole.metrics[name]
        )
    assert first.evals + second.evals == whole.evals
    assert history_lines(b_dir) == history_lines(a_dir)
    assert second.final_loss == whole.final_loss
    return whole, first, second


# -- a classifier: MLP on scikit-learn's digits ------------------------------------------


classifier = transform(lambda x: MLP([64, 10])(x))


def test_a_digits_classifier_learns_and_resumes_bit_identically(tmp_path):
    params = classifier.init(0, TRAIN_X)
    whole, first, second = train_whole_and_resumed(
        tmp_path,
        softmax_cross_entropy(classifier),
        params,
        (TRAIN_X, TRAIN_Y),
        optax.adam(1e-2),
        batch_size=128,
        seed=3,
        steps_per_dispatch=6,
        evaluate=accuracy(classifier),
        eval_data=(EVAL_X, EVAL_Y),
        eval_every=6,
        progress=False,
    )
    assert sorted(whole.metrics) == ["accuracy"]
    assert whole.metrics["accuracy"].shape == (STEPS,)
    assert [step for step, _ in whole.evals] == [6, 12]
    # 12 adam steps take the held-out accuracy from chance (0.1) to well above it.
    assert whole.evals[-1][1]["accuracy"] > 0.6
    assert whole.losses[-1] < whole.losses[0] - 0.5
    # The per-step accuracy is that of the params before the step, on that step's batch.
    idx = np.random.default_rng((3, 0)).permutation(len(TRAIN_X))[:128]
    logits = classifier.apply(params, TRAIN_X[idx])
    want = float(jnp.mean(jnp.argmax(logits, -1) == TRAIN_Y[idx]))
    assert whole.metrics["accuracy"][0] == pytest.approx(want)
    # The evaluation is the accuracy of the final params on the held-out set.
    final = classifier.apply(whole.params, EVAL_X)
    assert whole.evals[-1][1]["accuracy"] == pytest.approx(
        float(jnp.mean(jnp.argmax(final, -1) == EVAL_Y))
    )


# -- a VAE: encoder -> (mean, log-var), a sample with next_rng_key(), decoder --------------

LATENT = 4


def vae_forward(x, sample=True):
    hidden = jax.nn.relu(Linear(32, name="encoder")(x))
    mean = Linear(LATENT, name="mean")(hidden)
    log_var = Linear(LATENT, name="log_var")(hidden)
    z = mean
    if sample:  # the reparameterized sample, with this step's key
        z = mean + jnp.exp(0.5 * log_var) * jax.random.normal(next_rng_key(), mean.shape)
    logits = MLP([32, x.shape[-1]], name="decoder")(z)
    return logits, mean, log_var


vae = transform(vae_forward, apply_rng=True)


def reconstruction(logits, x):
    return jnp.mean(jnp.sum(optax.sigmoid_binary_cross_entropy(logits, x), axis=-1))


def vae_loss_fn(params, batch, key):
    logits, mean, log_var = vae.apply(params, key, batch)
    recon = reconstruction(logits, batch)
    kl = jnp.mean(-0.5 * jnp.sum(1 + log_var - mean**2 - jnp.exp(log_var), axis=-1))
    return recon + kl, {"reconstruction": recon, "kl": kl}


vae_loss = Loss(vae_loss_fn, rng=True, has_aux=True)


def vae_evaluate(params, batch):
    # Evaluation gets no key: decode the mean.
    logits, _, _ = vae.apply(params, None, batch, False)
    return {"reconstruction": reconstruction(logits, batch)}


VAE_KW = dict(steps_per_dispatch=3, progress=False)


def test_a_vae_with_a_key_per_step_logs_both_terms_and_resumes_bit_identically(tmp_path):
    params = vae.init(0, TRAIN_X)
    assert sorted(params) == [
        "~/decoder/__call__/Linear_0/__call__/b",
        "~/decoder/__call__/Linear_0/__call__/w",
        "~/decoder/__call__/Linear_1/__call__/b",
        "~/decoder/__call__/Linear_1/__call__/w",
        "~/encoder/__call__/b",
        "~/encoder/__call__/w",
        "~/log_var/__call__/b",
        "~/log_var/__call__/w",
        "~/mean/__call__/b",
        "~/mean/__call__/w",
    ]
    whole, _, _ = train_whole_and_resumed(
        tmp_path,
        vae_loss,
        params,
        TRAIN_X,
        optax.adam(3e-3),
        seed=7,
        batch_size=64,
        evaluate=vae_evaluate,
        eval_data=EVAL_X,
        eval_every=3,
        **VAE_KW,
    )
    assert sorted(whole.metrics) == ["kl", "reconstruction"]
    # The loss is the sum of the two logged terms at every step.
    np.testing.assert_allclose(
        whole.losses, whole.metrics["reconstruction"] + whole.metrics["kl"], rtol=1e-5
    )
    assert whole.metrics["reconstruction"][-1] < whole.metrics["reconstruction"][0]
    assert [step for step, _ in whole.evals] == [3, 6, 9, 12]
    # Step 0 sees the key fold_in(key(seed), 0) and the first shuffled batch.
    idx = np.random.default_rng((7, 0)).permutation(len(TRAIN_X))[:64]
    value, _ = vae_loss_fn(params, TRAIN_X[idx], jax.random.fold_in(jax.random.key(7), 0))
    assert whole.losses[0] == pytest.approx(float(value), rel=1e-6)


def test_a_vae_trained_with_another_seed_draws_other_keys():
    params = vae.init(0, TRAIN_X)
    one = train(vae_loss, params, EVAL_X, optax.sgd(0.0), 3, seed=1, **VAE_KW)
    other = train(vae_loss, params, EVAL_X, optax.sgd(0.0), 3, seed=2, **VAE_KW)
    # A zero learning rate and one full batch: only the key differs between steps and seeds.
    assert len(set(one.losses.tolist())) == 3
    assert np.all(other.losses != one.losses)
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(2), i))(jnp.arange(3))
    want = jax.jit(jax.vmap(lambda k: vae_loss_fn(params, EVAL_X, k)[0]))(keys)
    np.testing.assert_allclose(other.losses, want, rtol=1e-6)


# -- a BatchNorm model: state carried, checkpointed, restored; evaluation in test mode -----


def bn_forward(x, is_training=True):
    # No bias before BatchNorm (as usual): its gradient is rounding noise, which adam
    # turns into steps of up to the learning rate, so a last-bit change anywhere in
    # the compiled step would move it, and the comparison with a hand loop below
    # would test the noise.
    x = Linear(32, with_bias=False)(x)
    x = BatchNorm(create_scale=True, create_offset=True, decay_rate=0.9)(x, is_training)
    return Linear(10)(jax.nn.relu(x))


bn_model = transform_with_state(bn_forward)


def bn_evaluate(params, state, batch):
    x, y = batch
    logits, _ = bn_model.apply(params, state, x, False)  # the moving averages, not the batch's
    return {"accuracy": jnp.mean(jnp.argmax(logits, -1) == y)}


def test_a_batch_norm_model_carries_checkpoints_and_restores_its_state(tmp_path):
    params, state = bn_model.init(0, TRAIN_X)
    counter = "~/BatchNorm_0/mean_ema/counter"
    average = "~/BatchNorm_0/mean_ema/average"
    assert int(state[counter]) == 0
    whole, first, second = train_whole_and_resumed(
        tmp_path,
        softmax_cross_entropy(bn_model),
        params,
        (TRAIN_X, TRAIN_Y),
        optax.adam(1e-2),
        state=state,
        batch_size=100,
        steps_per_dispatch=6,
        evaluate=bn_evaluate,
        eval_data=(EVAL_X, EVAL_Y),
        eval_every=6,
        progress=False,
    )
    # One moving-average update per step, carried across the resume.
    assert int(first.state[counter]) == STEPS // 2
    assert int(whole.state[counter]) == STEPS
    assert not np.array_equal(whole.state[average], state[average])
    assert whole.evals[-1][1]["accuracy"] > 0.5
    # The evaluation used the final state in test mode.
    want = bn_evaluate(whole.params, whole.state, (EVAL_X, EVAL_Y))["accuracy"]
    assert whole.evals[-1][1]["accuracy"] == pytest.approx(float(want))
    # The state and params match a hand-written optax loop over the same batches.
    p, s, opt = dict(params), dict(state), optax.adam(1e-2)
    o = opt.init(p)

    @jax.jit
    def update(p, s, o, x, y):
        def objective(p):
            logits, s2 = bn_model.apply(p, s, x, True)
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y)), s2

        (_, s2), g = jax.value_and_grad(objective, has_aux=True)(p)
        u, o = opt.update(g, o, p)
        return optax.apply_updates(p, u), s2, o

    per_epoch = len(TRAIN_X) // 100
    for i in range(STEPS // 2):
        epoch, j = divmod(i, per_epoch)
        idx = np.random.default_rng((0, epoch)).permutation(len(TRAIN_X))[j * 100 : (j + 1) * 100]
        p, s, o = update(p, s, o, TRAIN_X[idx], TRAIN_Y[idx])
    for k in state:
        np.testing.assert_allclose(first.state[k], s[k], rtol=1e-5, atol=1e-6)
    for k in params:
        np.testing.assert_allclose(first.params[k], p[k], rtol=1e-5, atol=1e-6)
