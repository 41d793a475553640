"""Exact texts of layer argument errors that no other test pins (issue 17: one check order)."""

import pytest

from minihaiku import layers as L
from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError, transform
from minihaiku.layers import nets


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda: nets.VectorQuantizer(4, 8, commitment_cost="high"),
            InvalidArgumentTypeError,
            "VectorQuantizer ~/VectorQuantizer_0: commitment_cost must be a number, got str "
            "'high'. Pass e.g. commitment_cost=0.25.",
        ),
        (
            lambda: nets.VectorQuantizerEMA(4, 8, commitment_cost=0.25, decay=0.9, epsilon=True),
            InvalidArgumentTypeError,
            "VectorQuantizerEMA ~/VectorQuantizerEMA_0: epsilon must be a number, got bool "
            "True. Pass e.g. epsilon=1e-05.",
        ),
        (
            lambda: nets.ResNet(blocks_per_group=(1, 1), num_classes=10),
            InvalidArgumentError,
            "ResNet ~/ResNet_0: blocks_per_group must be of length 4 (one entry per block "
            "group), got length 2: (1, 1).",
        ),
        (
            lambda: nets.ResNet(blocks_per_group=3, num_classes=10),
            InvalidArgumentTypeError,
            "ResNet ~/ResNet_0: blocks_per_group must be a sequence of length 4 (one entry "
            "per block group), got int 3.",
        ),
        (
            lambda: L.Conv2D(4, 3, data_format=3),
            InvalidArgumentTypeError,
            "Conv2D ~/Conv2D_0: data_format must be a string such as 'channels_last', got int 3.",
        ),
        (
            lambda: L.Conv2D(4, 3, padding=[(1, "a")]),
            InvalidArgumentTypeError,
            "Conv2D ~/Conv2D_0: padding must be a string, a padding function or (low, high) "
            "int pairs, got [(1, 'a')]. Pass e.g. padding=[(1, 1)] * 2.",
        ),
        (
            lambda: L.Conv2DTranspose(4, 3, padding=[(1, 2, 3)]),
            InvalidArgumentTypeError,
            "Conv2DTranspose ~/Conv2DTranspose_0: padding must be a string, a padding "
            "function or (low, high) int pairs, got [(1, 2, 3)]. Pass e.g. "
            "padding=[(1, 1)] * 2.",
        ),
    ],
)
def test_a_bad_argument_names_the_module_the_argument_and_the_fix(make, error, message):
    with pytest.raises(error) as e:
        transform(make).init(0)
    assert type(e.value) is error
    assert str(e.value) == message


def test_a_subclass_is_named_by_its_own_class():
    class Wide(L.Linear):
        pass

    with pytest.raises(InvalidArgumentError) as e:
        transform(lambda: Wide(0)).init(0)
    assert str(e.value) == (
        "Wide ~/Wide_0: output_size must be a positive int, got 0. A layer needs at least "
        "one output unit."
    )
