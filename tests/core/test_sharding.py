"""Sharding annotations, rules tables, and sharded init (issue 12).

The checks on a real 8-device mesh run in ONE subprocess (XLA_FLAGS must be
set before jax is imported): exact PartitionSpecs on meshes (8, 1), (4, 2),
(2, 4), (1, 8), sharded_init's values against the jitted and the eager init
(bit for bit up to JAX 0.10; within 4 ulp on JAX 0.12, see EXACT), each
parameter's sharding and the shapes of its shards, and the divisibility error.
"""

import json
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from minihaiku.core import (
    AxisRules,
    InvalidArgumentTypeError,
    ShardingError,
    axis_rules,
    get_param,
    get_state,
    init_shapes,
    layer_stack,
    logical_to_spec,
    param_axes,
    param_shardings,
    set_state,
    sharded_init,
    summary,
    transform,
    transform_with_state,
)

# Up to JAX 0.10, sharded_init equals the plain init (eager and jitted) bit for bit
# (measured on 0.6.0 and 0.10.2). JAX 0.12's SPMD partitioner fuses the truncated
# normal's arithmetic differently on some meshes: values then differ by up to 4
# units in the last place (measured), from the jitted and the eager init alike.
EXACT = tuple(int(v) for v in jax.__version__.split(".")[:2]) < (0, 11)
MAX_ULPS = 4

ONE = Mesh(np.array(jax.devices()[:1]).reshape(1, 1), ("data", "model"))
TP = {"batch": "data", "mlp": "model", "heads": "model", "embed": None}


def mlp(x):
    w1 = get_param("w1", (x.shape[-1], 32), axes=("embed", "mlp"))
    b1 = get_param("b1", (32,), init="zeros", axes=("mlp",))
    w2 = get_param("w2", (32, x.shape[-1]), init="glorot_uniform", axes=("mlp", "embed"))
    b2 = get_param("b2", (x.shape[-1],), init="zeros", axes=("embed",))
    scale = get_param("scale", (), init="ones")  # unannotated: replicated
    return scale * (jax.nn.relu(x @ w1 + b1) @ w2 + b2)


def test_param_axes_lists_every_parameter_in_init_order_none_when_unannotated():
    assert param_axes(transform(mlp), jnp.ones((2, 16))) == {
        "~/w1": ("embed", "mlp"),
        "~/b1": ("mlp",),
        "~/w2": ("mlp", "embed"),
        "~/b2": ("embed",),
        "~/scale": None,
    }
    assert list(param_axes(transform(mlp), jnp.ones((2, 16)))) == list(
        transform(mlp).init(0, jnp.ones((2, 16)))
    )


def test_param_axes_of_a_stateful_pair_gives_params_and_state_axes():
    def f(x):
        n = get_state("count", (), jnp.int32)
        mean = get_state("mean", (x.shape[-1],), axes=("embed",))
        set_state("count", n + 1)
        set_state("last", x)  # created by set_state without axes: no annotation
        set_state("seen", x, axes=("batch", "embed"))
        return x * get_param("w", (x.shape[-1],), axes=("embed",)) + mean

    assert param_axes(transform_with_state(f), jnp.ones((2, 4))) == (
        {"~/w": ("embed",)},
        {"~/count": None, "~/mean": ("embed",), "~/last": None, "~/seen": ("batch", "embed")},
    )


def test_layer_stack_names_the_stacked_axis_layers():
    def f(x):
        def layer(h):
            return h @ get_param("w", (4, 4), axes=("embed", "mlp"))

        return layer_stack(3)(layer)(x)

    assert param_axes(transform(f), jnp.ones((1, 4))) == {"~/w": ("layers", "embed", "mlp")}
    rules = {"layers": None, "embed": "data", "mlp": "model"}
    spec = param_shardings(transform(f), jnp.ones((1, 4)), mesh=ONE, rules=rules)["~/w"].spec
    assert spec == PartitionSpec(None, "data", "model")


def test_an_annotation_of_the_wrong_length_is_an_error_at_init_naming_the_path():
    f = transform(lambda: get_param("w", (2, 3), axes=("embed",)))
    with pytest.raises(ShardingError) as e:
        f.init(0)
    assert str(e.value) == (
        "parameter '~/w' has rank 2 (shape (2, 3)) but axes=('embed',) names 1 "
        "dimension(s). Give exactly one logical name (or None) per dimension."
    )
    g = transform_with_state(lambda: get_state("s", (4,), axes=("a", "b")))
    with pytest.raises(ShardingError, match=r"^state '~/s' has rank 1 \(shape \(4,\)\) but"):
        g.init(0)


