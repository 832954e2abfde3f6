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

    def take(self, key: str, now: float, cost: float = 1.0) -> float:
        """Spend `cost` of `key`'s budget (a request costs 1; a batch of jobs, one per job).
        Returns 0 if allowed, else the seconds until it would be. A cost larger than the
        burst passes on a full bucket and leaves it in debt: it is paid for by waiting."""
        if self.per_second <= 0:
            return 0.0
        tokens, updated = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + max(now - updated, 0.0) * self.per_second)
        needed = min(cost, self.burst)
        if tokens < needed:
            self._buckets[key] = (tokens, now)
            return (needed - tokens) / self.per_second
        self._buckets[key] = (tokens - cost, now)
        if len(self._buckets) > self.max_keys:
            self._forget_full(now)
        return 0.0

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled (they would start full anyway); if every key is
        still busy, start over rather than grow without bound."""
        self._buckets = {k: (tokens, updated) for k, (tokens, updated) in self._buckets.items()
                         if now - updated < (self.burst - tokens) / self.per_second}
        if len(self._buckets) > self.max_keys:
            self._buckets.clear()
