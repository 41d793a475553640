"""Every layer, net and padding function of dm-haiku has its minihaiku.layers counterpart."""

import inspect

import pytest

from minihaiku import layers
from minihaiku.layers import nets, pad

hk = pytest.importorskip("haiku")

#: dm-haiku's layer-side functions (not modules) that minihaiku.layers provides.
FUNCTIONS = (
    "avg_pool", "max_pool", "dropout", "dynamic_unroll", "static_unroll",
    "deep_rnn_with_skip_connections", "expand_apply", "one_hot", "multinomial",
    "get_channel_index",
)  # fmt: skip


def test_every_dm_haiku_module_is_a_layer():
    modules = {
        name
        for name in hk.__all__
        if inspect.isclass(getattr(hk, name))
        and issubclass(getattr(hk, name), hk.Module)
        and name != "Module"
    }
    assert modules <= set(layers.__all__), sorted(modules - set(layers.__all__))


def test_the_other_layer_names_nets_and_pad():
    extras = {"Deferred", "LSTMState", "EmbedLookupStyle", "BatchApply", "SeparableDepthwiseConv2D"}
    assert set(FUNCTIONS) | extras <= set(layers.__all__)
    assert set(hk.nets.__all__) <= set(nets.__all__)
    assert set(hk.pad.__all__) <= set(pad.__all__)
