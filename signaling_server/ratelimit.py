"""Token buckets with an injected clock, for message and connection rates."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["KeyedRateLimiter", "TokenBucket"]


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``; starts full."""

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last = now

    def _refill(self, now: float) -> None:
        if now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now

    def try_take(self, now: float, n: float = 1.0) -> bool:
        """Take ``n`` tokens if available; never blocks."""
        self._refill(now)
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False

    def refund(self, n: float = 1.0) -> None:
        """Give back tokens taken for a message another bucket accounts for."""
        self._tokens = min(self.burst, self._tokens + n)

    def is_full(self, now: float) -> bool:
        self._refill(now)
        return self._tokens >= self.burst


class KeyedRateLimiter:
    """One bucket per key (an IP address), bounded in memory.

    When ``max_keys`` is reached, the least recently used keys whose buckets
    have refilled are forgotten first; they would be indistinguishable from a
    fresh bucket anyway. If every bucket is still draining, the oldest goes.
    """

    def __init__(self, rate: float, burst: float, max_keys: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[Hashable, TokenBucket] = OrderedDict()

    def allow(self, key: Hashable, now: float) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._evict(now)
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, now)
        else:
            self._buckets.move_to_end(key)
        return bucket.try_take(now)

    def _evict(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if b.is_full(now)]:
            del self._buckets[key]
        while len(self._buckets) >= self.max_keys:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)
