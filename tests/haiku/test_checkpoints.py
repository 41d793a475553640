"""A dm-haiku run's checkpoint (pickle, npz or orbax) loads into minihaiku.haiku and trains on.

A conv net with BatchNorm (params and state) trains for a few adam steps on
dm-haiku; what it saved is read back as its users do, and the run goes on for
a few more steps twice: on dm-haiku and on minihaiku.haiku. The restored trees
keep dm-haiku's layout (``{"conv2_d": {"w": ...}, "batch_norm/~/mean_ema":
{...}}``) untouched, and both continuations give the same losses at every step.
"""

import pickle

import haiku
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import minihaiku.haiku as mhk

ocp = pytest.importorskip("orbax.checkpoint")


def net(hk, images, labels):
    x = hk.Conv2D(8, 3)(images)
    x = hk.BatchNorm(True, True, 0.9)(x, is_training=True)
    x = jax.nn.relu(x)
    x = hk.Conv2D(8, 3, stride=2, name="down")(x)
    logits = hk.nets.MLP([16, 5])(hk.Flatten()(x))
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


IMAGES = jax.random.normal(jax.random.PRNGKey(1), (4, 8, 8, 3))
LABELS = jnp.array([0, 3, 1, 4])
OPT = optax.adam(1e-2)


def steps(hk, params, state, opt_state, n):
    f = hk.without_apply_rng(hk.transform_with_state(lambda x, y: net(hk, x, y)))

    @jax.jit
    def step(params, state, opt_state):
        (loss, state), grads = jax.value_and_grad(f.apply, has_aux=True)(
            params, state, IMAGES, LABELS
        )
        updates, opt_state = OPT.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), state, opt_state, loss

    losses = []
    for _ in range(n):
        params, state, opt_state, loss = step(params, state, opt_state)
        losses.append(float(loss))
    return params, state, opt_state, losses


@pytest.fixture(scope="module")
def dm_haiku_run():
    f = haiku.transform_with_state(lambda x, y: net(haiku, x, y))
    params, state = f.init(jax.random.PRNGKey(0), IMAGES, LABELS)
    return steps(haiku, params, state, OPT.init(params), 3)[:3]


def continue_both(params, state, opt_state):
    ref = steps(haiku, params, state, opt_state, 3)
    got = steps(mhk, params, state, opt_state, 3)
    np.testing.assert_allclose(got[3], ref[3], rtol=2e-5, atol=1e-6)
    assert jax.tree_util.tree_structure(got[:2]) == jax.tree_util.tree_structure(ref[:2])
    for a, b in zip(
        jax.tree_util.tree_leaves(got[:2]), jax.tree_util.tree_leaves(ref[:2]), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    return got


def test_minihaiku_init_has_the_checkpoints_layout(dm_haiku_run):
    params, state, _ = dm_haiku_run
    f = mhk.transform_with_state(lambda x, y: net(mhk, x, y))
    ours = f.init(jax.random.PRNGKey(0), IMAGES, LABELS)
    assert jax.tree_util.tree_structure(ours) == jax.tree_util.tree_structure((params, state))
    assert sorted(params) == ["batch_norm", "conv2_d", "down", "mlp/~/linear_0", "mlp/~/linear_1"]
    assert sorted(state) == ["batch_norm/~/mean_ema", "batch_norm/~/var_ema"]


def test_a_pickled_checkpoint_trains_on(dm_haiku_run, tmp_path):
    path = tmp_path / "run.pkl"
    path.write_bytes(pickle.dumps(jax.device_get(dm_haiku_run)))
    continue_both(*pickle.loads(path.read_bytes()))


def test_an_npz_checkpoint_trains_on(dm_haiku_run, tmp_path):
    params, state, _ = dm_haiku_run
    path = tmp_path / "run.npz"
    flat = {
        f"{kind}:{module}/{name}": np.asarray(value)
        for kind, tree in (("params", params), ("state", state))
        for module, name, value in haiku.data_structures.traverse(tree)
    }
    np.savez(path, **flat)
    restored: dict[str, dict[str, dict[str, np.ndarray]]] = {"params": {}, "state": {}}
    with np.load(path) as npz:
        for key in npz.files:
            kind, full = key.split(":", 1)
            module, name = full.rsplit("/", 1)
            restored[kind].setdefault(module, {})[name] = npz[key]
    params, state = restored["params"], restored["state"]
    continue_both(params, state, OPT.init(params))


def test_an_orbax_checkpoint_trains_on(dm_haiku_run, tmp_path):
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(tmp_path / "run", dm_haiku_run)
    checkpointer.wait_until_finished()
    target = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, dm_haiku_run)
    continue_both(*checkpointer.restore(tmp_path / "run", target))
