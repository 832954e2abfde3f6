"""The order a lane's queued jobs are claimed in, and how a lane counts them: declared here
once. Higher priority first, then the older job, then the lower id (a tie-break, so every
store and the simulator take the same job).

Python sorts with `claim_key` (the in-memory claim driver, submits); SQL orders by
`CLAIM_ORDER_SQL`, which the query loader puts where a query says `{claim_order}`
(qgjob/store/sqlfiles.py). Migrations are frozen history, so their triggers spell the order
out; tests/store/test_claim_order.py checks the live ones against this declaration.
"""

from __future__ import annotations

from qgjob.domain.values import MAX_PRIORITY, MIN_PRIORITY, PRIORITIES

__all__ = ["CLAIMED_AFTER_SQL", "CLAIM_ORDER_SQL", "MAX_PRIORITY", "MIN_PRIORITY", "PRIORITIES",
           "ClaimKey", "claim_key", "counts_by_priority"]

CLAIM_ORDER_SQL = "priority DESC, created_at, id"
"""The claim order over a `jobs` row (columns `priority`, `created_at`, `id`)."""
CLAIMED_AFTER_SQL = ("(priority < {priority} OR (priority = {priority} AND (created_at > {at} "
                     "OR (created_at = {at} AND id > {id}))))")
"""A `jobs` row that comes after a job in the claim order, the job's columns in the
placeholders (`str.format` them with the query's parameters): where a page in claim order
continues."""

ClaimKey = tuple[int, float, str]


def claim_key(priority: int, created_at: float, job_id: str) -> ClaimKey:
    """Sorts like `CLAIM_ORDER_SQL`: the job a claim takes next sorts first."""
    return (-priority, created_at, job_id)


def counts_by_priority(counts: dict[int, int]) -> tuple[int, ...]:
    """A lane's queued jobs per priority as the policy reads them (index 0 is the lowest
    priority), from counts kept per priority (absent: none)."""
    return tuple(counts.get(priority, 0) for priority in PRIORITIES)
