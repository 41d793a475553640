"""dm-haiku's ``LSTM`` and ``VanillaRNN``: their inner ``Linear`` is dm-haiku's.

minihaiku.layers' cores build ``minihaiku.layers.Linear``, whose default ``w``
is minihaiku's own. dm-haiku's cores build ``hk.Linear`` (truncated normal,
stddev ``1/sqrt(fan_in)``), so these subclasses (same names, so the haiku
scheme names them ``lstm``, ``vanilla_rnn``) swap in ``hk.Linear``: ``init``
gives dm-haiku's values bit for bit for the same key. ``LSTM.initial_state``
builds both zero vectors before batching them, as dm-haiku's (the same jitted
program). The ConvLSTMs build ``hk.ConvND``, which adds its bias as dm-haiku's.
"""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp

import minihaiku.layers as ml
from minihaiku.haiku._layers import ConvND, Linear

__all__ = ["LSTM", "Conv1DLSTM", "Conv2DLSTM", "Conv3DLSTM", "VanillaRNN"]


class LSTM(ml.LSTM):
    """dm-haiku's ``hk.LSTM``: :class:`minihaiku.layers.LSTM` with ``hk.Linear`` inside.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> def f(x):
      ...   core = hk.LSTM(2)
      ...   return core(x, core.initial_state(1))
      >>> params = hk.transform(f).init(jax.random.PRNGKey(0), jnp.ones((1, 3)))
      >>> {k: v["w"].shape for k, v in params.items()}
      {'lstm/linear': (5, 8)}
    """

    linear_cls: ClassVar[type[ml.Linear]] = Linear

    def initial_state(self, batch_size: int | None) -> ml.LSTMState:
        """Zero hidden and cell vectors (both made, then batched: dm-haiku's op order)."""
        state = ml.LSTMState(jnp.zeros([self.hidden_size]), jnp.zeros([self.hidden_size]))
        if batch_size is None:
            return state
        return jax.tree_util.tree_map(  # type: ignore[no-any-return]
            lambda x: jnp.broadcast_to(x, (batch_size, *x.shape)), state
        )


class VanillaRNN(ml.VanillaRNN):
    """dm-haiku's ``hk.VanillaRNN``: :class:`minihaiku.layers.VanillaRNN` with ``hk.Linear``.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> def f(x):
      ...   core = hk.VanillaRNN(2)
      ...   return core(x, core.initial_state(1))
      >>> params = hk.transform(f).init(jax.random.PRNGKey(0), jnp.ones((1, 3)))
      >>> sorted(params)
      ['vanilla_rnn/linear', 'vanilla_rnn/linear_1']
    """

    linear_cls: ClassVar[type[ml.Linear]] = Linear


class Conv1DLSTM(ml.Conv1DLSTM):
    """dm-haiku's ``hk.Conv1DLSTM``: its convolutions add the bias as dm-haiku's do.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> issubclass(hk.Conv1DLSTM, ml.Conv1DLSTM)
      True
    """

    conv_cls: ClassVar[type[ml.ConvND]] = ConvND


class Conv2DLSTM(ml.Conv2DLSTM):
    """dm-haiku's ``hk.Conv2DLSTM``: its convolutions add the bias as dm-haiku's do.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> issubclass(hk.Conv2DLSTM, ml.Conv2DLSTM)
      True
    """

    conv_cls: ClassVar[type[ml.ConvND]] = ConvND


class Conv3DLSTM(ml.Conv3DLSTM):
    """dm-haiku's ``hk.Conv3DLSTM``: its convolutions add the bias as dm-haiku's do.

    Examples:
      >>> import minihaiku.haiku as hk
      >>> issubclass(hk.Conv3DLSTM, ml.Conv3DLSTM)
      True
    """

    conv_cls: ClassVar[type[ml.ConvND]] = ConvND
