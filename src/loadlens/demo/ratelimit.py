"""Per-client rate limiting with one token bucket per client key.

A bucket holds up to one second's worth of tokens (at least one), refills continuously at the
configured rate, and each request takes one token. A request that finds less than one token is
refused with how long until one will be there, which becomes the 429's Retry-After.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

# Above what one demo process can serve (about 13,000 cached reads/s on 2 cores), so a load test
# from one address never meets the limit unless it asks for one with a lower rate.
DEFAULT_RATE_PER_S = 100_000.0


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request may go on, the whole tokens left, and seconds until the next one."""

    allowed: bool
    remaining: int
    retry_after_s: int


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets by client key, refilled at `rate_per_s`."""

    def __init__(self, rate_per_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not rate_per_s > 0:
            raise ValueError(f"rate limit must be positive, got {rate_per_s}")
        self._rate = rate_per_s
        self._capacity = max(1.0, rate_per_s)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> Decision:
        """Take one token from `key`'s bucket if there is one."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._capacity, now)
        else:
            bucket.tokens = min(self._capacity, bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return Decision(True, int(bucket.tokens), 0)
        wait_s = (1.0 - bucket.tokens) / self._rate
        return Decision(False, 0, max(1, math.ceil(wait_s)))
