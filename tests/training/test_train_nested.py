"""train() on dm-haiku's nested params (minihaiku.haiku programs): what it does on flat params.

Checkpoints and resume, frozen parameters by path, minibatches, an hk model
given as the loss (mean squared error) and a stateful hk model.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from minihaiku.training import ParamsFileError, load_params, save_params, train

hk = pytest.importorskip("minihaiku.haiku")

X = jnp.linspace(-1.0, 1.0, 32).reshape(-1, 1)
Y = X**2
NET = hk.without_apply_rng(hk.transform(lambda x: hk.nets.MLP([8, 1])(x)))
PARAMS = NET.init(jax.random.PRNGKey(0), X)
MODULES = ["mlp/~/linear_0", "mlp/~/linear_1"]


def loss(p, batch):
    x, y = batch
    return jnp.mean((NET.apply(p, x) - y) ** 2)


def _assert_equal_trees(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(u, v)


def test_checkpoints_of_nested_params_resume_to_the_uninterrupted_run(tmp_path):
    adam = optax.adam(0.01)
    first = train(loss, PARAMS, (X, Y), adam, 6, progress=False, checkpoint_dir=tmp_path,
                  checkpoint_every=3)  # fmt: skip
    resumed = train(loss, PARAMS, (X, Y), adam, 9, progress=False, checkpoint_dir=tmp_path,
                    checkpoint_every=3, resume=True)  # fmt: skip
    straight = train(loss, PARAMS, (X, Y), adam, 9, progress=False)
    assert list(resumed.params) == MODULES
    np.testing.assert_array_equal(resumed.losses[:6], first.losses)
    np.testing.assert_array_equal(resumed.losses, straight.losses)
    _assert_equal_trees(resumed.params, straight.params)


def test_frozen_by_a_haiku_path_pattern_keeps_that_module():
    r = train(loss, PARAMS, (X, Y), optax.adam(0.01), 5, progress=False, frozen="mlp/~/linear_0/*")
    _assert_equal_trees(r.params["mlp/~/linear_0"], PARAMS["mlp/~/linear_0"])
    assert not np.array_equal(r.params["mlp/~/linear_1"]["w"], PARAMS["mlp/~/linear_1"]["w"])


def test_minibatches_on_nested_params():
    r = train(loss, PARAMS, (X, Y), optax.adam(0.01), 8, progress=False, batch_size=8)
    assert list(r.params) == MODULES
    assert r.losses[-1] < r.losses[0]


def test_an_hk_model_as_the_loss_trains_with_mean_squared_error():
    r = train(NET, PARAMS, (X, Y), optax.adam(0.01), 5, progress=False)
    ref = train(loss, PARAMS, (X, Y), optax.adam(0.01), 5, progress=False)
    np.testing.assert_allclose(r.losses, ref.losses, rtol=1e-6)
    assert list(r.params) == MODULES


def test_a_stateful_hk_model_threads_its_nested_state():
    def f(x):
        return hk.Linear(1)(hk.BatchNorm(True, True, 0.9)(x, is_training=True))

    model = hk.without_apply_rng(hk.transform_with_state(f))
    params, state = model.init(jax.random.PRNGKey(0), X)
    r = train(model, params, (X, Y), optax.adam(0.01), 4, progress=False, state=state)
    assert sorted(r.state) == sorted(state)
    assert sorted(r.state["batch_norm/~/mean_ema"]) == sorted(state["batch_norm/~/mean_ema"])
    assert int(r.state["batch_norm/~/mean_ema"]["counter"]) == 4


def _sorted(params):
    return {m: dict(sorted(d.items())) for m, d in sorted(params.items())}


def test_params_files_of_nested_params_read_back_nested(tmp_path):
    path = save_params(tmp_path / "p.safetensors", PARAMS)
    for got in (load_params(path), load_params(path, like=PARAMS)):
        assert sorted(got) == MODULES
        _assert_equal_trees(_sorted(got), _sorted(PARAMS))
    assert list(load_params(path, like=PARAMS)) == MODULES  # like's order
    # any safetensors reader sees the module/name keys
    from safetensors.numpy import load_file

    assert sorted(load_file(path)) == [f"{m}/{n}" for m in MODULES for n in ("b", "w")]
    # a flat file stays flat
    flat = load_params(save_params(tmp_path / "q.safetensors", {"~/w": jnp.ones(2)}))
    assert list(flat) == ["~/w"]


def test_a_nested_params_file_checked_against_another_model_names_the_paths(tmp_path):
    path = save_params(tmp_path / "p.safetensors", PARAMS)
    other = {"mlp/~/linear_0": {"w": jnp.ones((1, 8), jnp.float32), "b": jnp.ones(3)}}
    with pytest.raises(ParamsFileError) as e:
        load_params(path, like=other)
    msg = str(e.value)
    assert msg.startswith(f"{path} does not match the given params: not in the model: ")
    assert "'mlp/~/linear_1/w'" in msg and "'mlp/~/linear_1/b'" in msg  # the file's order
    assert msg.endswith(
        "; 'mlp/~/linear_0/b' is float32[8] in the file but float32[3] in the model. Load it "
        "into the model that wrote it, or without like= to inspect it."
    )
