"""Why a job that has not started waits, for its page: its build's place in line on its
target and the reason (the queue explanation, qgjob/scheduler/explain.py), and its own place
within its build (claims take a build's queued jobs in claim order,
qgjob/domain/queue_order.py). Pure: time is a parameter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qgjob.domain.models import Job
from qgjob.domain.states import JobState
from qgjob.scheduler.explain import LaneStanding


@dataclass(frozen=True)
class QueuePlace:
    waiting: bool
    """False once the job started or ended: nothing below applies."""
    reason: str | None = None
    build_position: int | None = None
    """Its build's place among the waiting builds of its target (1 = next); None while
    devices work on the build, or when the job is not in line."""
    builds_waiting: int = 0
    """Builds of its target that wait for a device."""
    devices_working: int = 0
    """Devices on its build now."""
    ahead_in_build: int | None = None
    """Queued jobs of its build (from its org) that claims take before it."""
    build_queued: int | None = None
    estimated_start: float | None = None


def place_of(job: Job, standings: Sequence[LaneStanding], ahead_in_build: int | None,
             now: float) -> QueuePlace:
    """`standings`: the queue explanation of every target; `ahead_in_build`: the count of
    the job's lane that claims take first (for a queued job)."""
    if job.state is JobState.ASSIGNED:
        return QueuePlace(True, f"next in the batch of device {job.device_id}: it starts "
                                "when the jobs before it there are done")
    if job.state is JobState.RETRY_WAIT:
        back = max(0.0, (job.retry_at or now) - now)
        return QueuePlace(True, f"attempt {job.attempts} failed; it is back in line in "
                                f"~{back:.0f}s (retry backoff)", estimated_start=job.retry_at)
    if job.state is not JobState.QUEUED:
        return QueuePlace(False)
    target = [s for s in standings if s.lane.target == job.target]
    waiting = sum(s.position is not None for s in target)
    mine = next((s for s in target if s.lane.key == (job.group_key, job.org_id)), None)
    if mine is None:  # its build's counters moved on since the job was read
        return QueuePlace(True, "in line", builds_waiting=waiting,
                          ahead_in_build=ahead_in_build)
    return QueuePlace(True, mine.reason, mine.position, waiting, mine.devices_working,
                      ahead_in_build, mine.lane.queued, mine.estimated_start)
