"""dm-haiku's examples run on minihaiku with converted params: the same losses, step by step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import transform
from minihaiku.layers import LSTM, MLP, DeepRNN, Linear, dynamic_unroll, from_haiku

hk = pytest.importorskip("haiku")
optax = pytest.importorskip("optax")

pytestmark = pytest.mark.slow  # long: see tests/conftest.py


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


# ---- examples/imagenet: a ResNet training step with BatchNorm state ------------------------


def resnet_forward(lib_nets):
    def fn(images, is_training):
        net = lib_nets.ResNet(
            blocks_per_group=(1, 1, 1, 1),
            num_classes=10,
            bn_config={"decay_rate": 0.9},
            bottleneck=True,
            channels_per_group=(8, 16, 16, 32),
            initial_conv_config={"output_channels": 8, "kernel_shape": 3},
        )
        return net(images, is_training=is_training)

    return fn


def imagenet_loss(apply):
    """examples/imagenet/train.py's loss: smoothed cross-entropy plus weight decay."""

    def loss(params, state, batch):
        images, labels = batch
        logits, state = apply(params, state, images, True)
        labels = jax.nn.one_hot(labels, 10) * 0.9 + 0.1 / 10
        cat_loss = jnp.mean(optax.softmax_cross_entropy(logits, labels))
        l2 = 0.5 * sum(jnp.sum(jnp.square(p)) for p in jax.tree_util.tree_leaves(params))
        return cat_loss + 1e-4 * l2, state

    return loss


