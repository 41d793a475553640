"""train(mesh=...): sharded params and optimizer state, sharded checkpoints, clear errors."""

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import PartitionSpec as P

from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError
from minihaiku.training import quadratic_data, quadratic_model, train

HERE = Path(__file__).parent
NEW_JAX = tuple(int(p) for p in jax.__version__.split(".")[:2]) >= (0, 7)
MESHES = ["(8, 1)", "(4, 2)", "(2, 4)", "(1, 8)"]
W2 = "~/MLP_0/__call__/Linear_1/__call__/w"  # (32, 16) in the block's MLP: ("mlp", "embed")


@pytest.fixture(scope="module")
def eight(eight_devices_run):
    """Every 8-device run of mesh_runs.py's equivalence mode (one subprocess)."""
    return eight_devices_run(HERE / "mesh_runs.py", "equivalence", timeout=600)


@pytest.mark.multiprocess
def test_every_mesh_gives_the_losses_and_params_of_one_device(eight):
    one = eight["transformer"]["one"]
    for mesh in MESHES:
        got = eight["transformer"][mesh]
        np.testing.assert_allclose(got["losses"], one["losses"], rtol=0, atol=1e-5)
        assert set(got["params"]) == set(one["params"])
        for k, v in one["params"].items():
            np.testing.assert_allclose(got["params"][k], v, rtol=0, atol=1e-5, err_msg=k)


