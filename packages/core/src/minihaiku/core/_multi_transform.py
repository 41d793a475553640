"""``multi_transform``: several entry points that share one set of parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax

from minihaiku.core._errors import InvalidArgumentTypeError, InvalidParamsError
from minihaiku.core._frame import ApplyFrame, InitFrame, running
from minihaiku.core._keys import as_key
from minihaiku.core._scheme_transform import init_key
from minihaiku.core._schemes import SEED, Scheme, as_scheme
from minihaiku.core._transform import Params, State, check_callable, check_mapping, split_rng

__all__ = [
    "MultiTransformed",
    "MultiTransformedWithState",
    "multi_transform",
    "multi_transform_with_state",
]


class MultiTransformed(NamedTuple):
    """What :func:`multi_transform` returns.

    Attributes:
      init: ``init(rng, *args) -> params``: runs the template function.
      apply: the tree of functions ``f`` returned, each now
        ``apply_fn(params, *args) -> out`` (``(params, rng, *args)`` with
        ``apply_rng=True``).

    Examples:
      >>> from minihaiku.core import MultiTransformed, get_param, multi_transform
      >>> def f():
      ...   def w():
      ...     return get_param("w", (), init=jax.nn.initializers.ones)
      ...   def scale(x):
      ...     return x * w()
      ...   def shift(x):
      ...     return x + w()
      ...   return scale, {"scale": scale, "shift": shift}
      >>> model = multi_transform(f)
      >>> isinstance(model, MultiTransformed)
      True
      >>> params = model.init(0, 2.0)
      >>> params
      {'~/w': Array(1., dtype=float32)}
      >>> model.apply["scale"](params, 2.0), model.apply["shift"](params, 2.0)
      (Array(2., dtype=float32), Array(3., dtype=float32))
    """

    init: Callable[..., dict[str, jax.Array]]
    apply: Any


class MultiTransformedWithState(NamedTuple):
    """What :func:`multi_transform_with_state` returns (state as in ``transform_with_state``).

    Attributes:
      init: ``init(rng, *args) -> (params, state)``: runs the template function.
      apply: the tree of functions ``f`` returned, each now
        ``apply_fn(params, state, *args) -> (out, state)`` (``(params, state,
        rng, *args)`` with ``apply_rng=True``).

    Examples:
      >>> from minihaiku.core import MultiTransformedWithState, get_state, set_state
      >>> from minihaiku.core import multi_transform_with_state
      >>> def f():
      ...   def n():
      ...     return get_state("n", (), jnp.int32)
      ...   def step():
      ...     set_state("n", n() + 1)
      ...   return step, {"step": step, "read": n}
      >>> model = multi_transform_with_state(f)
      >>> isinstance(model, MultiTransformedWithState)
      True
      >>> params, state = model.init(0)
      >>> _, state = model.apply["step"](params, state)
      >>> model.apply["read"](params, state)
      (Array(1, dtype=int32), {'~/n': Array(1, dtype=int32)})
    """

    init: Callable[..., tuple[dict[str, jax.Array], dict[str, jax.Array]]]
    apply: Any


def _call_f(f: Callable[[], Any]) -> tuple[Callable[..., Any], Any]:
    out = f()
    if not (isinstance(out, tuple) and len(out) == 2 and callable(out[0])):
        raise InvalidArgumentTypeError(
            "multi_transform: f must return (template_fn, apply_fns): a function "
            "that creates every parameter (called by init) and a tree of "
            f"functions (the entry points), got {type(out).__name__}. Example: "
            "def f(): model = Model(); return model.__call__, (model.encode, model.decode)."
        )
    return out[0], out[1]


def _structure(f: Callable[[], Any], allow_state: bool, scheme: Scheme) -> Any:
    """The tree structure of ``f``'s entry points (found without computing anything)."""

    def probe(key: Any) -> Any:
        with running(InitFrame({}, {}, allow_state=allow_state, rng=key, scheme=scheme)):
            _, fns = _call_f(f)
        return jax.tree_util.tree_structure(fns)

    box: list[Any] = []
    jax.eval_shape(lambda k: box.append(probe(k)), jax.random.PRNGKey(0))
    return box[0]


