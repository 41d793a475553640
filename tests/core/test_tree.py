"""Parameter tools on flat path-keyed mappings."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    InvalidParamsError,
    filter_params,
    from_nested,
    init_shapes,
    merge_params,
    partition_params,
    summary,
    to_nested,
    transform,
    tree_bytes,
    tree_size,
)
from minihaiku.layers import MLP

model = transform(lambda x: MLP([4, 2], name="mlp")(x))
params = model.init(0, jnp.ones((1, 3)))


def test_filter_by_glob_globs_and_predicate():
    assert list(filter_params(params, "*/Linear_1/*")) == [
        "~/mlp/__call__/Linear_1/__call__/w",
        "~/mlp/__call__/Linear_1/__call__/b",
    ]
    assert len(filter_params(params, ["*/w", "*Linear_0*"])) == 3
    assert list(filter_params(params, lambda p, v: v.ndim == 1)) == [
        "~/mlp/__call__/Linear_0/__call__/b",
        "~/mlp/__call__/Linear_1/__call__/b",
    ]


def test_partition_and_merge_round_trip():
    a, b = partition_params(params, "*/b")
    assert len(a) == 2 and len(b) == 2
    assert merge_params(b, a).keys() == params.keys() | set()
    merged = merge_params(a, b)
    assert all(merged[k] is params[k] for k in params)


def test_merge_conflicts():
    with pytest.raises(InvalidArgumentError) as e:
        merge_params({"a": 1}, {"a": 2})
    assert str(e.value) == (
        "merge_params: 'a' is in mapping 1 and in an earlier one. Pass disjoint mappings "
        "(as partition_params returns), or overwrite=True to let later mappings win."
    )
    assert merge_params({"a": 1}, {"a": 2}, overwrite=True) == {"a": 2}


def test_bad_filters_and_inputs():
    with pytest.raises(InvalidArgumentTypeError, match=r"^expected a glob pattern"):
        filter_params(params, 3)
    with pytest.raises(InvalidParamsError) as e:
        filter_params([1], "*")
    assert str(e.value) == (
        "filter_params expects a flat mapping from path to array (what init returns), got list."
    )


def test_size_and_bytes():
    assert tree_size(params) == 3 * 4 + 4 + 4 * 2 + 2
    assert tree_bytes(params) == 4 * tree_size(params)
    assert tree_bytes({"h": jnp.zeros(3, jnp.bfloat16)}) == 6


def test_nested_view_and_back():
    nested = to_nested(params)
    assert list(nested) == ["~"]
    assert (
        nested["~"]["mlp"]["__call__"]["Linear_0"]["__call__"]["w"]
        is params["~/mlp/__call__/Linear_0/__call__/w"]
    )
    back = from_nested(nested)
    assert list(back) == list(params) and all(back[k] is params[k] for k in params)


def test_nested_view_of_a_path_that_is_also_a_scope():
    with pytest.raises(
        InvalidParamsError, match=r"^to_nested: 'a' is both a parameter and a scope"
    ):
        to_nested({"a": 1, "a/b": 2})


def test_init_shapes_makes_no_arrays():
    big = transform(lambda x: MLP([4096, 4096], name="mlp")(x))
    shapes = init_shapes(big, jnp.ones((1, 8)))
    w = shapes["~/mlp/__call__/Linear_1/__call__/w"]
    assert isinstance(w, jax.ShapeDtypeStruct) and w.shape == (4096, 4096)
    assert tree_bytes(shapes) == 4 * (8 * 4096 + 4096 + 4096 * 4096 + 4096)


def test_summary_table():
    assert summary(params) == "\n".join(
        [
            "scope                             name  shape   dtype    size  bytes",
            "--------------------------------  ----  ------  -------  ----  -----",
            "~/mlp/__call__/Linear_0/__call__  w     (3, 4)  float32    12   48 B",
            "~/mlp/__call__/Linear_0/__call__  b     (4,)    float32     4   16 B",
            "~/mlp/__call__/Linear_1/__call__  w     (4, 2)  float32     8   32 B",
            "~/mlp/__call__/Linear_1/__call__  b     (2,)    float32     2    8 B",
            "--------------------------------  ----  ------  -------  ----  -----",
            "total (4 arrays)                                           26  104 B",
        ]
    )
    big = summary({"w": np.zeros((1024, 1024), np.float32)})
    assert big.splitlines()[2] == "(top level)      w     (1024, 1024)  float32  1,048,576  4.0 MiB"
    assert big.splitlines()[-1].startswith("total (1 array) ")
