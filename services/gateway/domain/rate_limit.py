"""Token buckets: a sustained rate with a burst allowance, per key (tenant or endpoint).

Pure: the caller passes the clock, so the arithmetic is testable without sleeping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate_per_second: float
    burst: int
    tokens: float = field(default=-1.0)
    updated_at: float | None = None

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = float(self.burst)

    def take(self, now: float) -> float:
        """0 when a request may proceed (a token is spent); else seconds until one is available."""
        elapsed = max(0.0, now - self.updated_at) if self.updated_at is not None else 0.0
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate_per_second)
        self.updated_at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate_per_second


class RateLimiter:
    """One bucket per key; a key's bucket is rebuilt when its configured limit changes."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._max_keys = max_keys

    def retry_after(self, key: str, rate_per_second: float, burst: int, now: float) -> int:
        """0 when allowed; else whole seconds to wait (at least 1), for the Retry-After header."""
        bucket = self._buckets.get(key)
        if bucket is None or (bucket.rate_per_second, bucket.burst) != (rate_per_second, burst):
            if len(self._buckets) >= self._max_keys:
                self._forget_refilled(now)
            bucket = self._buckets[key] = TokenBucket(rate_per_second, burst)
        wait = bucket.take(now)
        return 0 if wait == 0 else max(1, math.ceil(wait))

    def _forget_refilled(self, now: float) -> None:
        """Makes room: a bucket refilled to its burst is the same as none. When most are still
        draining (new keys flooding in), all are forgotten rather than scanned on every insert."""
        for key, bucket in list(self._buckets.items()):
            idle = now - bucket.updated_at if bucket.updated_at is not None else math.inf
            if bucket.tokens + idle * bucket.rate_per_second >= bucket.burst:
                del self._buckets[key]
        if len(self._buckets) >= self._max_keys * 9 // 10:
            self._buckets.clear()
