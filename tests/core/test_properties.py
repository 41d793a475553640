"""Property tests over random module trees: unique, stable names; init/apply round trip."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from minihaiku.core import Module, get_param, transform

# A tree: ("leaf", n_params) or ("node", [children], calls) where calls says how
# many times the node calls itself again (re-using its children).
leaves = st.tuples(st.just("leaf"), st.integers(1, 3))
trees = st.recursive(
    leaves,
    lambda kids: st.tuples(
        st.just("node"), st.lists(kids, min_size=1, max_size=3), st.integers(1, 2)
    ),
    max_leaves=8,
)


class Leaf(Module):
    def __init__(self, n):
        super().__init__()
        self.n = n

    def __call__(self, x):
        for i in range(self.n):
            x = x * get_param(f"p{i}", (2,), init=jax.nn.initializers.normal(1.0))
        return x


class Node(Module):
    def __init__(self, spec):
        super().__init__()
        self.spec = spec

    def __call__(self, x):
        for child in self.spec:
            x = build(child)(x)
        return x


def build(spec):
    if spec[0] == "leaf":
        return Leaf(spec[1])
    return _Repeat(Node(spec[1]), spec[2])


class _Repeat:
    def __init__(self, module, times):
        self.module, self.times = module, times

    def __call__(self, x):
        for _ in range(self.times):
            x = self.module(x)
        return x


def count(spec):
    if spec[0] == "leaf":
        return spec[1]
    return sum(count(c) for c in spec[1])


@settings(max_examples=60, deadline=None)
@given(trees)
def test_names_are_unique_stable_and_counted(spec):
    f = transform(lambda x: build(spec)(x))
    x = jnp.ones(2)
    p1 = f.init(0, x)
    p2 = f.init(0, x)
    assert list(p1) == list(p2)  # stable
    assert len(p1) == count(spec)  # one per get_param site: repeats share
    for path in p1:
        parts = path.split("/")
        assert parts[0] == "~" and all(parts)
    out = f.apply(p1, x)
    np.testing.assert_array_equal(out, f.apply(p2, x))
    # Round trip through jit, and through a copy of the mapping.
    np.testing.assert_allclose(jax.jit(f.apply)(dict(p1), x), out, rtol=1e-5)
