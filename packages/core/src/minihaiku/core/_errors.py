"""The exceptions minihaiku raises.

Every error derives from :class:`MinihaikuError` and also from the built-in
exception a Python user would catch for that kind of mistake (``ValueError``,
``TypeError``, ``KeyError``, ...). Messages say what was wrong, where (the
parameter path or the module) and what to do instead.
"""

from __future__ import annotations

__all__ = [
    "DuplicateInitializerError",
    "DuplicateNameError",
    "InitializerError",
    "InvalidArgumentError",
    "InvalidArgumentTypeError",
    "InvalidNameError",
    "InvalidParamsError",
    "MinihaikuError",
    "MissingParameterError",
    "MissingStateError",
    "ModuleConstructionError",
    "NotCallableError",
    "NotInTransformError",
    "ParameterDtypeError",
    "ParameterShapeError",
    "PluginLoadError",
    "PluginLoadWarning",
    "RngError",
    "ShardingError",
    "StateNotAllowedError",
    "UnknownInitializerError",
    "UnliftedTransformError",
]


class MinihaikuError(Exception):
    """Base class of every error raised by minihaiku.

    Every minihaiku error also derives from the built-in exception a Python
    user would catch for that kind of mistake, so either ``except`` works.

    Examples:
      >>> from minihaiku.core import MinihaikuError, get_param
      >>> try:
      ...   get_param("w", (2,))
      ... except MinihaikuError as e:
      ...   print(type(e).__name__, isinstance(e, RuntimeError))
      NotInTransformError True
    """


