"""The per-org cap on queued jobs: one org's token cannot fill the database (a batch is 1,000
jobs, and rate limits alone would let an org queue millions over a day).

Each org's count is read from the store (its lanes' counters, cheap) at most once per
`fresh_seconds`; between reads this process adds what it admitted. So the cap holds to
within what other replicas admitted in that time, and a refused submission stores nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping


class QueueFull(Exception):
    """A submission would pass its org's cap on queued jobs (409 `queue_full`)."""


class QueueCap:
    def __init__(self, cap: int, count: Callable[[str], Awaitable[int]],
                 fresh_seconds: float = 1.0) -> None:
        self.cap = cap
        """0: no cap."""
        self.fresh_seconds = fresh_seconds
        self._count = count
        self._known: dict[str, tuple[float, int]] = {}

    async def admit(self, wanted: Mapping[str, int], now: float) -> None:
        """Room for `wanted` (org -> jobs), or QueueFull naming the first org without it."""
        if self.cap <= 0:
            return
        if len(self._known) > 10_000:  # forget orgs seen once rather than grow
            self._known.clear()
        for org in wanted:
            await self._refresh(org, now)
        # No await from here on: concurrent submissions each see the others' jobs.
        queued = {org: self._known[org][1] for org in wanted}
        for org, count in wanted.items():
            if queued[org] + count > self.cap:
                raise QueueFull(
                    f"org {org!r} has {queued[org]} jobs queued; these {count} would pass its "
                    f"cap of {self.cap} (QGJOB_MAX_QUEUED_JOBS_PER_ORG): submit them once "
                    "some have run")
        for org, count in wanted.items():
            self._known[org] = (self._known[org][0], queued[org] + count)

    async def _refresh(self, org: str, now: float) -> None:
        known = self._known.get(org)
        if known is None or now - known[0] >= self.fresh_seconds:
            self._known[org] = (now, await self._count(org))
