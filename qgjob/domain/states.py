"""Job states, the transitions between them, and how they read in the public API.

The store keeps a few more states than users see: a job that sits in a device's batch
(`ASSIGNED`) or waits out a retry backoff (`RETRY_WAIT`) is still "queued" to a user,
and the contract promises exactly five public statuses.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args


class JobState(StrEnum):
    QUEUED = "queued"
    """Waiting for a device. Leaves when a device claims it in a batch (ASSIGNED) or on cancel."""

    ASSIGNED = "assigned"
    """In a device's leased batch, not started yet. Leaves when the agent starts it (RUNNING),
    when the lease expires or is handed back (QUEUED), or on cancel (CANCELLED)."""

    RUNNING = "running"
    """An attempt is running on a device. Leaves on the agent's report (COMPLETED, FAILED,
    QUEUED for a retry at once, RETRY_WAIT for one after a configured backoff, CANCELLED), or
    when the lease expires (QUEUED, or FAILED past the cap on lost devices; CANCELLED if a
    cancel was requested)."""

    RETRY_WAIT = "retry_wait"
    """A failed attempt will be retried; waits out its backoff (only with one configured).
    Maintenance moves it to QUEUED when the backoff is over; a cancel moves it to
    CANCELLED."""

    COMPLETED = "completed"
    """Final: the test passed."""

    FAILED = "failed"
    """Final: the test failed on its last allowed attempt, or could not run."""

    CANCELLED = "cancelled"
    """Final: cancelled by a user."""

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES

    @property
    def public(self) -> PublicStatus:
        """The status users see: one of queued, running, completed, failed, cancelled."""
        return _PUBLIC[self]


FINAL_STATES = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED})
ACTIVE_STATES = frozenset(
    {JobState.QUEUED, JobState.ASSIGNED, JobState.RUNNING, JobState.RETRY_WAIT}
)
PublicStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
"""A job's state as users see it (see `JobState.public`)."""
PUBLIC_STATUSES: tuple[PublicStatus, ...] = get_args(PublicStatus)

_PUBLIC: dict[JobState, PublicStatus] = {
    JobState.QUEUED: "queued", JobState.ASSIGNED: "queued", JobState.RETRY_WAIT: "queued",
    JobState.RUNNING: "running", JobState.COMPLETED: "completed", JobState.FAILED: "failed",
    JobState.CANCELLED: "cancelled"}

TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.ASSIGNED, JobState.CANCELLED}),
    JobState.ASSIGNED: frozenset({JobState.RUNNING, JobState.QUEUED, JobState.CANCELLED}),
    JobState.RUNNING: frozenset(
        {
            JobState.COMPLETED,
            JobState.FAILED,
            JobState.RETRY_WAIT,
            JobState.QUEUED,
            JobState.CANCELLED,
        }
    ),
    JobState.RETRY_WAIT: frozenset({JobState.QUEUED, JobState.CANCELLED}),
    JobState.COMPLETED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
}


def can_transition(source: JobState, target: JobState) -> bool:
    return target in TRANSITIONS[source]


def states_for_public(status: str) -> frozenset[JobState]:
    """The internal states a public status filter covers (`queued` covers three)."""
    return frozenset(state for state in JobState if state.public == status)
