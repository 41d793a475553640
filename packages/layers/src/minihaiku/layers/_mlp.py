"""``MLP``: a stack of ``Linear`` layers with an activation between them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax

from minihaiku.core import InitLike, InvalidArgumentTypeError, Module, NotCallableError
from minihaiku.layers._checks import check_size, resolve_init
from minihaiku.layers._linear import DEFAULT_B_INIT, DEFAULT_W_INIT, Linear

__all__ = ["MLP"]


class MLP(Module):
    """A multi-layer perceptron: ``Linear`` layers with ``activation`` between.

    The layers are created inside ``__call__``, as in the seed, so parameter
    paths are ``~/MLP_0/__call__/Linear_0/__call__/w``; calling the same MLP
    again reuses them.

    Args:
      output_sizes: output size of each layer (positive ints).
      activation: applied after every layer but the last (default
        ``jax.nn.relu``, as in dm-haiku).
      activate_final: apply ``activation`` after the last layer too.
      with_bias: give every layer a bias.
      w_init: initializer of every ``w`` (default ``lecun_normal``).
      b_init: initializer of every ``b`` (default zeros).
      name: the module's name; default ``MLP_N``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from minihaiku.core import transform
      >>> f = transform(lambda x: MLP([3, 5], activation=jax.nn.sigmoid)(x))
      >>> sorted(f.init(0, jnp.ones((2, 3))))[:2]
      ['~/MLP_0/__call__/Linear_0/__call__/b', '~/MLP_0/__call__/Linear_0/__call__/w']
    """

    def __init__(
        self,
        output_sizes: Sequence[int],
        activation: Callable[[jax.Array], jax.Array] = jax.nn.relu,
        activate_final: bool = False,
        with_bias: bool = True,
        w_init: InitLike = None,
        b_init: InitLike = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        where = f"MLP {self.module_path}"
        if isinstance(output_sizes, (str, bytes)) or not isinstance(output_sizes, Sequence):
            raise InvalidArgumentTypeError(
                f"{where}: output_sizes must be a sequence of positive ints, got "
                f"{type(output_sizes).__name__} {output_sizes!r:.60}. Pass e.g. "
                "[128, 128, 1]."
            )
        if not output_sizes:
            raise InvalidArgumentTypeError(
                f"{where}: output_sizes is empty; an MLP needs at least one layer, e.g. [128, 1]."
            )
        self.output_sizes = tuple(
            check_size(s, f"output_sizes[{i}]", where) for i, s in enumerate(output_sizes)
        )
        if not callable(activation):
            raise NotCallableError(
                f"{where}: activation must be a callable such as jax.nn.relu, got "
                f"{type(activation).__name__} {activation!r:.60}."
            )
        self.activation = activation
        self.activate_final = bool(activate_final)
        self.with_bias = bool(with_bias)
        self.w_init = resolve_init(w_init, DEFAULT_W_INIT, "w_init", where)
        self.b_init = resolve_init(b_init, DEFAULT_B_INIT, "b_init", where)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Applies the layers to ``x`` of shape ``(..., features)``."""
        last = len(self.output_sizes) - 1
        for i, size in enumerate(self.output_sizes):
            x = Linear(size, self.with_bias, self.w_init, self.b_init)(x)
            if i < last or self.activate_final:
                x = self.activation(x)
        return x