def test_an_annotation_that_is_a_bare_string_or_holds_non_names_is_a_type_error():
    f = transform(lambda: get_param("b", (3,), axes="embed"))
    with pytest.raises(InvalidArgumentTypeError) as e:
        f.init(0)
    assert str(e.value) == (
        "axes for parameter '~/b' must be a tuple with one logical axis name (str) or "
        "None per dimension, got str 'embed'. For a rank-1 parameter write axes=('embed',)."
    )
    g = transform(lambda: get_param("w", (3, 2), axes=("embed", 1)))
    with pytest.raises(InvalidArgumentTypeError) as e:
        g.init(0)
    assert str(e.value) == (
        "axes for parameter '~/w' must hold logical axis names (str) or None, got int 1 in "
        "('embed', 1). Name each dimension, e.g. axes=('embed', 'mlp'), or None for a "
        "dimension that is never sharded."
    )


def test_annotations_do_not_change_init_values_and_apply_ignores_them():
    plain = transform(lambda x: x @ get_param("w", (x.shape[-1], 8)))
    annotated = transform(lambda x: x @ get_param("w", (x.shape[-1], 8), axes=("embed", "mlp")))
    x = jnp.ones((1, 4))
    params = plain.init(0, x)
    np.testing.assert_array_equal(annotated.init(0, x)["~/w"], params["~/w"])
    np.testing.assert_array_equal(annotated.apply(params, x), plain.apply(params, x))


def test_logical_to_spec_maps_names_tuples_and_none_and_replicates_unknown_names():
    rules = {"batch": ("data",), "mlp": "model", "heads": ("data", "model"), "embed": None}
    assert logical_to_spec(("embed", "mlp"), rules, ONE, shape=(4, 8)) == PartitionSpec(
        None, "model"
    )
    assert logical_to_spec(("batch", None), rules) == PartitionSpec("data", None)
    assert logical_to_spec(("heads", "vocab"), rules) == PartitionSpec(("data", "model"), None)
    assert logical_to_spec(None, rules) == PartitionSpec()
    assert logical_to_spec(("mlp",)) == PartitionSpec(None)  # no rules at all: replicated


def test_the_rules_argument_beats_the_context_manager_and_contexts_nest():
    with axis_rules({"mlp": "model"}) as outer:
        assert isinstance(outer, AxisRules)
        assert logical_to_spec(("mlp",)) == PartitionSpec("model")
        assert logical_to_spec(("mlp",), {"mlp": "data"}) == PartitionSpec("data")
        with axis_rules({"mlp": None}):
            assert logical_to_spec(("mlp",)) == PartitionSpec(None)
        assert logical_to_spec(("mlp",)) == PartitionSpec("model")
    assert logical_to_spec(("mlp",)) == PartitionSpec(None)


def test_complete_rules_list_every_uncovered_name_with_its_paths():
    with pytest.raises(ShardingError) as e:
        param_shardings(
            transform(mlp), jnp.ones((2, 16)), mesh=ONE, rules=axis_rules({"x": None}, True)
        )
    assert str(e.value) == (
        "the axis rules are complete=True but have no rule for the logical axis name(s) "
        "['embed', 'mlp'], used by: 'embed' in '~/w1', '~/w2', '~/b2'; 'mlp' in '~/w1', "
        "'~/b1', '~/w2'. Add a rule for each (map it to None to replicate it), or use "
        "complete=False to replicate unknown names."
    )
    with axis_rules({"embed": None}, complete=True), pytest.raises(ShardingError) as e:
        logical_to_spec(("embed", "mlp"), path="~/w")
    assert "no rule for the logical axis name(s) ['mlp'], used by: 'mlp' in '~/w'." in str(e.value)


def test_a_rule_naming_a_mesh_axis_the_mesh_lacks_is_an_error_naming_the_path():
    with pytest.raises(ShardingError) as e:
        param_shardings(transform(mlp), jnp.ones((2, 16)), mesh=ONE, rules={"mlp": "modle"})
    assert str(e.value) == (
        "parameter '~/w1': the rule 'mlp': 'modle' names mesh axis 'modle', which the mesh "
        "does not have (its axes: ('data', 'model')). Fix the rule or use a mesh with that "
        "axis."
    )


def test_one_mesh_axis_used_twice_in_one_parameter_is_an_error():
    with pytest.raises(ShardingError) as e:
        sharded_init(transform(mlp), ONE, rules={"mlp": "model", "embed": "model"})(
            0, jnp.ones((2, 16))
        )
    assert str(e.value) == (
        "parameter '~/w1' (axes ('embed', 'mlp')) uses mesh axis 'model' twice: for "
        "'embed' (dimension 0) and 'mlp' (dimension 1). A mesh axis can shard only one "
        "dimension of an array: map one of these names to None or to another mesh axis."
    )
    with pytest.raises(ShardingError, match=r"uses mesh axis 'data' twice: for 'a' \(dim"):
        logical_to_spec(("a", "b"), {"a": ("data", "model"), "b": "data"})