def sgd_steps_with_state(loss_fn, params, state, batches):
    optimizer = optax.sgd(0.1, momentum=0.9, nesterov=True)

    @jax.jit
    def update(params, state, opt_state, batch):
        (loss, state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, state, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return loss, optax.apply_updates(params, updates), state, opt_state

    opt_state = optimizer.init(params)
    losses = []
    for batch in batches:
        loss, params, state, opt_state = update(params, state, opt_state, batch)
        losses.append(float(loss))
    return losses, params, state


def test_resnet_training_steps_with_batch_norm_state_are_the_same():
    from minihaiku.core import transform_with_state
    from minihaiku.layers import nets

    keys = jax.random.split(jax.random.key(11), 3)
    batches = [
        (jax.random.normal(k, (4, 16, 16, 3)), jax.random.randint(k, (4,), 0, 10)) for k in keys
    ]
    hk_f = hk.transform_with_state(resnet_forward(hk.nets))
    hk_params, hk_state = hk_f.init(jax.random.key(0), batches[0][0], True)
    f = transform_with_state(resnet_forward(nets))
    params, state = f.init(0, batches[0][0], True)
    params0, state0 = params, state
    params = from_haiku(hk_params, params)
    state = from_haiku(hk_state, state)

    hk_apply = lambda p, s, x, t: hk_f.apply(p, s, None, x, t)
    hk_losses, hk_params1, hk_state1 = sgd_steps_with_state(
        imagenet_loss(hk_apply), hk_params, hk_state, batches
    )
    losses, params1, state1 = sgd_steps_with_state(imagenet_loss(f.apply), params, state, batches)
    np.testing.assert_allclose(losses, hk_losses, rtol=1e-5)
    expected_params = from_haiku(hk_params1, params0, order=hk_params)
    expected_state = from_haiku(hk_state1, state0, order=hk_state)
    for got, expected in [(params1, expected_params), (state1, expected_state)]:
        assert sorted(got) == sorted(expected)
        for k in expected:
            np.testing.assert_allclose(got[k], expected[k], rtol=1e-4, atol=1e-5, err_msg=k)
    # evaluation with the trained moving averages
    hk_eval = hk_f.apply(hk_params1, hk_state1, None, batches[0][0], False)[0]
    np.testing.assert_allclose(
        f.apply(params1, state1, batches[0][0], False)[0], hk_eval, rtol=1e-4, atol=1e-5
    )


# ---- examples/vqvae_example.ipynb: a VQ-VAE training step ----------------------------------


def vqvae_model(lib, vq_cls):
    """The notebook's encoder, decoder and model, written once for either library."""

    class ResidualStack(lib.Module):
        def __init__(self, num_hiddens, num_residual_layers, num_residual_hiddens, name=None):
            super().__init__(name=name)
            self._layers = []
            for i in range(num_residual_layers):
                conv3 = lib.Conv2D(num_residual_hiddens, (3, 3), 1, name=f"res3x3_{i}")
                conv1 = lib.Conv2D(num_hiddens, (1, 1), 1, name=f"res1x1_{i}")
                self._layers.append((conv3, conv1))

        def __call__(self, inputs):
            h = inputs
            for conv3, conv1 in self._layers:
                h = h + conv1(jax.nn.relu(conv3(jax.nn.relu(h))))
            return jax.nn.relu(h)

    class Encoder(lib.Module):
        def __init__(self, num_hiddens, num_residual_layers, num_residual_hiddens, name=None):
            super().__init__(name=name)
            self._enc_1 = lib.Conv2D(num_hiddens // 2, (4, 4), 2, name="enc_1")
            self._enc_2 = lib.Conv2D(num_hiddens, (4, 4), 2, name="enc_2")
            self._enc_3 = lib.Conv2D(num_hiddens, (3, 3), 1, name="enc_3")
            self._residual_stack = ResidualStack(
                num_hiddens, num_residual_layers, num_residual_hiddens
            )

        def __call__(self, x):
            h = jax.nn.relu(self._enc_1(x))
            h = jax.nn.relu(self._enc_2(h))
            return self._residual_stack(self._enc_3(h))

    class Decoder(lib.Module):
        def __init__(self, num_hiddens, num_residual_layers, num_residual_hiddens, name=None):
            super().__init__(name=name)
            self._dec_1 = lib.Conv2D(num_hiddens, (3, 3), 1, name="dec_1")
            self._residual_stack = ResidualStack(
                num_hiddens, num_residual_layers, num_residual_hiddens
            )
            self._dec_2 = lib.Conv2DTranspose(num_hiddens // 2, (4, 4), 2, name="dec_2")
            self._dec_3 = lib.Conv2DTranspose(3, (4, 4), 2, name="dec_3")

        def __call__(self, x):
            h = self._residual_stack(self._dec_1(x))
            return self._dec_3(jax.nn.relu(self._dec_2(h)))

    def forward(data, is_training):
        encoder = Encoder(16, 1, 8)
        decoder = Decoder(16, 1, 8)
        pre_vq_conv1 = lib.Conv2D(4, (1, 1), 1, name="to_vq")
        if vq_cls == "ema":
            vq = lib.VectorQuantizerEMA(4, 12, commitment_cost=0.25, decay=0.99)
        else:
            vq = lib.VectorQuantizer(4, 12, commitment_cost=0.25)
        z = pre_vq_conv1(encoder(data))
        vq_output = vq(z, is_training=is_training)
        x_recon = decoder(vq_output["quantize"])
        recon_error = jnp.mean((x_recon - data) ** 2) / 0.06
        return recon_error + vq_output["loss"], vq_output["perplexity"]

    return forward


class _HKLib:
    Module, Conv2D, Conv2DTranspose = hk.Module, hk.Conv2D, hk.Conv2DTranspose
    VectorQuantizer, VectorQuantizerEMA = hk.nets.VectorQuantizer, hk.nets.VectorQuantizerEMA


def _mh_lib():
    from minihaiku.core import Module
    from minihaiku.layers import Conv2D, Conv2DTranspose
    from minihaiku.layers.nets import VectorQuantizer, VectorQuantizerEMA

    class Lib:
        pass

    lib = Lib()
    lib.Module, lib.Conv2D, lib.Conv2DTranspose = Module, Conv2D, Conv2DTranspose
    lib.VectorQuantizer, lib.VectorQuantizerEMA = VectorQuantizer, VectorQuantizerEMA
    return lib


@pytest.mark.parametrize("vq", ["plain", "ema"])
def test_vqvae_training_steps_are_the_same(vq):
    from minihaiku.core import transform_with_state

    keys = jax.random.split(jax.random.key(12), 3)
    batches = [jax.random.uniform(k, (2, 16, 16, 3)) - 0.5 for k in keys]
    hk_f = hk.transform_with_state(vqvae_model(_HKLib, vq))
    hk_params, hk_state = hk_f.init(jax.random.key(0), batches[0], True)
    f = transform_with_state(vqvae_model(_mh_lib(), vq))
    params, state = f.init(0, batches[0], True)
    params = from_haiku(hk_params, params)
    state = from_haiku(hk_state, state) if hk_state else state

    def stepper(apply):
        optimizer = optax.adam(3e-4)

        @jax.jit
        def update(params, state, opt_state, x):
            def loss(p):
                (value, perplexity), new_state = apply(p, state, x, True)
                return value, (perplexity, new_state)

            (value, (perplexity, state)), grads = jax.value_and_grad(loss, has_aux=True)(params)
            updates, opt_state = optimizer.update(grads, opt_state)
            return value, perplexity, optax.apply_updates(params, updates), state, opt_state

        def run(params, state):
            opt_state = optimizer.init(params)
            out = []
            for x in batches:
                value, perplexity, params, state, opt_state = update(params, state, opt_state, x)
                out.append((float(value), float(perplexity)))
            return out

        return run

    hk_out = stepper(lambda p, s, x, t: hk_f.apply(p, s, None, x, t))(hk_params, hk_state)
    out = stepper(f.apply)(params, state)
    np.testing.assert_allclose(out, hk_out, rtol=1e-5)
