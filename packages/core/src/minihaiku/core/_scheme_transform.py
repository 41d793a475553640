"""``transform`` and ``transform_with_state`` under a scheme other than the seed's.

The seed's pair (``_transform.py``) reads and returns flat mappings as they
are; these convert the scheme's layout (dm-haiku's nested
``{module: {name: array}}``) once per call, and let ``init`` take no key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from minihaiku.core._abstract_init import run_init
from minihaiku.core._calls import check_mapping, split_rng
from minihaiku.core._frame import ApplyFrame, running
from minihaiku.core._keys import as_key
from minihaiku.core._schemes import SEED, Scheme

__all__ = ["init_key", "scheme_pair", "scheme_pair_with_state"]


def init_key(rng: Any, scheme: Scheme) -> Any:
    """``init``'s key; the haiku scheme, as dm-haiku, takes ``None`` (no random initializer)."""
    if rng is None and scheme is not SEED:
        return None
    return as_key(rng, "init")


def scheme_pair(
    f: Callable[..., Any], apply_rng: bool, scheme: Scheme
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``transform`` under a scheme other than the seed's (its layout and keys)."""

    def init(rng: Any, *args: Any, **kwargs: Any) -> Any:
        params, _ = run_init(f, init_key(rng, scheme), args, kwargs, False, scheme)
        return scheme.params_out(params)

    def apply(params: Any, *args: Any, **kwargs: Any) -> Any:
        rng, args = split_rng(apply_rng, args)
        flat = scheme.params_in(check_mapping({} if params is None else params, "params"))
        frame = ApplyFrame(flat, {}, allow_state=False, rng=rng, scheme=scheme)
        with running(frame):
            return f(*args, **kwargs)

    return init, apply


def scheme_pair_with_state(
    f: Callable[..., Any], apply_rng: bool, scheme: Scheme
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``transform_with_state`` under a scheme other than the seed's."""

    def init(rng: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        params, state = run_init(f, init_key(rng, scheme), args, kwargs, True, scheme)
        return scheme.params_out(params), scheme.params_out(state)

    def apply(params: Any, state: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        rng, args = split_rng(apply_rng, args)
        flat = scheme.params_in(check_mapping({} if params is None else params, "params"))
        given = scheme.params_in(check_mapping({} if state is None else state, "state"))
        new_state = dict(given)
        frame = ApplyFrame(flat, new_state, allow_state=True, rng=rng, scheme=scheme)
        frame.given_state = given  # get_initial_state (flat, as under the seed's scheme)
        with running(frame):
            out = f(*args, **kwargs)
        return out, scheme.params_out(new_state)

    return init, apply