def test_logical_to_spec_checks_the_rank_when_given_a_shape():
    with pytest.raises(ShardingError, match=r"^parameter '~/w' has rank 1 \(shape \(4,\)\) but"):
        logical_to_spec(("embed", "mlp"), {}, shape=(4,), path="~/w")


def test_bad_rules_and_meshes_are_type_errors():
    with pytest.raises(InvalidArgumentTypeError) as e:
        axis_rules([("mlp", "model")])
    assert str(e.value) == (
        "axis rules must be a mapping from logical axis name to a mesh axis name, a tuple "
        "of mesh axis names or None, got list [('mlp', 'model')]. Example: {'batch': "
        "'data', 'mlp': 'model', 'embed': None}."
    )
    with pytest.raises(InvalidArgumentTypeError) as e:
        axis_rules({"mlp": 2})
    assert str(e.value) == (
        "axis rules: the rule for 'mlp' maps it to int 2; map a logical name to a mesh axis "
        "name, a tuple of mesh axis names, or None (replicated)."
    )
    with pytest.raises(InvalidArgumentTypeError, match=r"^axis rules: the logical axis name 3 "):
        axis_rules({3: "model"})
    with pytest.raises(InvalidArgumentTypeError, match=r"^axis_rules: complete must be True or"):
        axis_rules({}, complete="yes")
    with pytest.raises(InvalidArgumentTypeError) as e:
        sharded_init(transform(mlp), (8, 1))
    assert str(e.value) == (
        "sharded_init expects a jax.sharding.Mesh as mesh, got tuple (8, 1). Make one "
        "with jax.make_mesh((4, 2), ('data', 'model'))."
    )


def test_init_shapes_carries_shardings_only_with_a_mesh():
    x = jnp.ones((2, 16))
    plain = init_shapes(transform(mlp), x)
    assert plain["~/w1"] == jax.ShapeDtypeStruct((16, 32), jnp.float32)
    assert plain["~/w1"].sharding is None
    with axis_rules(TP):
        shaped = init_shapes(transform(mlp), x, mesh=ONE)
    assert list(shaped) == list(plain)
    assert shaped["~/w1"].sharding == NamedSharding(ONE, PartitionSpec(None, "model"))
    assert shaped["~/w2"].sharding == NamedSharding(ONE, PartitionSpec("model", None))
    assert shaped["~/scale"].sharding == NamedSharding(ONE, PartitionSpec())


def test_sharded_init_of_a_stateful_pair_returns_params_and_state_like_init():
    def f(x):
        mean = get_state("mean", (x.shape[-1],), init=jax.nn.initializers.ones, axes=("mlp",))
        return x * get_param("w", (x.shape[-1],), axes=("mlp",)) + mean

    model = transform_with_state(f)
    params, state = sharded_init(model, ONE, {"mlp": "model"})(1, jnp.ones((2, 4)))
    want_params, want_state = model.init(1, jnp.ones((2, 4)))
    np.testing.assert_array_equal(params["~/w"], want_params["~/w"])
    np.testing.assert_array_equal(state["~/mean"], want_state["~/mean"])
    assert state["~/mean"].sharding == NamedSharding(ONE, PartitionSpec("model"))


