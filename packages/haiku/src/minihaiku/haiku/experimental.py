"""dm-haiku's ``haiku.experimental``: for now its naming functions.

Examples:
  >>> import minihaiku.haiku as hk
  >>> def f():
  ...   with hk.experimental.name_scope("block"):
  ...     return hk.experimental.current_name()
  >>> hk.transform(f).apply({}, None)
  'block'
"""

from minihaiku.core import current_name, force_name, name_like, name_scope

__all__ = ["current_name", "force_name", "name_like", "name_scope"]
