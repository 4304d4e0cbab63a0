"""Token buckets: how many requests a client (or everyone together) may make, and how long to wait when over."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``rate`` requests a second per key, with bursts of up to ``burst``; idle keys are forgotten."""

    def __init__(self, rate: float, burst: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        """A limiter allowing ``rate`` per second and ``burst`` at once for each key."""
        self._rate = rate
        self._burst = max(1.0, burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._last_sweep = clock()

    def take(self, key: str = "") -> float:
        """Spend one request of ``key``: 0.0 when allowed, else the seconds until one is allowed again."""
        now = self._clock()
        self._sweep(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self._rate if self._rate > 0 else 60.0

    def _sweep(self, now: float) -> None:
        """Forget keys whose bucket has been full for a while (a client that went away)."""
        if now - self._last_sweep < 60:
            return
        self._last_sweep = now
        full_after = self._burst / self._rate if self._rate > 0 else 0.0
        for key in [k for k, b in self._buckets.items() if now - b.updated > full_after + 60]:
            del self._buckets[key]


def client_key(headers: Mapping[str, str], remote: str | None, *, trust_forwarded_for: bool) -> str:
    """Who is asking: the peer address, or the first ``X-Forwarded-For`` hop behind a trusted balancer."""
    if trust_forwarded_for:
        forwarded = headers.get("X-Forwarded-For", "").split(",")[0].strip()
        if forwarded:
            return forwarded
    return remote or "unknown"
