"""Runs one program with dm-haiku and with minihaiku.haiku and compares everything."""

import jax
import numpy as np


def leaves(tree):
    """(key path, leaf) pairs; namedtuples of either library compare by their fields."""
    return [(jax.tree_util.keystr(k), v) for k, v in jax.tree_util.tree_leaves_with_path(tree)]


def assert_same_tree(got, ref, exact=True):
    """Same key paths, dtypes and values (bit for bit, or within float32 rounding)."""
    a, b = leaves(ref), leaves(got)
    assert [k for k, _ in b] == [k for k, _ in a]
    for (k, u), (_, v) in zip(a, b, strict=True):
        u, v = np.asarray(u), np.asarray(v)
        assert u.dtype == v.dtype, k
        if exact:
            np.testing.assert_array_equal(v, u, err_msg=k)
        else:
            np.testing.assert_allclose(v, u, rtol=1e-5, atol=1e-6, err_msg=k)


def run_both(haiku, mhk, program, *args, steps=2):
    """init with one key, then ``steps`` applies with keys; compares params, state, outputs.

    ``program(hk, *args)`` is the forward function of ``hk.transform_with_state``.
    Returns the dm-haiku params and state.
    """
    ref_f = haiku.transform_with_state(lambda *a: program(haiku, *a))
    got_f = mhk.transform_with_state(lambda *a: program(mhk, *a))
    key = jax.random.PRNGKey(42)
    ref = ref_f.init(key, *args)
    got = got_f.init(key, *args)
    assert list(got[0]) == list(ref[0])
    assert list(got[1]) == list(ref[1])
    for a, b in zip(ref, got, strict=True):
        for module in a:  # (dm-haiku's lifted transforms hand back names sorted)
            assert sorted(b[module]) == sorted(a[module]), module
    assert_same_tree(got, ref)
    params, state = ref
    for step in range(steps):
        rng = jax.random.PRNGKey(step)
        out_ref, state_ref = ref_f.apply(params, state, rng, *args)
        out_got, state_got = got_f.apply(params, state, rng, *args)
        assert_same_tree(out_got, out_ref, exact=False)
        assert_same_tree(state_got, state_ref, exact=False)
        state = state_ref
    return ref