class _MessageKeyError(KeyError):
    """A ``KeyError`` whose ``str()`` is its message, not the message's repr."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NotInTransformError(MinihaikuError, RuntimeError, ValueError):
    """A minihaiku function that needs a transform was called outside one.

    Also a ``ValueError``, the type dm-haiku raises for this misuse.

    Examples:
      >>> from minihaiku.core import get_param
      >>> get_param("w", (2,))
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.NotInTransformError: get_param must be called inside a function
      transformed with minihaiku.core.transform ...
    """


class MissingParameterError(MinihaikuError, _MessageKeyError, ValueError):
    """``apply`` read a parameter that the given params do not hold.

    A ``KeyError``, and a ``ValueError`` as dm-haiku raises for it.

    Examples:
      >>> from minihaiku.core import get_param, transform
      >>> f = transform(lambda x: x * get_param("w", (), init=jax.nn.initializers.ones))
      >>> f.apply({}, 2.0)
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.MissingParameterError: parameter '~/w' is not in the parameter
      given to apply (0 entries). ...
    """


class MissingStateError(MinihaikuError, _MessageKeyError, ValueError):
    """``apply`` read a state entry that the given state does not hold.

    A ``KeyError``, and a ``ValueError`` as dm-haiku raises for it.

    Examples:
      >>> from minihaiku.core import get_state, set_state, transform_with_state
      >>> def count():
      ...   set_state("n", get_state("n", (), jnp.int32) + 1)
      >>> transform_with_state(count).apply({}, {})
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.MissingStateError: state '~/n' is not in the state given to apply
      (0 entries). ...
    """


class ParameterShapeError(MinihaikuError, ValueError):
    """A parameter or state value has another shape than the one asked for.

    Examples:
      >>> from minihaiku.core import get_param, transform
      >>> f = transform(lambda x: x * get_param("w", (), init=jax.nn.initializers.ones))
      >>> f.apply({"~/w": jnp.ones((3,))}, 2.0)
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.ParameterShapeError: parameter '~/w' has shape (3,), but the code
      asks for shape (). ...
    """


class ParameterDtypeError(MinihaikuError, ValueError):
    """A parameter or state value has another dtype than the one asked for.

    Examples:
      >>> from minihaiku.core import get_param, transform
      >>> f = transform(lambda x: x * get_param("w", (), init=jax.nn.initializers.ones))
      >>> f.apply({"~/w": jnp.ones((), jnp.int32)}, 2.0)
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.ParameterDtypeError: parameter '~/w' has dtype int32, but the code
      asks for dtype float32. ...
    """


class InvalidParamsError(MinihaikuError, TypeError):
    """Params (or state) given to ``apply`` are not a mapping of arrays.

    Examples:
      >>> from minihaiku.core import transform
      >>> transform(lambda x: x).apply([1.0], 2.0)
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.InvalidParamsError: apply expects params as a mapping from path to
      array (what init returned), got list. ...
    """


class InvalidNameError(MinihaikuError, ValueError):
    """A module, parameter or state name is not a usable name.

    Examples:
      >>> from minihaiku.core import get_param, transform
      >>> transform(lambda: get_param("a/b", ())).init(0)
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.InvalidNameError: parameter name 'a/b' contains '/' (in ~). ...
    """


class DuplicateNameError(MinihaikuError, ValueError):
    """Two modules were given the same explicit name in one scope.

    Examples:
      >>> from minihaiku.core import Module, transform
      >>> class Double(Module):
      ...   def __call__(self, x):
      ...     return 2 * x
      >>> transform(lambda x: Double(name="d")(Double(name="d")(x))).init(0, 1.0)
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.DuplicateNameError: a module named 'd' already exists in scope
      '~' (constructing Double). ...
    """


class ModuleConstructionError(MinihaikuError, TypeError):
    """A ``Module`` subclass was not constructed correctly.

    Examples:
      >>> from minihaiku.core import Module, transform
      >>> class Scale(Module):
      ...   def __init__(self, factor):
      ...     self.factor = factor  # forgot super().__init__()
      ...   def __call__(self, x):
      ...     return self.factor * x
      >>> transform(lambda x: Scale(2.0)(x)).init(0, 1.0)
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.ModuleConstructionError: Scale.__init__ did not call
      super().__init__(). ...
    """


class RngError(MinihaikuError, ValueError):
    """A random key was needed but none was given, or the given one is not a key.

    Examples:
      >>> from minihaiku.core import next_rng_key, transform
      >>> f = transform(lambda x: x + jax.random.normal(next_rng_key()))
      >>> f.apply({}, 1.0)
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.RngError: next_rng_key was called but apply was given no key. ...
      >>> f.init("seed", 1.0)
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.RngError: init expects a single PRNG key ... got str 'seed'.
    """


class StateNotAllowedError(MinihaikuError, RuntimeError, ValueError):
    """State was used inside a function transformed with plain ``transform``.

    Also a ``ValueError``, the type of dm-haiku's ``NonEmptyStateError``.

    Examples:
      >>> from minihaiku.core import get_state, transform
      >>> transform(lambda: get_state("n", (), jnp.int32)).init(0)
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.StateNotAllowedError: get_state was called in a function
      transformed with transform, which has no state. ...
    """


class InitializerError(MinihaikuError, ValueError):
    """An initializer was configured wrongly or returned a wrong value.

    Examples:
      >>> from minihaiku.core import get_param, transform
      >>> def three_zeros(key, shape, dtype):
      ...   return jnp.zeros((3,), dtype)  # ignores the shape it is given
      >>> transform(lambda: get_param("w", (2,), init=three_zeros)).init(0)
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.InitializerError: initializer three_zeros returned shape (3,) and
      dtype float32 for parameter '~/w'; expected shape (2,) ...
    """


class UnknownInitializerError(MinihaikuError, _MessageKeyError):
    """No initializer is registered under the requested name.

    Examples:
      >>> from minihaiku.core import get_initializer
      >>> get_initializer("glorot_unifrom")
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.UnknownInitializerError: no initializer named 'glorot_unifrom' is
      registered (known: ...
    """


class DuplicateInitializerError(MinihaikuError, ValueError):
    """Two plugins registered an initializer under the same name.

    Examples:
      >>> from minihaiku.core import Registry, hookimpl
      >>> class MyOnes:
      ...   @hookimpl
      ...   def minihaiku_register_initializers(self, register):
      ...     register("ones", lambda: lambda key, shape, dtype: jnp.ones(shape, dtype))
      >>> Registry().register_plugin(MyOnes(), name="my-ones")
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.DuplicateInitializerError: initializer 'ones' is registered twice:
      by plugin 'builtin' (minihaiku-initializers) and by plugin 'my-ones' ...
    """


class NotCallableError(MinihaikuError, TypeError):
    """Something that must be callable is not.

    Examples:
      >>> from minihaiku.core import transform
      >>> transform(3)
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.NotCallableError: transform expects a function, got int 3. ...
    """


class PluginLoadError(MinihaikuError, ImportError):
    """An initializer plugin failed to load (raised in strict mode only).

    Examples:
      >>> from minihaiku.core import Registry
      >>> class NoHooks:
      ...   pass
      >>> Registry().register_plugin(NoHooks(), name="no-hooks")
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.PluginLoadError: plugin 'no-hooks' registers no initializers: it
      has no minihaiku_register_initializers hook. ...
    """


class PluginLoadWarning(UserWarning):
    """An initializer plugin failed to load; the other plugins keep working.

    It is a ``UserWarning``, not a :class:`MinihaikuError`: the warnings
    filters decide whether it is shown, hidden or turned into an error. Each
    one stands for a :class:`~minihaiku.core.PluginFailure`.

    Examples:
      >>> import warnings
      >>> from minihaiku.core import PluginLoadWarning, Registry
      >>> reg = Registry()
      >>> with warnings.catch_warnings(record=True) as caught:
      ...   warnings.simplefilter("always", PluginLoadWarning)
      ...   reg.load_plugins()
      >>> seen = [w for w in caught if w.category is PluginLoadWarning]
      >>> len(seen) == len(reg.failed_plugins())
      True
    """


class InvalidArgumentError(MinihaikuError, ValueError):
    """A module or function was given an argument value it cannot use.

    Examples:
      >>> from minihaiku.core import next_rng_keys, transform
      >>> transform(lambda: next_rng_keys(-1)).init(0)
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.InvalidArgumentError: next_rng_keys(num): num must be an int >= 0,
      got -1; ...
    """


class InvalidArgumentTypeError(InvalidArgumentError, TypeError):
    """A module or function was given an argument of the wrong type.

    Examples:
      >>> from minihaiku.core import transform
      >>> transform(lambda x: x, apply_rng="yes")
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.InvalidArgumentTypeError: apply_rng must be True or False, got str
      'yes'. ...
    """


class UnliftedTransformError(MinihaikuError, RuntimeError, ValueError):
    """A raw JAX transform inside a transformed function would leak tracers.

    Also a ``ValueError``, the type dm-haiku's ``check_jax_usage`` raises.

    Examples:
      >>> from minihaiku.core import get_param, transform
      >>> def f(x):
      ...   scale = lambda y: y * get_param("w", (), init=jax.nn.initializers.ones)
      ...   return jax.jit(scale)(x)  # use the whole init/apply under jit instead
      >>> transform(f).init(0, 1.0)
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.UnliftedTransformError: creating parameter '~/w' inside a raw JAX
      transform that was applied inside the transformed function ...
    """


class ShardingError(MinihaikuError, ValueError):
    """Sharding annotations, rules and a mesh do not fit together.

    Raised for an annotation whose length is not the parameter's rank, a rule
    naming a mesh axis the mesh lacks, one mesh axis used twice in one
    parameter, a dimension the mesh axes do not divide, and (with complete
    rules) logical names that no rule covers. The message names the parameter
    path.

    Examples:
      >>> from minihaiku.core import get_param, transform
      >>> transform(lambda: get_param("w", (2, 3), axes=("embed",))).init(0)
      Traceback (most recent call last):
        ...
      minihaiku.core._errors.ShardingError: parameter '~/w' has rank 2 (shape (2, 3)) but
      axes=('embed',) names 1 dimension(s). ...
    """
