"""``DO_NOT_STORE``: the value a custom creator or setter returns to skip the store."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["DO_NOT_STORE", "DoNotStore"]


class DoNotStore:
    """The type of :data:`DO_NOT_STORE` (one instance): return it to skip a store.

    Examples:
      >>> from minihaiku.core import DO_NOT_STORE, custom_setter, set_state
      >>> from minihaiku.core import transform_with_state
      >>> def skip_debug(next_setter, value, context):
      ...   return DO_NOT_STORE if context.name == "debug" else next_setter(value)
      >>> def f():
      ...   with custom_setter(skip_debug):
      ...     set_state("debug", jnp.ones(()))
      ...     set_state("count", jnp.zeros(()))
      >>> transform_with_state(f).init(0)[1]
      {'~/count': Array(0., dtype=float32)}
    """

    __slots__ = ()
    _instance: Any = None

    def __new__(cls) -> DoNotStore:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return "DO_NOT_STORE"

    def __reduce__(self) -> str:
        return "DO_NOT_STORE"


#: Returned by a custom creator (:func:`~minihaiku.core.custom_creator`) or
#: setter (:func:`~minihaiku.core.custom_setter`), the parameter or state entry
#: is not stored: ``init`` does not return it and ``set_state`` changes nothing.
#: A custom getter then sees ``DO_NOT_STORE`` as the value and gives the code
#: what it should use instead (dm-haiku's ``DO_NOT_STORE``).
DO_NOT_STORE: Final = DoNotStore()
