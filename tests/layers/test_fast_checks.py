"""The layers' argument checks answer the same with and without their fast paths (issue 20).

``check_axis_pair`` returns a plain tuple of two ``str``/``None`` at once and
``check_size`` a positive ``int``: every other value (lists, tuple subclasses,
numpy ints, bad entries) still goes through the full check, with the same
results and messages.
"""

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku import layers as L
from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError, param_axes, transform

W = "~/Linear_0/__call__/w"
B = "~/Linear_0/__call__/b"


class Names(NamedTuple):
    inputs: str | None
    outputs: str | None


@pytest.mark.parametrize(
    ("axes", "w", "b"),
    [
        (("embed", "mlp"), ("embed", "mlp"), ("mlp",)),
        (("embed", None), ("embed", None), (None,)),
        ((None, "mlp"), (None, "mlp"), ("mlp",)),
        (["embed", None], ("embed", None), (None,)),
        (Names("in", "out"), ("in", "out"), ("out",)),
    ],
)
def test_axes_pairs_give_the_same_annotations_on_either_path(axes, w, b):
    got = param_axes(transform(lambda x: L.Linear(4, axes=axes)(x)), jnp.ones((2, 3)))
    assert got[W] == w
    assert got[B] == b


@pytest.mark.parametrize("axes", [("embed", 3), ("embed", "mlp", "x"), (b"embed", "mlp")])
def test_a_tuple_with_a_bad_entry_or_length_is_still_a_type_error(axes):
    with pytest.raises(InvalidArgumentTypeError) as e:
        transform(lambda x: L.Linear(4, axes=axes)(x)).init(0, jnp.ones((1, 2)))
    assert str(e.value).startswith(
        "Linear ~/Linear_0: axes must be a pair (input name, output name) of logical "
        "axis names (str or None), or None for no annotation, got tuple "
    )


@pytest.mark.parametrize("size", [4, np.int64(4), np.int32(4)])
def test_output_size_ints_of_any_kind_give_a_python_int(size):
    def f(x):
        layer = L.Linear(size)
        assert type(layer.output_size) is int and layer.output_size == 4
        return layer(x)

    params = transform(f).init(0, jnp.ones((2, 3)))
    assert params[W].shape == (3, 4)


def test_bad_output_sizes_keep_their_errors():
    def build(size):
        return lambda x: L.Linear(size)(x)

    x = jnp.ones((1, 2))
    with pytest.raises(
        InvalidArgumentTypeError, match="output_size must be a positive int, got the bool True"
    ):
        transform(build(True)).init(0, x)
    with pytest.raises(InvalidArgumentError, match="output_size must be a positive int, got -1"):
        transform(build(-1)).init(0, x)
    with pytest.raises(InvalidArgumentTypeError, match=r"got float 2\.0"):
        transform(build(2.0)).init(0, x)
