"""The normalization layers keep float32 under mixed precision, by default.

Statistics (means, variances) in bfloat16 or float16 lose too much precision,
so BatchNorm, LayerNorm, GroupNorm and RMSNorm carry a library default
policy: params and compute float32, output in the dtype the input came in.
A policy the user sets on ``Module`` (a global policy) or on any other base
class does not reach them: their own class is nearer in the MRO. A user
policy on the class itself (or a subclass), on an instance or on a path
pattern replaces the default. Defaults only act while some user policy is
set, so without mixed precision nothing is cast.
"""

from __future__ import annotations

from minihaiku.core import Policy, set_policy
from minihaiku.layers._batch_norm import BatchNorm
from minihaiku.layers._norm import GroupNorm, LayerNorm, RMSNorm

__all__ = ["NORM_POLICY"]

#: float32 params and compute; outputs in the input's dtype.
NORM_POLICY = Policy("float32", "float32", None)

for _cls in (BatchNorm, GroupNorm, LayerNorm, RMSNorm):
    set_policy(_cls, NORM_POLICY, default=True)
