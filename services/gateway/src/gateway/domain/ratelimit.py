"""Token buckets: each API key gets a bucket per scope, refilled at the scope's rate.

A bucket holds at most `burst` tokens and gains `rate` tokens a second; a call takes one.
When none is left the call is refused with how long until one is back (`Retry-After`).
In memory, per gateway process: with N replicas a key gets up to N times the rate, the
usual trade for not adding a shared store on every call.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limit:
    rate: float  # tokens per second
    burst: int  # bucket size

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")


class RateLimiter:
    def __init__(self, default: Limit, per_scope: Mapping[str, Limit] | None = None) -> None:
        self._default = default
        self._per_scope = dict(per_scope or {})
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key -> (tokens, at)

    def limit(self, scope: str) -> Limit:
        return self._per_scope.get(scope, self._default)

    def take(self, key: Hashable, scope: str, now: float) -> float:
        """Take a token for `key` under `scope` at monotonic time `now`: 0 when granted,
        otherwise the seconds to wait before one is available."""
        limit = self.limit(scope)
        tokens, at = self._buckets.get((key, scope), (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - at) * limit.rate)
        if tokens >= 1:
            self._buckets[(key, scope)] = (tokens - 1, now)
            return 0.0
        self._buckets[(key, scope)] = (tokens, now)
        return (1 - tokens) / limit.rate


def retry_after(wait: float) -> str:
    """Whole seconds for the `Retry-After` header, at least 1."""
    return str(max(1, math.ceil(wait)))
