"""Drop-in: constructor and call signatures are dm-haiku's (names, order, kinds, defaults)."""

import inspect

import pytest

from minihaiku import layers
from minihaiku.layers import nets

hk = pytest.importorskip("haiku")

PAIRS = [
    (layers.ConvND, hk.ConvND),
    (layers.Conv1D, hk.Conv1D),
    (layers.Conv2D, hk.Conv2D),
    (layers.Conv3D, hk.Conv3D),
    (layers.ConvNDTranspose, hk.ConvNDTranspose),
    (layers.Conv1DTranspose, hk.Conv1DTranspose),
    (layers.Conv2DTranspose, hk.Conv2DTranspose),
    (layers.Conv3DTranspose, hk.Conv3DTranspose),
    (layers.MaxPool, hk.MaxPool),
    (layers.AvgPool, hk.AvgPool),
    (layers.Sequential, hk.Sequential),
    (layers.Reshape, hk.Reshape),
    (layers.Flatten, hk.Flatten),
    (layers.BatchApply, hk.BatchApply),
    (layers.MLP, hk.nets.MLP),
    (layers.Linear, hk.Linear),
    (layers.DepthwiseConv1D, hk.DepthwiseConv1D),
    (layers.DepthwiseConv2D, hk.DepthwiseConv2D),
    (layers.DepthwiseConv3D, hk.DepthwiseConv3D),
    (layers.SeparableDepthwiseConv2D, hk.SeparableDepthwiseConv2D),
    (layers.Conv1DLSTM, hk.Conv1DLSTM),
    (layers.Conv2DLSTM, hk.Conv2DLSTM),
    (layers.Conv3DLSTM, hk.Conv3DLSTM),
    (layers.InstanceNorm, hk.InstanceNorm),
    (layers.Bias, hk.Bias),
    (layers.Deferred, hk.Deferred),
    (nets.MobileNetV1, hk.nets.MobileNetV1),
    (nets.MLP, hk.nets.MLP),
    (layers.EMAParamsTree, hk.EMAParamsTree),
    (layers.SNParamsTree, hk.SNParamsTree),
]
FUNCTIONS = [
    (layers.max_pool, hk.max_pool),
    (layers.avg_pool, hk.avg_pool),
    (layers.dropout, hk.dropout),
    (layers.expand_apply, hk.expand_apply),
    (layers.one_hot, hk.one_hot),
    (layers.multinomial, hk.multinomial),
    (layers.get_channel_index, hk.get_channel_index),
    (layers.pad.create, hk.pad.create),
]


#: minihaiku's keyword-only additions, on purpose (docs/migration.md): the
#: sharding annotation of a layer's parameters (issue 12).
ADDED_KEYWORD_ONLY = ("axes",)


def shape_of(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def shape_without_additions(fn):
    """``shape_of(fn)`` less the keyword-only additions, which must come last."""
    shape = shape_of(fn)
    n = len(ADDED_KEYWORD_ONLY)
    if [name for name, _, _ in shape[-n:]] == list(ADDED_KEYWORD_ONLY):
        assert all(kind is inspect.Parameter.KEYWORD_ONLY for _, kind, _ in shape[-n:])
        return shape[:-n]
    return shape


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=lambda c: c.__name__)
def test_constructor_and_call_signatures_are_dm_haikus(ours, theirs):
    assert shape_without_additions(ours.__init__) == shape_of(theirs.__init__)
    assert shape_of(ours.__call__) == shape_of(theirs.__call__)


@pytest.mark.parametrize(("ours", "theirs"), FUNCTIONS, ids=lambda f: f.__name__)
def test_function_signatures_are_dm_haikus(ours, theirs):
    assert shape_of(ours) == shape_of(theirs)


def test_mlp_reverse_signature_is_dm_haikus():
    assert shape_of(layers.MLP.reverse) == shape_of(hk.nets.MLP.reverse)


def test_conv_lstm_initial_state_signature_is_dm_haikus():
    assert shape_of(layers.Conv2DLSTM.initial_state) == shape_of(hk.Conv2DLSTM.initial_state)


#: Deliberate differences: BatchNorm's ``is_training`` has a sentinel default so
#: that forgetting it is a clear error, not a TypeError from the wrapper.
KNOWN_DIFFERENCES = {("BatchNorm", "__call__")}


def _same_named_pairs():
    for ours_module, theirs_module in ((layers, hk), (nets, hk.nets)):
        for name in ours_module.__all__:
            ours, theirs = getattr(ours_module, name), getattr(theirs_module, name, None)
            if theirs is not None and callable(ours) and name != "__version__":
                yield f"{ours_module.__name__}.{name}", ours, theirs


@pytest.mark.parametrize(
    ("name", "ours", "theirs"),
    list(_same_named_pairs()),
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_every_public_name_that_dm_haiku_has_takes_its_arguments(name, ours, theirs):
    """Every class and function of minihaiku.layers (and .nets) named as one of dm-haiku's."""
    if not inspect.isclass(ours):
        assert shape_of(ours) == shape_of(theirs)
        return
    for method in ("__init__", "__call__", "initial_state"):
        if hasattr(theirs, method) and (ours.__name__, method) not in KNOWN_DIFFERENCES:
            assert shape_without_additions(getattr(ours, method)) == shape_of(
                getattr(theirs, method)
            ), f"{name}.{method}"
