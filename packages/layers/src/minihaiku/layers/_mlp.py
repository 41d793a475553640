"""``MLP``: a stack of ``Linear`` layers with an activation between them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import jax

from minihaiku.core import (
    InitLike,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    Module,
    NotCallableError,
    RngError,
)
from minihaiku.core.checks import check_initializer
from minihaiku.layers._axes import LINEAR_AXES, Pair, check_axis_pair, swap
from minihaiku.layers._basic import dropout
from minihaiku.layers._checks import check_size
from minihaiku.layers._linear import DEFAULT_B_INIT, DEFAULT_W_INIT, Linear

__all__ = ["MLP"]


class MLP(Module):
    """A multi-layer perceptron: ``Linear`` layers with ``activation`` between.

    The arguments are dm-haiku's ``hk.nets.MLP``'s, in its order. The layers
    are created inside ``__call__``, as in the seed, so parameter paths are
    ``~/MLP_0/__call__/Linear_0/__call__/w``; calling the same MLP again reuses
    them.

    Args:
      output_sizes: output size of each layer (positive ints).
      w_init: initializer of every ``w`` (default ``lecun_normal``).
      b_init: initializer of every ``b`` (default zeros); must be ``None``
        when ``with_bias`` is false.
      with_bias: give every layer a bias.
      activation: applied after every layer but the last (default
        ``jax.nn.relu``, as in dm-haiku).
      activate_final: apply ``activation`` after the last layer too.
      name: the module's name; default ``MLP_N``.
      axes: the logical axis names (input, output) of the first layer's ``w``
        for sharding; the layers alternate them (``(a, b)``, ``(b, a)``,
        ``(a, b)``, ...), so a two-layer MLP in a transformer is sharded
        Megatron-style. Default ``("embed", "mlp")``; ``None``: unannotated.
        Keyword-only (not in dm-haiku).

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> f = transform(lambda x: MLP([3, 5], activation=jax.nn.sigmoid)(x))
      >>> sorted(f.init(0, jnp.ones((2, 3))))[:2]
      ['~/MLP_0/__call__/Linear_0/__call__/b', '~/MLP_0/__call__/Linear_0/__call__/w']
    """

    def __init__(
        self,
        output_sizes: Iterable[int],
        w_init: InitLike = None,
        b_init: InitLike = None,
        with_bias: bool = True,
        activation: Callable[[jax.Array], jax.Array] = jax.nn.relu,
        activate_final: bool = False,
        name: str | None = None,
        *,
        axes: Pair = LINEAR_AXES,
    ) -> None:
        super().__init__(name=name)
        where = self.module_label
        self.axes = check_axis_pair(axes, "axes", where)
        given: Any = output_sizes
        if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
            raise InvalidArgumentTypeError(
                f"{where}: output_sizes must be a sequence of positive ints, got "
                f"{type(output_sizes).__name__} {output_sizes!r:.60}. Pass e.g. "
                "[128, 128, 1]."
            )
        sizes = tuple(given)
        if not sizes:
            raise InvalidArgumentTypeError(
                f"{where}: output_sizes is empty; an MLP needs at least one layer, e.g. [128, 1]."
            )
        self.output_sizes = tuple(
            check_size(s, f"output_sizes[{i}]", where) for i, s in enumerate(sizes)
        )
        self.output_size = self.output_sizes[-1]
        if not callable(activation):
            raise NotCallableError(
                f"{where}: activation must be a callable such as jax.nn.relu, got "
                f"{type(activation).__name__} {activation!r:.60}."
            )
        if not with_bias and b_init is not None:
            raise InvalidArgumentError(
                f"{where}: b_init is given but with_bias=False, so there is no bias to "
                "initialize. Drop b_init, or set with_bias=True."
            )
        self.activation = activation
        self.activate_final = bool(activate_final)
        self.with_bias = bool(with_bias)
        self._given_inits = (w_init, b_init)
        self.w_init = check_initializer(w_init, "w_init", where, default=DEFAULT_W_INIT)
        self.b_init = check_initializer(b_init, "b_init", where, default=DEFAULT_B_INIT)
        self._input_sizes: tuple[int, ...] | None = None

    def __call__(
        self, inputs: jax.Array, dropout_rate: float | None = None, rng: Any = None
    ) -> jax.Array:
        """Applies the layers to ``inputs`` of shape ``(..., features)``.

        Args:
          inputs: the input array.
          dropout_rate: if given, :func:`~minihaiku.layers.dropout` at this rate
            after every activated layer (before its activation), as dm-haiku.
          rng: the PRNG key (or int seed) for the dropout; needed with
            ``dropout_rate`` and only then. Split once per layer as dm-haiku's
            ``PRNGSequence`` does, so the same key gives dm-haiku's masks.

        Returns:
          An array of shape ``(..., output_sizes[-1])``.
        """
        if dropout_rate is not None and rng is None:
            raise RngError(
                f"{self.module_label}: dropout_rate={dropout_rate!r} needs an rng key. Pass "
                "rng=next_rng_key() (or any PRNG key) with dropout_rate."
            )
        if dropout_rate is None and rng is not None:
            raise InvalidArgumentError(
                f"{self.module_label}: rng is only used for dropout; pass dropout_rate with it, "
                "or leave rng out."
            )
        if isinstance(rng, int):
            rng = jax.random.PRNGKey(rng)
        x = inputs
        sizes = []
        last = len(self.output_sizes) - 1
        pair = (self.axes, swap(self.axes))  # even layers map forward, odd ones back
        for i, size in enumerate(self.output_sizes):
            shape = getattr(x, "shape", None)
            sizes.append(int(shape[-1]) if shape else 0)
            x = Linear(size, self.with_bias, self.w_init, self.b_init, axes=pair[i % 2])(x)
            if i < last or self.activate_final:
                if dropout_rate is not None:
                    rng, key = jax.random.split(rng)
                    x = dropout(key, dropout_rate, x)
                x = self.activation(x)
        self._input_sizes = tuple(sizes)
        return x

    def reverse(self, activate_final: bool | None = None, name: str | None = None) -> MLP:
        """An MLP whose layers mirror this one's (call this MLP first), as dm-haiku's.

        Its output sizes are this MLP's input sizes in reverse order, so it maps
        this MLP's output back to the shape of its input. It has its own
        parameters (none are shared).

        Args:
          activate_final: activate its last layer; default this MLP's
            ``activate_final``.
          name: its name; default this MLP's name followed by ``_reversed``.

        Returns:
          The new ``MLP`` (same inits, bias and activation).

        Examples:
          >>> import jax.numpy as jnp
          >>> from minihaiku.core import transform
          >>> def f(x):
          ...   mlp = MLP([1, 2, 3])
          ...   y = mlp(x)  # first: reverse() needs the input sizes
          ...   return mlp.reverse()(y)
          >>> transform(f).apply(transform(f).init(0, jnp.ones((1, 2))), jnp.ones((1, 2))).shape
          (1, 2)
        """
        if self._input_sizes is None:
            raise InvalidArgumentError(
                f"{self.module_label}: reverse() needs the input size of every layer, known "
                "only once the MLP has been called. Call it on an input first."
            )
        w_init, b_init = self._given_inits
        return MLP(
            output_sizes=self._input_sizes[::-1],
            w_init=w_init,
            b_init=b_init,
            with_bias=self.with_bias,
            activation=self.activation,
            activate_final=self.activate_final if activate_final is None else activate_final,
            name=self.name + "_reversed" if name is None else name,
        )
