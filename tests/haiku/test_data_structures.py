"""hk.data_structures on minihaiku.haiku against dm-haiku's, function by function."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minihaiku.haiku as mhk
from minihaiku.core import InvalidArgumentError

from ._compare import assert_same_tree

haiku = pytest.importorskip("haiku")

P = {
    "mlp/~/linear_1": {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)},
    "mlp/~/linear_0": {"w": jnp.full((4, 3), 2.0), "b": jnp.zeros(3, jnp.int32)},
    "~": {"s": jnp.ones(())},
}


def _plain(tree):
    return jax.tree.map(np.asarray, haiku.data_structures.to_mutable_dict(tree))


def _same(got, ref):
    assert [list(m) for m in got.values()] == [list(m) for m in ref.values()]
    assert list(got) == list(ref)
    assert_same_tree(got, _plain(ref))


def test_filter_partition_partition_n_map_merge_match():
    ds, md = haiku.data_structures, mhk.data_structures
    pred = lambda m, n, v: n == "w"
    _same(md.filter(pred, P), ds.filter(pred, P))
    for a, b in zip(md.partition(pred, P), ds.partition(pred, P), strict=True):
        _same(a, b)
    three = lambda m, n, v: {"w": 0, "b": 2}.get(n, 1)
    for a, b in zip(md.partition_n(three, P, 3), ds.partition_n(three, P, 3), strict=True):
        _same(a, b)
    double = lambda m, n, v: v * 2
    _same(md.map(double, P), ds.map(double, P))
    other = {"mlp/~/linear_0": {"w": jnp.zeros((4, 3))}, "new": {"x": jnp.ones(1)}}
    _same(md.merge(P, other), ds.merge(P, other))
    _same(md.merge(P, other, check_duplicates=True), ds.merge(P, other, check_duplicates=True))


def test_traverse_order_and_sizes_match():
    got = [(m, n) for m, n, _ in mhk.data_structures.traverse(P)]
    assert got == [(m, n) for m, n, _ in haiku.data_structures.traverse(P)]
    assert mhk.data_structures.tree_size(P) == haiku.data_structures.tree_size(P) == 24
    assert mhk.data_structures.tree_bytes(P) == haiku.data_structures.tree_bytes(P) == 96


def test_is_subset_matches():
    for sub in ({"~": {"s": 1}}, {"~": {"t": 1}}, {"x": {"s": 1}}, {}):
        assert mhk.data_structures.is_subset(
            subset=sub, superset=P
        ) == haiku.data_structures.is_subset(subset=sub, superset=P)


def test_merge_check_duplicates_is_a_value_error_in_both(hk):
    with pytest.raises(ValueError):
        hk.data_structures.merge(P, {"~": {"s": jnp.ones(2)}}, check_duplicates=True)


def test_merge_duplicate_message_says_where_and_what_to_do():
    with pytest.raises(InvalidArgumentError) as e:
        mhk.data_structures.merge(P, {"~": {"s": jnp.ones(2)}}, check_duplicates=True)
    assert str(e.value) == (
        "merge: ~/s is in several structures with different shapes or dtypes "
        "(float32[] vs float32[2]). Rename one, or merge without check_duplicates to let "
        "the last win."
    )


def test_partition_n_out_of_range_is_a_value_error_with_a_message():
    with pytest.raises(InvalidArgumentError) as e:
        mhk.data_structures.partition_n(lambda m, n, v: 5, P, 2)
    assert isinstance(e.value, ValueError)
    assert str(e.value).startswith("partition_n: fn returned 5 for mlp/~/linear_0/b;")


def test_immutable_dict_is_read_only_a_pytree_and_converts_back(hk):
    frozen = hk.data_structures.to_immutable_dict(P)
    with pytest.raises(TypeError):
        frozen["~"] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        frozen["~"]["s"] = 1  # type: ignore[index]
    bumped = jax.tree.map(lambda v: v + 1, frozen)
    assert_same_tree(
        hk.data_structures.to_mutable_dict(bumped), jax.tree.map(lambda v: v + 1, _plain(P))
    )
    back = hk.data_structures.to_mutable_dict(frozen)
    assert type(back) is dict and type(back["~"]) is dict
    assert type(hk.data_structures.to_haiku_dict(P)) is dict