@pytest.mark.multiprocess
def test_params_and_adam_moments_stay_sharded_by_their_specs(eight):
    for mesh, (data, model) in zip(MESHES, [(8, 1), (4, 2), (2, 4), (1, 8)], strict=True):
        got = eight["transformer"][mesh]
        assert got["mesh"] == {"data": data, "model": model}
        assert got["specs"][W2] == "('model', 'data')"
        # each device holds its block of the (32, 16) matrix only
        assert got["shards"][W2] == [32 // model, 16 // data]
        assert got["mu_specs"] == got["specs"]


@pytest.mark.multiprocess
def test_a_batch_the_data_axis_does_not_divide_is_a_clear_error(eight):
    errors = eight["errors"]
    assert errors["batch"] == [
        "InvalidArgumentError",
        "a batch leaf of shape (12, 16) cannot be split over the data axis ('data',) of "
        "the mesh (8 shards, 8 in this process): the examples on its first axis must be a "
        "multiple of 8 in it. Pick a batch size that is a multiple of it, or a mesh with a "
        "smaller data axis.",
    ]
    assert errors["minibatch"][0] == "InvalidArgumentError"
    assert (
        "a batch leaf of shape (6, 16) cannot be split over the data axis"
        in (errors["minibatch"][1])
    )


@pytest.mark.multiprocess
def test_a_param_dimension_the_mesh_does_not_divide_is_a_clear_error(eight):
    assert eight["errors"]["divide"] == [
        "InvalidArgumentError",
        "param '~/w' of shape (4, 6) cannot be split on dimension 1 (size 6) over mesh "
        "axes ('model',) (4 devices): the size must be a multiple of 4. Leave that "
        "dimension unsplit (None) or pick a mesh that divides it.",
    ]


@pytest.mark.multiprocess
def test_a_checkpoint_saved_on_one_mesh_resumes_on_another_bit_for_bit(tmp_path, eight_devices_run):
    got = eight_devices_run(HERE / "mesh_runs.py", "resume", tmp_path / "ckpt", timeout=600)
    assert got["first"]["mesh"] == {"data": 4, "model": 2}
    resumed, straight = got["resumed"], got["straight"]
    assert got["resumed_from"] == 5
    # restored onto the (2, 4) mesh, in the shardings of that mesh
    assert resumed["mesh"] == {"data": 2, "model": 4}
    assert resumed["shards"]["~/MLP_0/__call__/Linear_0/__call__/w"] == [8, 8]
    assert resumed["mu_specs"] == resumed["specs"]
    # the same numbers as continuing the first run's result on (2, 4) without a checkpoint
    assert resumed["losses"] == straight["losses"]
    assert resumed["params"] == straight["params"]
    assert resumed["losses"][:5] == got["first"]["losses"]
    # orbax wrote the arrays as shards, with their sharding metadata (on JAX < 0.7,
    # whose set_mesh recent orbax cannot use, they are gathered and saved whole)
    step = tmp_path / "ckpt" / "5" / "state"
    assert (step / "_sharding").exists() == NEW_JAX


# -- errors that a one-device mesh shows -------------------------------------------------


@pytest.fixture
def quadratic():
    xs, ys = quadratic_data()
    model = quadratic_model()
    return model, model.init(0, xs), (xs, ys)


def mesh(*names):
    return jax.make_mesh((1,) * len(names), names)


def test_mesh_and_data_parallel_together_are_refused(quadratic):
    model, params, data = quadratic
    with pytest.raises(InvalidArgumentError) as e:
        train(
            model,
            params,
            data,
            optax.sgd(0.1),
            1,
            progress=False,
            mesh=mesh("data"),
            data_parallel=True,
        )
    assert str(e.value) == (
        "mesh= and data_parallel=True were both given; a mesh already splits the batch "
        "over its data axis. Pass only mesh= (data_parallel=True is the mesh (n,) with "
        "every param replicated)."
    )


def test_a_mesh_without_the_batch_axis_is_refused(quadratic):
    model, params, data = quadratic
    with pytest.raises(InvalidArgumentError) as e:
        train(
            model,
            params,
            data,
            optax.sgd(0.1),
            1,
            progress=False,
            mesh=mesh("replica", "model"),
            rules={"batch": "data"},
        )
    assert str(e.value) == (
        "the mesh has no axis 'data', the data axis that rules['batch'] = 'data' names to "
        "split the batch over (the mesh's axes: ('replica', 'model')). Build the mesh with "
        "that axis, or name one of its axes in rules['batch']."
    )


def test_a_rule_naming_an_axis_the_mesh_lacks_is_refused(quadratic):
    model, params, data = quadratic
    with pytest.raises(InvalidArgumentError) as e:
        train(
            model,
            params,
            data,
            optax.sgd(0.1),
            1,
            progress=False,
            mesh=mesh("data", "model"),
            rules={"mlp": ("model", "tensor")},
        )
    assert str(e.value) == (
        "rules['mlp'] = ('model', 'tensor') names mesh axis 'tensor', but the mesh has "
        "only the axes ('data', 'model'). Name one of them, or build the mesh with that "
        "axis."
    )


def test_a_rule_that_is_not_an_axis_name_is_refused(quadratic):
    model, params, data = quadratic
    with pytest.raises(
        InvalidArgumentTypeError,
        match=re.escape("rules['mlp'] must be a mesh axis name, a tuple of them or None, got int."),
    ):
        train(
            model,
            params,
            data,
            optax.sgd(0.1),
            1,
            progress=False,
            mesh=mesh("data"),
            rules={"mlp": 1},
        )


@pytest.mark.parametrize("what", ["rules", "param_shardings"])
def test_rules_or_shardings_without_a_mesh_are_refused(quadratic, what):
    model, params, data = quadratic
    with pytest.raises(InvalidArgumentError) as e:
        train(model, params, data, optax.sgd(0.1), 1, progress=False, **{what: {}})
    assert str(e.value) == (
        f"{what}= needs mesh=, the device mesh to shard over, e.g. "
        "mesh=jax.make_mesh((4, 2), ('data', 'model'))."
    )


def test_a_mesh_that_is_not_a_mesh_is_refused(quadratic):
    model, params, data = quadratic
    with pytest.raises(InvalidArgumentTypeError) as e:
        train(model, params, data, optax.sgd(0.1), 1, progress=False, mesh=(8, 1))
    assert str(e.value) == (
        "mesh must be a jax.sharding.Mesh, e.g. jax.make_mesh((4, 2), ('data', "
        "'model')), got tuple."
    )


def test_shardings_for_params_the_model_lacks_are_refused(quadratic):
    model, params, data = quadratic
    with pytest.raises(InvalidArgumentError) as e:
        train(
            model,
            params,
            data,
            optax.sgd(0.1),
            1,
            progress=False,
            mesh=mesh("data"),
            param_shardings={"~/Linear_0/w": P()},
        )
    assert str(e.value).startswith(
        "param_shardings names ['~/Linear_0/w'], which are not params of this model (its "
        "params: ['~/MLP_0/__call__/Linear_0/__call__/b'"
    )
    assert str(e.value).endswith("Use the paths init returned.")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            P("data", "tensor"),
            "the sharding P('data', 'tensor') of param {p!r} names mesh axis "
            "'tensor', but the mesh has only the axes ('data', 'model'). Name one of "
            "them, or leave that dimension unsplit (None).",
        ),
        (
            P("model", "model"),
            "the sharding P('model', 'model') of param {p!r} uses mesh axis "
            "'model' for two dimensions; a mesh axis can split one dimension of a param "
            "only. Split the other dimension over another axis, or leave it unsplit (None).",
        ),
        (
            P(None, None, "data"),
            "the sharding P(None, None, 'data') of param {p!r} has 3 entries "
            "but the param has rank 2 (shape (1, 128)); give one entry per dimension.",
        ),
    ],
    ids=["unknown-axis", "axis-twice", "too-long"],
)
def test_a_bad_param_sharding_is_refused_naming_the_param(quadratic, spec, message):
    model, params, data = quadratic
    p = "~/MLP_0/__call__/Linear_0/__call__/w"
    with pytest.raises(InvalidArgumentError) as e:
        train(
            model,
            params,
            data,
            optax.sgd(0.1),
            1,
            progress=False,
            mesh=mesh("data", "model"),
            param_shardings={p: spec},
        )
    assert str(e.value) == message.format(p=p)


