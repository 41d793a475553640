"""eval_summary and tabulate: against dm-haiku's experimental ones."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

import minihaiku.core as mh
from minihaiku.core import InvalidArgumentError, NotCallableError
from minihaiku.layers import MLP

hk = pytest.importorskip("haiku")

X = jnp.ones((2, 4))


def _hk_mlp(x):
    return hk.nets.MLP([3, 5])(x)


def _mh_mlp(x):
    return MLP([3, 5])(x)


def _shapes(params):
    return sorted((tuple(v.shape), str(v.dtype)) for v in params.values())


def test_eval_summary_sees_the_calls_dm_haiku_sees():
    ours = mh.eval_summary(_mh_mlp)(X)
    theirs = hk.experimental.eval_summary(_hk_mlp)(X)
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours, theirs, strict=True):
        assert a.module_details.method_name == b.module_details.method_name
        assert a.args_spec == tuple(str(s) for s in b.args_spec)
        assert a.output_spec == str(b.output_spec)
        assert _shapes(a.module_details.params) == _shapes(b.module_details.params)
        assert len(a.call_stack) == len(b.call_stack)
        assert a.call_stack[0] is a.module_details


def test_eval_summary_accepts_transformed_pairs_and_computes_nothing():
    calls = mh.eval_summary(mh.transform(_mh_mlp))(X)
    assert [c.module_details.module.module_path for c in calls] == [
        "~/MLP_0",
        "~/MLP_0/__call__/Linear_0",
        "~/MLP_0/__call__/Linear_1",
    ]
    stateful = mh.eval_summary(mh.transform_with_state(_mh_mlp))(X)
    assert len(stateful) == 3
    params = calls[0].module_details.params
    assert all(isinstance(v, jax.ShapeDtypeStruct) for v in params.values())


def test_eval_summary_records_state_and_kwargs():
    class Counter(mh.Module):
        def __call__(self, x, *, scale=1.0):
            n = mh.get_state("n", (), jnp.int32, init="zeros")
            mh.set_state("n", n + 1)
            return x * scale

    (call,) = mh.eval_summary(lambda x: Counter()(x, scale=2.0))(X)
    assert call.kwargs_spec == {"scale": 2.0}
    assert {k: v.shape for k, v in call.module_details.state.items()} == {
        "~/Counter_0/__call__/n": ()
    }


def test_a_super_chain_is_one_row():
    class A(mh.Module):
        def __call__(self, x):
            return x + 1

    class B(A):
        def __call__(self, x):
            return super().__call__(x)

    assert len(mh.eval_summary(lambda x: B()(x))(X)) == 1


def test_tabulate_lists_module_method_params_and_sizes():
    table = mh.tabulate(_mh_mlp)(X)
    lines = table.splitlines()
    assert lines[1].split("|")[1:-1] == [
        f" {h} ".ljust(len(c))
        for h, c in zip(
            ["Module", "Method", "Config", "Module params", "Input", "Output",
             "Param count", "Param bytes"],
            lines[1].split("|")[1:-1],
            strict=True,
        )
    ]  # fmt: skip
    rows = [line for line in lines if line.startswith("| ~/")]
    assert [r.split("|")[1].strip() for r in rows] == [
        "~/MLP_0",
        "~/MLP_0/__call__/Linear_0",
        "~/MLP_0/__call__/Linear_1",
    ]
    cells = [[c.strip() for c in r.split("|")[1:-1]] for r in rows]
    # count and bytes against dm-haiku's: 4*3+3 + 3*5+5 = 35 for the MLP
    assert [c[6] for c in cells] == ["35", "15", "20"]
    assert [c[7] for c in cells] == ["140 B", "60 B", "80 B"]
    assert cells[1][1] == "__call__" and cells[1][3] == "b: f32[3]"
    assert "w: f32[4,3]" in table and "└ ~/MLP_0" in table
    theirs = hk.experimental.tabulate(_hk_mlp)(X)
    for count in ("35", "15", "20"):
        assert f" {count} |" in theirs


def test_tabulate_columns_and_filters():
    class Act(mh.Module):
        def __call__(self, x):
            return jax.nn.relu(x)

    def f(x):
        return Act()(MLP([3])(x))

    only = mh.tabulate(f, columns=("module",), filters=("has_params",))(X)
    assert "Act" not in only and "~/MLP_0 " in only
    assert only.splitlines()[1] == "| Module                    |"
    everything = mh.tabulate(f, columns=None, filters=None)(X)
    assert "~/Act_0" in everything


def test_tabulate_unknown_column_is_an_error():
    with pytest.raises(InvalidArgumentError) as e:
        mh.tabulate(_mh_mlp, columns=("module", "shape"))
    assert str(e.value) == (
        "tabulate: each of columns must be one of 'module', 'method', 'config', "
        "'owned_params', 'input', 'output', 'params_size', 'params_bytes'; got 'shape'."
    )


def test_tabulate_a_string_for_columns_is_an_error():
    with pytest.raises(InvalidArgumentError) as e:
        mh.tabulate(_mh_mlp, filters="has_params")
    assert str(e.value) == (
        "tabulate: filters must be a sequence of names, got the string 'has_params'; "
        "write filters=('has_params',)."
    )


@pytest.mark.parametrize("fn", [mh.eval_summary, mh.tabulate])
def test_a_non_callable_is_an_error(fn):
    with pytest.raises(NotCallableError) as e:
        fn(3)
    assert str(e.value).startswith(f"{fn.__name__} expects a function, got int 3.")
