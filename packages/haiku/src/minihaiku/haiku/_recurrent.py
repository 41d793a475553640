"""dm-haiku's ``LSTM`` and ``VanillaRNN``: their inner ``Linear`` is dm-haiku's.

minihaiku.layers' cores build ``minihaiku.layers.Linear``, whose default ``w``
is minihaiku's own. dm-haiku's cores build ``hk.Linear`` (truncated normal,
stddev ``1/sqrt(fan_in)``), so these subclasses (same names, so the haiku
scheme names them ``lstm``, ``vanilla_rnn``) swap in ``hk.Linear``: ``init``
gives dm-haiku's values bit for bit for the same key.
"""

from __future__ import annotations

from typing import ClassVar

import minihaiku.layers as ml
from minihaiku.haiku._layers import Linear

__all__ = ["LSTM", "VanillaRNN"]


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