def test_a_sharding_that_is_not_a_spec_is_refused(quadratic):
    model, params, data = quadratic
    p = "~/MLP_0/__call__/Linear_0/__call__/b"
    with pytest.raises(InvalidArgumentTypeError) as e:
        train(
            model,
            params,
            data,
            optax.sgd(0.1),
            1,
            progress=False,
            mesh=mesh("data"),
            param_shardings={p: "data"},
        )
    assert str(e.value) == (
        f"the sharding of param {p!r} must be a PartitionSpec or a NamedSharding, got str."
    )


def test_a_one_device_mesh_trains_like_no_mesh(quadratic):
    model, params, data = quadratic
    kw = dict(progress=False, steps_per_dispatch=10)
    plain = train(model, params, data, optax.adam(1e-2), 20, data_parallel=False, **kw)
    on = train(
        model,
        params,
        data,
        optax.adam(1e-2),
        20,
        mesh=mesh("data", "model"),
        param_shardings={"~/MLP_0/__call__/Linear_0/__call__/w": P(None, "model")},
        **kw,
    )
    np.testing.assert_array_equal(on.losses, plain.losses)
    for k, v in plain.params.items():
        np.testing.assert_array_equal(np.asarray(on.params[k]), np.asarray(v))
    w = on.params["~/MLP_0/__call__/Linear_0/__call__/w"]
    assert w.sharding.spec == P(None, "model")


# -- shardings from the model's annotations ------------------------------------------------


def annotated():
    from minihaiku.core import get_param, transform

    def f(x):
        w = get_param("w", (x.shape[-1], 8), axes=("embed", "mlp"))
        v = get_param("v", (8, 1), axes=("mlp", None))
        return jax.nn.tanh(x @ w) @ v

    xs, ys = quadratic_data()
    return transform(f), (xs, ys)


def test_params_are_sharded_by_the_models_annotations_and_the_rules():
    model, data = annotated()
    params = model.init(0, data[0])
    kw = dict(progress=False, steps_per_dispatch=5)
    plain = train(model, params, data, optax.adam(1e-2), 10, data_parallel=False, **kw)
    r = train(
        model,
        params,
        data,
        optax.adam(1e-2),
        10,
        mesh=mesh("data", "model"),
        rules={"batch": "data", "mlp": "model", "embed": None},
        **kw,
    )
    assert r.params["~/w"].sharding.spec == P(None, "model")
    assert r.params["~/v"].sharding.spec == P("model", None)
    assert r.opt_state[0].mu["~/w"].sharding.spec == P(None, "model")
    np.testing.assert_array_equal(r.losses, plain.losses)


