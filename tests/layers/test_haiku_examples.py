"""dm-haiku's examples run on minihaiku with converted params: the same losses, step by step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import transform
from minihaiku.layers import LSTM, MLP, DeepRNN, Linear, dynamic_unroll, from_haiku

hk = pytest.importorskip("haiku")
optax = pytest.importorskip("optax")


def adam_steps(loss_fn, params, batches, lr=1e-3):
    """Losses before each step, and the params after the last one (jitted, like the examples)."""
    optimizer = optax.adam(lr)

    @jax.jit
    def update(params, opt_state, batch):
        loss, grads = jax.value_and_grad(loss_fn)(params, batch)
        updates, opt_state = optimizer.update(grads, opt_state)
        return loss, optax.apply_updates(params, updates), opt_state

    opt_state = optimizer.init(params)
    losses = []
    for batch in batches:
        loss, params, opt_state = update(params, opt_state, batch)
        losses.append(float(loss))
    losses.append(float(jax.jit(loss_fn)(params, batches[-1])))
    return losses, params


# ---- examples/mnist.py: the LeNet-300-100 MLP classifier ------------------------------------

NUM_CLASSES = 10


def hk_mnist_net(images):
    x = images.astype(jnp.float32) / 255.0
    mlp = hk.Sequential(
        [
            hk.Flatten(),
            hk.Linear(300),
            jax.nn.relu,
            hk.Linear(100),
            jax.nn.relu,
            hk.Linear(NUM_CLASSES),
        ]
    )
    return mlp(x)


def mh_mnist_net(images):
    x = images.astype(jnp.float32) / 255.0
    x = x.reshape(x.shape[0], -1)
    x = jax.nn.relu(Linear(300)(x))
    x = jax.nn.relu(Linear(100)(x))
    return Linear(NUM_CLASSES)(x)


def mnist_loss(apply):
    def loss(params, batch):
        images, labels = batch
        logits = apply(params, images)
        labels = jax.nn.one_hot(labels, NUM_CLASSES)
        l2 = 0.5 * sum(jnp.sum(jnp.square(p)) for p in jax.tree_util.tree_leaves(params))
        log_likelihood = jnp.sum(labels * jax.nn.log_softmax(logits))
        return -log_likelihood / images.shape[0] + 1e-4 * l2

    return loss


def mnist_batches(n):
    keys = jax.random.split(jax.random.key(7), n)
    return [
        (
            jax.random.randint(k, (16, 28, 28, 1), 0, 256).astype(jnp.uint8),
            jax.random.randint(jax.random.fold_in(k, 1), (16,), 0, NUM_CLASSES),
        )
        for k in keys
    ]


def test_mnist_classifier_trains_the_same():
    batches = mnist_batches(3)
    hk_net = hk.without_apply_rng(hk.transform(hk_mnist_net))
    hk_params = hk_net.init(jax.random.key(0), batches[0][0])
    net = transform(mh_mnist_net)
    params = from_haiku(hk_params, net.init(0, batches[0][0]))

    hk_losses, hk_final = adam_steps(mnist_loss(hk_net.apply), hk_params, batches)
    losses, final = adam_steps(mnist_loss(net.apply), params, batches)
    np.testing.assert_allclose(losses, hk_losses, rtol=1e-5)
    assert losses[-1] < losses[0]
    # the jitted step sorted dm-haiku's dict: linear, linear_1, linear_2 is still creation order
    for k, v in from_haiku(hk_final, final).items():
        np.testing.assert_allclose(final[k], v, rtol=1e-5, atol=1e-6, err_msg=k)


# ---- examples/rnn/train.py: the character-level LSTM ----------------------------------------

NUM_CHARS, HIDDEN = 30, 32


def make_network(lib, mlp):
    return lib.DeepRNN(
        [
            lambda x: jax.nn.one_hot(x, num_classes=NUM_CHARS),
            lib.LSTM(HIDDEN),
            jax.nn.relu,
            lib.LSTM(HIDDEN),
            mlp([HIDDEN, NUM_CHARS]),
        ]
    )


class _MH:
    DeepRNN, LSTM, dynamic_unroll = DeepRNN, LSTM, staticmethod(dynamic_unroll)


def sequence_loss(lib, mlp):
    def fn(batch):
        core = make_network(lib, mlp)
        sequence_length, batch_size = batch["input"].shape
        logits, _ = lib.dynamic_unroll(core, batch["input"], core.initial_state(batch_size))
        log_probs = jax.nn.log_softmax(logits)
        one_hot_labels = jax.nn.one_hot(batch["target"], num_classes=logits.shape[-1])
        return -jnp.sum(one_hot_labels * log_probs) / (sequence_length * batch_size)

    return fn


def text_batches(n, length=12, batch=4):
    out = []
    for i in range(n):
        tokens = jax.random.randint(jax.random.key(i), (length + 1, batch), 0, NUM_CHARS)
        out.append({"input": tokens[:-1], "target": tokens[1:]})
    return out


def test_char_lstm_trains_the_same():
    batches = text_batches(3)
    hk_f = hk.without_apply_rng(hk.transform(sequence_loss(hk, hk.nets.MLP)))
    hk_params = hk_f.init(jax.random.key(0), batches[0])
    assert list(hk_params) == ["lstm/linear", "lstm_1/linear", "mlp/~/linear_0", "mlp/~/linear_1"]
    f = transform(sequence_loss(_MH, MLP))
    params = from_haiku(hk_params, f.init(0, batches[0]))
    assert list(params)[4:] == [
        "~/MLP_0/__call__/Linear_0/__call__/w",
        "~/MLP_0/__call__/Linear_0/__call__/b",
        "~/MLP_0/__call__/Linear_1/__call__/w",
        "~/MLP_0/__call__/Linear_1/__call__/b",
    ]
    hk_losses, _ = adam_steps(hk_f.apply, hk_params, batches)
    losses, _ = adam_steps(f.apply, params, batches)
    np.testing.assert_allclose(losses, hk_losses, rtol=1e-5)
    assert losses[-1] < losses[0]
