"""Token-bucket rate limits per key (a token, or a client address). Pure: `now` is passed in,
so tests never sleep."""

from __future__ import annotations


class RateLimiter:
    """Each key may make `burst` requests at once, then `per_second` on average. A rate of 0
    turns the limit off."""

    def __init__(self, per_second: float, burst: float, max_keys: int = 100_000) -> None:
        self.per_second = per_second
        self.burst = max(burst, 1.0)
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def __len__(self) -> int:
        """How many keys it remembers."""
        return len(self._buckets)

    def take(self, key: str, now: float) -> float:
        """Spend one request of `key`'s budget. Returns 0 if allowed, else the seconds until
        the next request would be."""
        if self.per_second <= 0:
            return 0.0
        tokens, updated = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + max(now - updated, 0.0) * self.per_second)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.per_second
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > self.max_keys:
            self._forget_full(now)
        return 0.0

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled (they would start full anyway); if every key is
        still busy, start over rather than grow without bound."""
        refill = self.burst / self.per_second
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill}
        if len(self._buckets) > self.max_keys:
            self._buckets.clear()