EIGHT_DEVICES = textwrap.dedent(
    """
    import json, sys
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import Mesh
    from minihaiku.core import ShardingError, get_param, param_shardings, sharded_init, transform

    def mlp(x):
        w1 = get_param("w1", (x.shape[-1], 32), axes=("embed", "mlp"))
        b1 = get_param("b1", (32,), init="zeros", axes=("mlp",))
        w2 = get_param("w2", (32, x.shape[-1]), init="glorot_uniform", axes=("mlp", "embed"))
        b2 = get_param("b2", (x.shape[-1],), init="zeros", axes=("embed",))
        scale = get_param("scale", (), init="ones")
        return scale * (jax.nn.relu(x @ w1 + b1) @ w2 + b2)

    def block(x):  # a transformer block by hand: E=16, H=8 heads of D=4, M=32
        e, h, d = x.shape[-1], 8, 4
        def ln(name, y):
            s = get_param(name + "_scale", (e,), init="ones", axes=("embed",))
            b = get_param(name + "_offset", (e,), init="zeros", axes=("embed",))
            return (y - y.mean(-1, keepdims=True)) * s + b
        y = ln("ln1", x)
        q, k, v = (jnp.einsum("te,ehd->thd", y, get_param(n, (e, h, d), init="lecun_normal",
                   axes=("embed", "heads", "head_dim"))) for n in "qkv")
        a = jax.nn.softmax(jnp.einsum("thd,shd->hts", q, k), -1)
        o = get_param("o", (h, d, e), init="truncated_normal", axes=("heads", "head_dim", "embed"))
        x = x + jnp.einsum("hts,shd,hde->te", a, v, o)
        return x + mlp(ln("ln2", x))

    def ulps(a, b):  # the largest distance in units in the last place
        a, b = np.asarray(a, np.float32).ravel(), np.asarray(b, np.float32).ravel()
        ia, ib = a.view(np.int32).astype(np.int64), b.view(np.int32).astype(np.int64)
        ia = np.where(ia < 0, -(ia & 0x7FFFFFFF), ia)
        ib = np.where(ib < 0, -(ib & 0x7FFFFFFF), ib)
        return int(np.abs(ia - ib).max()) if a.size else 0

    def report(got, want, mesh):
        return {
            path: {
                "equal": bool(np.array_equal(np.asarray(got[path]), np.asarray(want[path]))),
                "ulps": [ulps(got[path], want[path]), ulps(got[path], eager[path])],
                "spec": [list(a) if isinstance(a, tuple) else a for a in got[path].sharding.spec],
                "mesh_ok": got[path].sharding.mesh == mesh,
                "shards": sorted({tuple(s.data.shape) for s in got[path].addressable_shards}),
                "devices": len(got[path].addressable_shards),
            }
            for path in got
        }

    out = {}
    model, x = transform(block), jnp.ones((4, 16))  # the block holds the MLP too
    want = jax.jit(model.init)(7, x)  # sharded_init is one jit: equal to the jitted init
    eager = model.init(7, x)
    rules_tables = json.loads(sys.argv[1])
    for shape in [(8, 1), (4, 2), (2, 4), (1, 8)]:
        mesh = Mesh(np.array(jax.devices()).reshape(shape), ("data", "model"))
        for rname, rules in rules_tables.items():
            specs = param_shardings(model, x, mesh=mesh, rules=rules)
            out[f"spec/{shape}/{rname}"] = {
                p: [list(a) if isinstance(a, tuple) else a for a in s.spec]
                for p, s in specs.items()
            }
        # one compiled sharded init per mesh (2-D rules: both mesh axes in use)
        got = sharded_init(model, mesh, rules_tables["2d"])(7, x)
        out[f"init/True/{shape}"] = report(got, want, mesh)
        out[f"order/{shape}"] = list(got) == list(eager)
    jax.config.update("jax_threefry_partitionable", False)
    mesh = Mesh(np.array(jax.devices()).reshape(2, 4), ("data", "model"))
    want, eager = jax.jit(model.init)(7, x), model.init(7, x)
    got = sharded_init(model, mesh, rules_tables["2d"])(7, x)
    out["init/False/(2, 4)"] = report(got, want, mesh)
    jax.config.update("jax_threefry_partitionable", True)
    mesh = Mesh(np.array(jax.devices()).reshape(2, 4), ("data", "model"))
    odd = transform(lambda: get_param("w", (16, 6), axes=("embed", "mlp")))
    try:
        sharded_init(odd, mesh, {"mlp": "model"})(0)
    except ShardingError as e:
        out["divisibility"] = str(e)
    # what XLA would allocate per device for a 4 MiB parameter on (1, 8), sharded on mlp
    big = transform(lambda: get_param("w", (1024, 1024), axes=("embed", "mlp")))
    mesh = Mesh(np.array(jax.devices()).reshape(1, 8), ("data", "model"))
    sh = param_shardings(big, mesh=mesh, rules={"mlp": "model"})
    mem = jax.jit(big.init, out_shardings=sh).lower(jax.random.PRNGKey(0)).compile()
    m = mem.memory_analysis()
    out["memory"] = {"output": m.output_size_in_bytes, "temp": m.temp_size_in_bytes}
    json.dump({"devices": jax.device_count(), "version": jax.__version__, "out": out}, sys.stdout)
    """
)

