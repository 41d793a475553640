"""``Policy``: the dtypes a module's parameters, computation and outputs use."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

from minihaiku.core._errors import InvalidArgumentError, InvalidArgumentTypeError

__all__ = ["Policy", "cast_floating", "first_floating_dtype"]

T = TypeVar("T")

#: Short and long names a policy string may use for each dtype.
_NAMES: dict[str, Any] = {
    "float32": jnp.float32,
    "f32": jnp.float32,
    "full": jnp.float32,
    "bfloat16": jnp.bfloat16,
    "bf16": jnp.bfloat16,
    "float16": jnp.float16,
    "f16": jnp.float16,
    "half": jnp.float16,
    "float64": jnp.float64,
    "f64": jnp.float64,
}
_KEYS = {"p": "params", "params": "params", "c": "compute", "compute": "compute"}
_KEYS.update({"o": "output", "output": "output"})
_SPEC_HELP = (
    'Write it as "params=float32,compute=bfloat16,output=float32" (keys params/p, '
    "compute/c, output/o; output=input keeps the input's dtype), or one dtype name "
    'such as "bfloat16" for all three.'
)


def _is_array(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray))


def cast_floating(tree: T, dtype: Any) -> T:
    """Casts the floating-point arrays of ``tree`` to ``dtype``; other leaves unchanged."""

    def cast(x: Any) -> Any:
        if _is_array(x) and jnp.issubdtype(x.dtype, jnp.floating) and x.dtype != dtype:
            return jax.lax.convert_element_type(x, dtype)
        return x

    out: T = jax.tree_util.tree_map(cast, tree)
    return out


def first_floating_dtype(tree: Any) -> np.dtype[Any] | None:
    """The dtype of the first floating-point array in ``tree`` (``None`` if it has none)."""
    for x in jax.tree_util.tree_leaves(tree):
        if _is_array(x) and jnp.issubdtype(x.dtype, jnp.floating):
            dtype: np.dtype[Any] = np.dtype(x.dtype)
            return dtype
    return None


def _dtype(value: Any, field: str) -> np.dtype[Any]:
    if isinstance(value, str):
        if value not in _NAMES:
            raise InvalidArgumentError(
                f"Policy {field}={value!r} is not a floating-point dtype name. Use one "
                f"of {', '.join(sorted(_NAMES))}."
            )
        value = _NAMES[value]
    try:
        dtype: np.dtype[Any] = np.dtype(value)
    except TypeError:
        raise InvalidArgumentTypeError(
            f"Policy {field} must be a floating-point dtype such as jnp.bfloat16 or "
            f"'bfloat16', got {type(value).__name__} {value!r:.60}."
        ) from None
    if not jnp.issubdtype(dtype, jnp.floating):
        raise InvalidArgumentError(
            f"Policy {field} must be a floating-point dtype, got {dtype.name}: "
            "policies only cast floating-point arrays. Use float32, bfloat16 or float16."
        )
    return dtype


@dataclasses.dataclass(frozen=True, init=False)
class Policy:
    """A mixed-precision policy: the dtypes of a module's params, compute and outputs.

    For a module call under the policy, floating-point inputs are cast to
    ``compute_dtype``; floating-point parameters are created (and stored) in
    ``param_dtype`` and cast to ``compute_dtype`` when the code reads them;
    floating-point outputs are cast to ``output_dtype``, or back to the
    input's dtype when ``output_dtype`` is ``None``. Non-float arrays are
    never cast. Attach a policy with :func:`set_policy`.

    Args:
      param_dtype: the dtype parameters are stored in.
      compute_dtype: the dtype inputs and parameters are cast to.
      output_dtype: the dtype outputs are cast to; ``None``: the dtype of the
        call's first floating-point input (as it came in).

    Examples:
      >>> from minihaiku.core import Policy
      >>> p = Policy.parse("params=float32,compute=bfloat16,output=float32")
      >>> p == Policy(jnp.float32, jnp.bfloat16, jnp.float32)
      True
      >>> print(p)
      params=float32,compute=bfloat16,output=float32
      >>> p.cast_to_compute({"x": jnp.ones(2), "n": jnp.arange(2)})["x"].dtype
      dtype(bfloat16)
      >>> print(Policy.parse("bf16"))
      params=bfloat16,compute=bfloat16,output=bfloat16
    """

    param_dtype: np.dtype[Any]
    compute_dtype: np.dtype[Any]
    output_dtype: np.dtype[Any] | None

    def __init__(self, param_dtype: Any, compute_dtype: Any, output_dtype: Any = None) -> None:
        out = None if output_dtype is None else _dtype(output_dtype, "output_dtype")
        object.__setattr__(self, "param_dtype", _dtype(param_dtype, "param_dtype"))
        object.__setattr__(self, "compute_dtype", _dtype(compute_dtype, "compute_dtype"))
        object.__setattr__(self, "output_dtype", out)

    @classmethod
    def parse(cls, spec: str) -> Policy:
        """Parses ``"params=float32,compute=bfloat16,output=float32"`` (as ``jmp``).

        Keys: ``params``/``p``, ``compute``/``c``, ``output``/``o``; dtypes:
        ``float32``/``f32``/``full``, ``bfloat16``/``bf16``,
        ``float16``/``f16``/``half``, ``float64``/``f64``; ``output=input``
        keeps the input's dtype. Unset keys default as in ``jmp``: params
        float32, compute follows params, output follows compute. One dtype
        name alone sets all three.

        Raises:
          InvalidArgumentError: an unknown key or dtype name, a part without
            ``=``, a key given twice, or an empty string.

        Examples:
          >>> from minihaiku.core import Policy
          >>> print(Policy.parse("c=bf16"))
          params=float32,compute=bfloat16,output=bfloat16
          >>> print(Policy.parse("p=f32,c=f32,o=input"))
          params=float32,compute=float32,output=input
        """
        if not isinstance(spec, str):
            raise InvalidArgumentTypeError(
                f"Policy.parse takes a string, got {type(spec).__name__}. {_SPEC_HELP}"
            )
        text = spec.replace(" ", "")
        if not text:
            raise InvalidArgumentError(f"the policy string is empty. {_SPEC_HELP}")
        if "=" not in text:
            dtype = _parse_dtype(text, spec)
            return cls(dtype, dtype, dtype)
        got: dict[str, Any] = {}
        for part in text.split(","):
            key, eq, value = part.partition("=")
            if not eq:
                raise InvalidArgumentError(
                    f"policy {spec!r}: the part {part!r} has no '='. {_SPEC_HELP}"
                )
            if key not in _KEYS:
                raise InvalidArgumentError(
                    f"policy {spec!r}: unknown key {key!r}; the keys are params (p), "
                    "compute (c) and output (o)."
                )
            field = _KEYS[key]
            if field in got:
                raise InvalidArgumentError(f"policy {spec!r} sets {field} twice; set it once.")
            got[field] = None if field == "output" and value == "input" else value
            if got[field] is not None:
                got[field] = _parse_dtype(value, spec)
        params = got.get("params", np.dtype(jnp.float32))
        compute = got.get("compute", params)
        output = got.get("output", compute)
        return cls(params, compute, output)

    def cast_to_compute(self, tree: T) -> T:
        """Casts the floating-point arrays of ``tree`` to the compute dtype.

        Examples:
          >>> from minihaiku.core import Policy
          >>> Policy.parse("c=bf16").cast_to_compute(jnp.ones(2)).dtype
          dtype(bfloat16)
        """
        return cast_floating(tree, self.compute_dtype)

    def cast_to_output(self, tree: T, input_dtype: Any = None) -> T:
        """Casts the floating-point arrays of ``tree`` to the output dtype.

        With ``output_dtype=None`` they are cast to ``input_dtype`` (left alone
        when that is ``None`` too).

        Examples:
          >>> from minihaiku.core import Policy
          >>> p = Policy("float32", "float32", None)
          >>> p.cast_to_output(jnp.ones(2), jnp.bfloat16).dtype
          dtype(bfloat16)
        """
        dtype = self.output_dtype if self.output_dtype is not None else input_dtype
        return tree if dtype is None else cast_floating(tree, dtype)

    def __str__(self) -> str:
        out = "input" if self.output_dtype is None else self.output_dtype.name
        return f"params={self.param_dtype.name},compute={self.compute_dtype.name},output={out}"


def _parse_dtype(value: str, spec: str) -> np.dtype[Any]:
    if value not in _NAMES:
        raise InvalidArgumentError(
            f"policy {spec!r}: unknown dtype {value!r}. Use one of {', '.join(sorted(_NAMES))}."
        )
    dtype: np.dtype[Any] = np.dtype(_NAMES[value])
    return dtype
