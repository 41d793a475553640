"""Naming and key schemes: how a transform names modules and parameters and keys them.

A :class:`Scheme` decides three things, nothing else: the name a module gets
(and the paths of its parameters and submodules), the layout of the params
and state that ``init`` returns and ``apply`` takes, and the key each random
initializer and ``next_rng_key`` call gets. Frames, scopes, modules, lifted
transforms and interceptors are the same code under every scheme.

* :data:`SEED` (``"seed"``, the default): flat paths
  (``~/MLP_0/__call__/Linear_0/__call__/w``), keys derived from the path, so
  a value never depends on how many other parameters exist.
* :data:`HAIKU` (``"haiku"``): dm-haiku's names and layout
  (``{"mlp/~/linear_0": {"w": ...}}``) and its key sequence: one key split off
  a ``PRNGSequence`` of the init key per random initializer call and per
  ``next_rng_key`` call, in call order, so values are those dm-haiku gives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp

from minihaiku.core._errors import DuplicateNameError, InvalidArgumentError, InvalidNameError
from minihaiku.core._key_sequence import KeySequence
from minihaiku.core._keys import Keys
from minihaiku.core._naming import ScopeNames, check_name
from minihaiku.core._scope import ROOT, Scope, ScopeStack

#: The prefix ``force_name`` puts on a name (dm-haiku's): the rest is the full module name.
FORCED = "FORCE:"
#: The attribute ``name_like`` sets on a method: the method whose names it takes.
NAME_LIKE = "_minihaiku_name_like"

__all__ = [
    "FORCED",
    "NAME_LIKE",
    "HAIKU",
    "SEED",
    "HaikuKeys",
    "HaikuScheme",
    "KeySequence",
    "Scheme",
    "as_scheme",
    "camel_to_snake",
]


class Scheme:
    """The seed's scheme; the base of every scheme.

    Under it module names are ``ClassName_N``, paths are flat
    (``~/Linear_0/__call__/w``) and keys derive from the path. The hot paths
    (module construction and method calls) test ``frame.scheme is SEED`` and
    keep the seed's rules inline; the methods here serve the other schemes
    and the slower helpers (``name_scope``, ``current_name``).

    Attributes:
      name: the scheme's name, as ``scheme=`` accepts it.
      nested: whether ``init`` returns (and ``apply`` takes) nested
        ``{module: {name: value}}`` mappings instead of flat paths.

    Examples:
      >>> from minihaiku.core import SEED, transform, get_param
      >>> SEED.name, SEED.nested
      ('seed', False)
      >>> list(transform(lambda: get_param("w", ()), scheme="seed").init(0))
      ['~/w']
    """

    nested = False
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<minihaiku scheme {self.name!r}>"

    def keys(self, rng: Any) -> Keys:
        """The keys of a frame whose key is ``rng``."""
        return Keys(rng)

    def scopes(self) -> ScopeStack:
        """The scope stack a new top-level frame starts with."""
        return ScopeStack()

    def module_name(self, top: Scope, cls_name: str, name: str | None) -> str:
        """Takes a unique module name in ``top`` for a module of class ``cls_name``."""
        names = top.taken()
        if name is None:
            return names.auto(cls_name)
        unique = check_name(name, "module", top.prefix)
        if unique in names.used:
            raise DuplicateNameError(
                f"a module named {unique!r} already exists in scope {top.prefix!r} "
                f"(constructing {cls_name}). Give each module in one scope its own "
                "name, or call the existing instance again to share its parameters."
            )
        names.used.add(unique)
        return unique

    def join(self, prefix: str, name: str) -> str:
        """The path of a module named ``name`` constructed under ``prefix``."""
        return prefix + "/" + name

    def construction_prefix(self, path: str) -> str:
        """Where submodules built in the ``__init__`` of the module at ``path`` go."""
        return path

    def method_scope(self, path: str, method: str) -> tuple[str, str]:
        """``(parameter path, submodule prefix)`` while ``method`` of module ``path`` runs."""
        return path + "/" + method, path + "/" + method

    def scope_name(self, top: Scope, name: str) -> str:
        """The path ``name_scope(name)`` opens in ``top`` (seed: no counter, reused)."""
        for part in name.split("/"):
            check_name(part, "name_scope", top.path)
        return top.path + "/" + name

    def current_name(self, top: Scope) -> str:
        """What ``current_name()`` returns in ``top``: the current parameter path."""
        return top.path

    def params_out(self, flat: dict[str, Any]) -> Any:
        """The params (or state) ``init`` returns, from the frame's flat dict."""
        return flat

    def params_in(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """The flat mapping a frame reads, from the params (or state) given to ``apply``."""
        return params


#: The seed's scheme, minihaiku's default.
SEED = Scheme("seed")

_FIRST_CAP = re.compile(r"(.)([A-Z][a-z]+)")
_ALL_CAP = re.compile(r"([a-z0-9])([A-Z])")
_NUMBERED = re.compile(r"^(.*)_(\d+)$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def camel_to_snake(name: str) -> str:
    """dm-haiku's module name of a class: ``"BatchNorm"`` -> ``"batch_norm"``.

    Examples:
      >>> [camel_to_snake(n) for n in ("MLP", "Conv2D", "MultiHeadAttention", "ResNet50")]
      ['mlp', 'conv2_d', 'multi_head_attention', 'res_net50']
    """
    return _ALL_CAP.sub(r"\1_\2", _FIRST_CAP.sub(r"\1_\2", name)).lower()


class HaikuKeys(Keys):
    """dm-haiku's keys: one ``PRNGSequence`` of the frame's key for everything.

    Each random initializer call and each ``next_rng_key`` takes the next key
    of the sequence (split lazily, as dm-haiku's ``PRNGSequence`` does);
    ``with_rng(key)`` draws from a sequence of ``key`` inside its block.
    """

    __slots__ = ("seq",)

    def __init__(self, base: Any, seq: KeySequence | None = None) -> None:
        super().__init__(base)
        self.seq = seq

    def _sequence(self) -> KeySequence:
        seq = self.seq
        if seq is None:
            seq = self.seq = KeySequence(self.base)
        return seq

    def param_key(self, salt: int) -> Any:
        """The next key of the sequence (``salt`` is the seed scheme's and unused)."""
        return next(self._sequence())

    def draw(self) -> Any:
        """The next key of the sequence."""
        return next(self._sequence())

    def take(self, num: int) -> Any:
        """The next ``num`` keys of the sequence, stacked (dm-haiku's ``next_rng_keys``)."""
        seq = self._sequence()
        seq.reserve(max(num - len(seq.subkeys), 0))
        return jnp.stack([next(seq) for _ in range(num)])

    def can_draw(self) -> bool:
        """Whether there is a key to draw from."""
        return self.seq is not None or self.base is not None

    def reserve(self, num: int) -> None:
        """Splits ``num`` keys at once for the next draws (dm-haiku's ``reserve_rng_keys``)."""
        if self.can_draw():
            self._sequence().reserve(num)

    def swap_draws(self, base: Any, count: int = 0) -> tuple[Any, int]:
        """Draws from a sequence of ``base`` from now on; returns what to swap back."""
        saved = self.seq, -1
        if count == -1:  # swapping back: ``base`` is the saved sequence
            self.seq = base
        else:
            self.seq = KeySequence(base)
        return saved

    def child(self, base: Any) -> Keys:
        """Keys of a lifted pass: the same sequence when the key is the same."""
        if base is not self.base:
            return HaikuKeys(base)
        return HaikuKeys(base, self._sequence() if self.can_draw() else None)


class HaikuScheme(Scheme):
    """dm-haiku's names, nested layout and key sequence (``scheme="haiku"``).

    Examples:
      >>> from minihaiku.core import HAIKU, transform, get_param
      >>> f = transform(lambda: get_param("w", (), init="ones"), scheme=HAIKU)
      >>> f.init(0)
      {'~': {'w': Array(1., dtype=float32)}}
    """

    nested = True
    __slots__ = ()

    def keys(self, rng: Any) -> Keys:
        return HaikuKeys(rng)

    def scopes(self) -> ScopeStack:
        return ScopeStack([Scope(ROOT, None, None, "")])

    def module_name(self, top: Scope, cls_name: str, name: str | None) -> str:
        if type(name) is str and name.startswith(FORCED):  # force_name: the full name
            return _Forced(name[len(FORCED) :])
        if name is None:
            name = camel_to_snake(cls_name)
        elif type(name) is not str or not _IDENTIFIER.match(name):
            raise InvalidNameError(
                f"{name!r} is not a valid module name (constructing {cls_name} in "
                f"{top.prefix or ROOT!r}): under the haiku scheme a module name must "
                "be a Python identifier, e.g. 'encoder' or 'linear_1'."
            )
        return _take(top.taken(), name, top.prefix, cls_name)

    def join(self, prefix: str, name: str) -> str:
        if type(name) is _Forced:
            return str(name)
        return prefix + "/" + name if prefix else name

    def construction_prefix(self, path: str) -> str:
        return path + "/~"

    def method_scope(self, path: str, method: str) -> tuple[str, str]:
        if method == "__call__":
            return path, path
        return path, path + ("/~" if method == "__init__" else "/~" + method)

    def scope_name(self, top: Scope, name: str) -> str:
        if type(name) is not str:
            raise InvalidNameError(
                f"name_scope expects a string name, got {type(name).__name__} "
                f"{name!r:.40} (in {top.prefix or ROOT!r}). Pass e.g. 'block'."
            )
        if not name or name.startswith("/"):
            raise InvalidNameError(
                f"name_scope({name!r}): name scopes must not be empty or start with "
                f"'/' (in {top.prefix or ROOT!r}). Pass a relative name such as 'block'."
            )
        path = top.prefix
        for part in name.split("/"):
            part = self.module_name(top, "name_scope", part)
            path = self.join(path, part)
            top = Scope(path, None, None, path)
        return path

    def current_name(self, top: Scope) -> str:
        return top.path

    def params_out(self, flat: dict[str, Any]) -> Any:
        nested: dict[str, dict[str, Any]] = {}
        for path, value in flat.items():
            module, _, name = path.rpartition("/")
            inner = nested.get(module)
            if inner is None:
                inner = nested[module] = {}
            inner[name] = value
        return nested

    def params_in(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        flat: dict[str, Any] = {}
        for module, inner in params.items():
            if not isinstance(inner, Mapping):
                raise InvalidArgumentError(
                    f"params[{module!r}] is a {type(inner).__name__}: under the haiku "
                    "scheme params and state are nested {module_name: {name: array}} "
                    "mappings, as init returns them. Pass what init returned."
                )
            for name, value in inner.items():
                flat[f"{module}/{name}"] = value
        return flat


class _Forced(str):
    """A module name given with ``force_name``: the full name, not joined to the scope's."""

    __slots__ = ()


def _take(names: ScopeNames, name: str, prefix: str, cls_name: str) -> str:
    """dm-haiku's unique name: ``linear``, ``linear_1``...; ``name_N`` given keeps ``N``."""
    numbered = _NUMBERED.match(name)
    counts = names.counts
    if numbered is not None:
        base, n = numbered.group(1), int(numbered.group(2))
        counts[base] = max(counts.get(base, 0), n + 1)
        unique = f"{base}_{n}"
    else:
        n = counts.get(name, 0)
        counts[name] = n + 1
        unique = f"{name}_{n}" if n else name
    if unique in names.used:
        raise DuplicateNameError(
            f"module name {unique!r} is not unique in {prefix or ROOT!r} (constructing "
            f"{cls_name}). Give each module in one scope its own name, or call the "
            "existing instance again to share its parameters."
        )
    names.used.add(unique)
    return unique


#: dm-haiku's scheme, used by minihaiku.haiku.
HAIKU = HaikuScheme("haiku")

_BY_NAME = {"seed": SEED, "haiku": HAIKU}


def as_scheme(scheme: Any, where: str) -> Scheme:
    """``scheme`` as a :class:`Scheme`: a scheme, ``"seed"``, ``"haiku"`` or ``None`` (seed).

    Examples:
      >>> as_scheme("haiku", "transform") is HAIKU
      True
    """
    if scheme is None:
        return SEED
    if isinstance(scheme, Scheme):
        return scheme
    found = _BY_NAME.get(scheme) if type(scheme) is str else None
    if found is None:
        raise InvalidArgumentError(
            f"{where}: scheme must be 'seed', 'haiku' or a minihaiku.core.Scheme, got "
            f"{type(scheme).__name__} {scheme!r:.40}. Use scheme='haiku' for dm-haiku's "
            "names and keys, or leave it out for minihaiku's own."
        )
    return found