FSDP = {"batch": "data", "embed": "data", "mlp": None, "heads": None}
TWO_D = {"batch": "data", "embed": "data", "mlp": "model", "heads": "model"}
RULES = {"tp": TP, "fsdp": FSDP, "2d": TWO_D}
AXES = {
    "mlp": {
        "~/w1": ("embed", "mlp"),
        "~/b1": ("mlp",),
        "~/w2": ("mlp", "embed"),
        "~/b2": ("embed",),
        "~/scale": None,
    },
    "block": {
        **{f"~/{n}_{p}": ("embed",) for n in ("ln1", "ln2") for p in ("scale", "offset")},
        **{f"~/{n}": ("embed", "heads", "head_dim") for n in "qkv"},
        "~/o": ("heads", "head_dim", "embed"),
    },
}
SHAPES = {
    "~/w1": (16, 32),
    "~/b1": (32,),
    "~/w2": (32, 16),
    "~/b2": (16,),
    "~/scale": (),
    "~/o": (8, 4, 16),
    **{f"~/{n}": (16, 8, 4) for n in "qkv"},
}


def _expected(axes, rules):
    """The spec by hand: each logical name through the rules table, unknown names None."""
    if axes is None:
        return []
    return [rules.get(a) if a is not None else None for a in axes]


@pytest.fixture(scope="module")
def eight_devices(eight_devices_run):
    out = eight_devices_run("-c", EIGHT_DEVICES, json.dumps(RULES))
    assert out["devices"] == 8
    return out["out"]


MESHES = [(8, 1), (4, 2), (2, 4), (1, 8)]
BLOCK_AXES = {**AXES["block"], **AXES["mlp"]}


@pytest.mark.multiprocess
@pytest.mark.parametrize("mesh", MESHES)
@pytest.mark.parametrize("rules", sorted(RULES))
def test_param_shardings_give_the_exact_spec_of_each_param_on_each_mesh(eight_devices, mesh, rules):
    got = eight_devices[f"spec/{tuple(mesh)}/{rules}"]
    assert got == {path: _expected(axes, RULES[rules]) for path, axes in BLOCK_AXES.items()}


@pytest.mark.multiprocess
@pytest.mark.parametrize(("partitionable", "mesh"), [(True, m) for m in MESHES] + [(False, (2, 4))])
def test_sharded_init_places_each_param_by_its_spec_and_equals_init_bit_for_bit(
    eight_devices, partitionable, mesh
):
    got = eight_devices[f"init/{partitionable}/{tuple(mesh)}"]
    sizes = dict(zip(("data", "model"), mesh, strict=True))
    assert set(got) == set(BLOCK_AXES)
    for path, axes in BLOCK_AXES.items():
        spec = _expected(axes, TWO_D)
        entry = got[path]
        assert entry["spec"] == spec, path
        assert entry["mesh_ok"] and (entry["equal"] or not EXACT), path
        assert max(entry["ulps"]) <= (0 if EXACT else MAX_ULPS), (path, entry["ulps"])
        shard = [
            n // sizes[s] if s else n for n, s in zip(SHAPES.get(path, (16,)), spec, strict=True)
        ]
        assert entry["shards"] == [shard], path
        assert entry["devices"] == 8


@pytest.mark.multiprocess
@pytest.mark.parametrize("mesh", MESHES)
def test_sharded_init_returns_params_in_init_order(eight_devices, mesh):
    assert eight_devices[f"order/{tuple(mesh)}"] is True


@pytest.mark.multiprocess
def test_a_dimension_the_mesh_axes_do_not_divide_is_an_error_naming_the_path(eight_devices):
    assert eight_devices["divisibility"] == (
        "parameter '~/w': dimension 1 ('mlp', size 6) cannot be split over mesh axes "
        "('model',) of total size 4. Make the size a multiple of 4, or map 'mlp' to other "
        "mesh axes or to None (replicated)."
    )


@pytest.mark.multiprocess
def test_the_compiled_sharded_init_allocates_one_eighth_per_device(eight_devices):
    full = 1024 * 1024 * 4
    assert eight_devices["memory"]["output"] == full // 8
    assert eight_devices["memory"]["temp"] < full // 2


def test_summary_shows_a_sharding_column_only_for_sharded_entries():
    x = jnp.ones((2, 16))
    plain = summary(init_shapes(transform(mlp), x))
    assert "sharding" not in plain
    table = summary(init_shapes(transform(mlp), x, mesh=ONE, rules=TP)).splitlines()
    assert table[0].split() == ["scope", "name", "shape", "dtype", "size", "bytes", "sharding"]
    rows = {line.split()[1]: line for line in table[2:-2]}
    assert rows["w1"].endswith("P(None, 'model')")
    assert rows["b1"].endswith("P('model')")
    assert rows["scale"].endswith("P()")
    mixed = {"~/a": jnp.ones(2), **init_shapes(transform(mlp), x, mesh=ONE, rules=TP)}
    assert summary(mixed).splitlines()[2].endswith("  -")  # a plain array: no sharding
