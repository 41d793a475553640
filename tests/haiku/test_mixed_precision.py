"""hk.mixed_precision on minihaiku.haiku against dm-haiku, with jmp policies."""

import jax
import jax.numpy as jnp
import pytest

import minihaiku.haiku as mhk
from minihaiku.core import InvalidArgumentTypeError

from ._compare import assert_same_tree

haiku = pytest.importorskip("haiku")
jmp = pytest.importorskip("jmp")

X = jax.random.normal(jax.random.PRNGKey(1), (2, 4))


@pytest.fixture(autouse=True)
def _clean():
    yield
    for lib in (haiku, mhk):
        for cls in (lib.Linear, lib.nets.MLP):
            lib.mixed_precision.clear_policy(cls)


@pytest.mark.parametrize("spec", ["p=f32,c=bf16,o=f32", "p=f32,c=f16,o=f16", "p=bf16,c=bf16,o=f32"])
def test_a_jmp_policy_on_linear_gives_dm_haikus_dtypes_and_values(spec):
    results = []
    for lib in (haiku, mhk):
        policy = jmp.get_policy(spec)
        lib.mixed_precision.set_policy(lib.Linear, policy)
        assert lib.mixed_precision.get_policy(lib.Linear) is policy
        f = lib.transform(lambda x, lib=lib: lib.nets.MLP([3, 2])(x))
        params = f.init(jax.random.PRNGKey(0), X)
        results.append((params, f.apply(params, None, X)))
    (p_ref, out_ref), (p_got, out_got) = results
    assert_same_tree(p_got, p_ref)
    assert out_got.dtype == out_ref.dtype
    assert_same_tree(out_got.astype(jnp.float32), out_ref.astype(jnp.float32), exact=False)


def test_push_policy_restores_and_clear_policy_clears(hk):
    outer, inner = jmp.get_policy("p=f32,c=f32,o=f32"), jmp.get_policy("p=f32,c=bf16,o=bf16")
    hk.mixed_precision.set_policy(hk.Linear, outer)
    with hk.mixed_precision.push_policy(hk.Linear, inner):
        assert hk.mixed_precision.get_policy(hk.Linear) is inner
        out = hk.without_apply_rng(hk.transform(lambda x: hk.Linear(2)(x)))
        assert out.apply(out.init(jax.random.PRNGKey(0), X), X).dtype == jnp.bfloat16
    assert hk.mixed_precision.get_policy(hk.Linear) is outer
    hk.mixed_precision.clear_policy(hk.Linear)
    assert hk.mixed_precision.get_policy(hk.Linear) is None


def test_a_policy_that_is_no_policy_is_a_type_error_with_a_message():
    with pytest.raises(InvalidArgumentTypeError) as e:
        mhk.mixed_precision.set_policy(mhk.Linear, 3)
    assert isinstance(e.value, TypeError)
    assert str(e.value) == (
        "set_policy(Linear): policy must be a jmp.Policy, a minihaiku.core.Policy or a "
        "policy string, got int 3. Pass e.g. jmp.get_policy('p=f32,c=bf16,o=f32')."
    )
