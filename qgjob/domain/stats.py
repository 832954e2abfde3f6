"""Per-org statistics: how many jobs passed, failed and were flaky, the device time they
used and how long they waited in the queue. Counted per hour as jobs finish, so a window of
any length is a sum over at most its hours. Pure."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass

WAIT_EDGES = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800,
              86400)
"""Upper edges (seconds) of the queue-wait buckets; the last bucket has no upper edge."""


def epoch_hour(ts: float) -> int:
    return int(ts // 3600)


def wait_bucket(seconds: float) -> int:
    return bisect.bisect_left(WAIT_EDGES, max(seconds, 0.0))


def bucket_percentile(buckets: Mapping[int, int], q: float) -> float | None:
    """The upper edge of the bucket holding the q-th wait (an upper bound within the
    buckets' resolution); None without waits."""
    total = sum(buckets.values())
    if total == 0:
        return None
    rank, seen = q * total, 0
    for bucket in sorted(buckets):
        seen += buckets[bucket]
        if seen >= rank:
            return float(WAIT_EDGES[min(bucket, len(WAIT_EDGES) - 1)])
    return float(WAIT_EDGES[-1])


@dataclass(frozen=True)
class OrgStats:
    org_id: str
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    flaky: int = 0
    """Completed jobs that passed only on a retry."""
    attempts: int = 0
    device_seconds: float = 0.0
    wait_p50_seconds: float | None = None
    wait_p95_seconds: float | None = None

    @property
    def finished(self) -> int:
        return self.completed + self.failed + self.cancelled

    @property
    def success_rate(self) -> float | None:
        """Completed among completed and failed (a cancelled job says nothing of the test)."""
        judged = self.completed + self.failed
        return self.completed / judged if judged else None

    @property
    def flaky_rate(self) -> float | None:
        return self.flaky / self.completed if self.completed else None