def test_the_current_axis_rules_apply_and_param_shardings_win():
    from minihaiku.core import axis_rules

    model, data = annotated()
    params = model.init(0, data[0])
    with axis_rules({"mlp": "model"}):
        r = train(
            model,
            params,
            data,
            optax.sgd(0.1),
            2,
            progress=False,
            mesh=mesh("data", "model"),
            param_shardings={"~/v": P()},
        )
    assert r.params["~/w"].sharding.spec == P(None, "model")
    assert r.params["~/v"].sharding.spec == P()


def test_an_iterator_is_read_once_to_trace_the_model_and_no_batch_is_lost():
    model, (xs, ys) = annotated()
    params = model.init(0, xs)
    batches = [(xs[i : i + 32], ys[i : i + 32]) for i in range(0, 128, 32)]
    kw = dict(progress=False, steps_per_dispatch=4)
    plain = train(model, params, iter(batches), optax.sgd(0.1), 4, data_parallel=False, **kw)
    r = train(
        model,
        params,
        iter(batches),
        optax.sgd(0.1),
        4,
        mesh=mesh("data", "model"),
        rules={"mlp": "model"},
        **kw,
    )
    assert r.params["~/w"].sharding.spec == P(None, "model")
    np.testing.assert_array_equal(r.losses, plain.losses)


def test_a_param_no_complete_rule_covers_is_a_sharding_error_naming_it():
    from minihaiku.core import ShardingError, axis_rules

    model, data = annotated()
    params = model.init(0, data[0])
    with pytest.raises(ShardingError, match=re.escape("'embed' in '~/w'")):
        train(
            model,
            params,
            data,
            optax.sgd(0.1),
            1,
            progress=False,
            mesh=mesh("data", "model"),
            rules=axis_rules({"mlp": "model"}, complete=True),
        )


def test_params_from_sharded_init_keep_their_shardings_and_train_like_host_params():
    from minihaiku.core import sharded_init

    model, data = annotated()
    rules = {"embed": "data", "mlp": "model"}
    m = mesh("data", "model")
    params = sharded_init(model, m, rules)(0, data[0])
    kw = dict(progress=False, steps_per_dispatch=5)
    plain = train(
        model, model.init(0, data[0]), data, optax.adam(1e-2), 10, data_parallel=False, **kw
    )
    # no rules here: the params' own shardings are kept
    r = train(model, params, data, optax.adam(1e-2), 10, mesh=m, **kw)
    assert r.params["~/w"].sharding.spec == P("data", "model")
    assert r.params["~/v"].sharding.spec == P("model", None)
    np.testing.assert_array_equal(r.losses, plain.losses)


def test_a_model_with_state_and_a_key_trains_on_a_mesh_like_without():
    from minihaiku.core import get_param, get_state, set_state, transform_with_state

    def f(x):
        seen = get_state("seen", (), init=jax.nn.initializers.zeros)
        set_state("seen", seen + 1.0)
        w = get_param("w", (x.shape[-1], 1), axes=("embed", "mlp"))
        return x @ w

    model = transform_with_state(f)
    xs, ys = quadratic_data()
    params, state = model.init(0, xs)

    def loss(p, s, batch, key):
        out, s = model.apply(p, s, batch[0])
        noise = 1e-3 * jax.random.normal(key, out.shape)
        return jnp.mean((out + noise - batch[1]) ** 2), s

    kw = dict(progress=False, steps_per_dispatch=5, state=state, rng=True)
    plain = train(loss, params, (xs, ys), optax.sgd(0.1), 10, data_parallel=False, **kw)
    r = train(loss, params, (xs, ys), optax.sgd(0.1), 10, mesh=mesh("data", "model"), **kw)
    np.testing.assert_array_equal(r.losses, plain.losses)
    assert float(r.state["~/seen"]) == float(plain.state["~/seen"]) == 10.0