def _build(
    f: Callable[[], Any], apply_rng: bool, allow_state: bool, scheme: Scheme
) -> tuple[Callable[..., Any], Any]:
    check_callable(f, "multi_transform")
    treedef = _structure(f, allow_state, scheme)
    seed = scheme is SEED

    def init(rng: Any, *args: Any, **kwargs: Any) -> Any:
        key = as_key(rng, "init") if seed else init_key(rng, scheme)
        frame = InitFrame({}, {}, allow_state=allow_state, rng=key, scheme=scheme)
        with running(frame):
            template, _ = _call_f(f)
            template(*args, **kwargs)
        if not seed:
            params, state = scheme.params_out(frame.params), scheme.params_out(frame.initial_state)
            return (params, state) if allow_state else params
        return (frame.params, frame.initial_state) if allow_state else frame.params

    def entry(i: int) -> Callable[..., Any]:
        def apply(params: Params, *args: Any, **kwargs: Any) -> Any:
            state: State = {}
            if allow_state:
                if not args:
                    raise InvalidParamsError(
                        "an entry point of multi_transform_with_state takes (params, "
                        "state, *args) and got no state. Pass the state init returned: "
                        "apply_fn(params, state, *args)."
                    )
                state, args = check_mapping(args[0], "state"), args[1:]
            rng, args = split_rng(apply_rng, args)
            params = check_mapping(params, "params")
            if not seed:
                params, state = scheme.params_in(params), scheme.params_in(state)
            new_state = dict(state)
            frame = ApplyFrame(params, new_state, allow_state=allow_state, rng=rng, scheme=scheme)
            frame.given_state = state
            with running(frame):
                _, fns = _call_f(f)
                out = jax.tree_util.tree_leaves(fns)[i](*args, **kwargs)
            if not allow_state:
                return out
            return out, (new_state if seed else scheme.params_out(new_state))

        return apply

    return init, jax.tree_util.tree_unflatten(
        treedef, [entry(i) for i in range(treedef.num_leaves)]
    )


def multi_transform(
    f: Callable[[], Any], *, apply_rng: bool = False, scheme: Scheme | str | None = None
) -> MultiTransformed:
    """Several functions sharing one set of parameters (dm-haiku's ``multi_transform``).

    ``f()`` builds the modules and returns ``(template, fns)``: ``init`` calls
    ``template`` (which must create every parameter); ``apply`` is the tree
    ``fns`` with each function made pure. ``apply_rng`` and ``scheme`` are
    as in :func:`~minihaiku.core.transform`.

    Examples:
      >>> from minihaiku.core import Module, get_param, multi_transform
      >>> class AutoEncoder(Module, method_scopes=False):
      ...   def encode(self, x):
      ...     return x @ get_param("w", (x.shape[-1], 2), init=jax.nn.initializers.ones)
      ...   def decode(self, z):
      ...     return z @ get_param("w", (2, 2), init=jax.nn.initializers.ones).T
      ...   def __call__(self, x):
      ...     return self.decode(self.encode(x))
      >>> def f():
      ...   ae = AutoEncoder()
      ...   return ae.__call__, (ae.encode, ae.decode)
      >>> init, (encode, decode) = multi_transform(f)
      >>> params = init(0, jnp.ones((1, 2)))
      >>> list(params), encode(params, jnp.ones((1, 2))).shape
      (['~/AutoEncoder_0/w'], (1, 2))
    """
    init, apply = _build(f, apply_rng, False, as_scheme(scheme, "multi_transform"))
    return MultiTransformed(init, apply)


def multi_transform_with_state(
    f: Callable[[], Any], *, apply_rng: bool = False, scheme: Scheme | str | None = None
) -> MultiTransformedWithState:
    """:func:`multi_transform` for functions with state: each ``apply_fn(params, state, *args)``.

    Examples:
      >>> from minihaiku.core import get_state, multi_transform_with_state, set_state
      >>> def f():
      ...   def count():
      ...     set_state("n", get_state("n", (), jnp.int32) + 1)
      ...   return count, (count,)
      >>> init, (count,) = multi_transform_with_state(f)
      >>> params, state = init(0)
      >>> count(params, state)
      (None, {'~/n': Array(1, dtype=int32)})
    """
    init, apply = _build(f, apply_rng, True, as_scheme(scheme, "multi_transform_with_state"))
    return MultiTransformedWithState(init, apply)
