"""How a job row changes on each event. Pure: stores write back what these return, inside the
transaction in which they read the job."""

from __future__ import annotations

from dataclasses import replace

from qgjob.domain.attempts import Verdict
from qgjob.domain.models import Job
from qgjob.domain.states import JobState, can_transition


class TransitionRefused(Exception):
    """The event does not apply to the job in its current state."""


def start(job: Job, now: float) -> Job:
    """The agent starts the next attempt of an ASSIGNED job."""
    _check(job, JobState.RUNNING)
    return replace(
        job,
        state=JobState.RUNNING,
        attempts=job.attempts + 1,
        started_at=job.started_at if job.started_at is not None else now,
        updated_at=now,
    )


def apply_verdict(job: Job, verdict: Verdict, now: float) -> Job:
    """The job after an attempt ended or its device was lost."""
    _check(job, verdict.state)
    leaves_device = verdict.state in (JobState.QUEUED, JobState.RETRY_WAIT)
    return replace(
        job,
        state=verdict.state,
        infra_failures=job.infra_failures + int(verdict.infra_failure),
        preemptions=job.preemptions + int(verdict.preempted),
        preempt_requested=False,
        lease_id=None,
        agent_name=None if leaves_device else job.agent_name,
        device_id=None if leaves_device else job.device_id,
        last_device_id=job.device_id if job.state is JobState.RUNNING else job.last_device_id,
        flaky=verdict.flaky,
        error=None if verdict.state is JobState.COMPLETED else verdict.error or job.error,
        retry_at=verdict.retry_at,
        finished_at=now if verdict.state.is_final else None,
        updated_at=now,
    )


def cancel(job: Job, now: float) -> Job:
    """A user cancels the job: at once unless an attempt is running, in which case its agent
    is asked to stop it (on its next heartbeat) and reports it cancelled."""
    if job.state.is_final:
        raise TransitionRefused(f"job {job.job_id} is already {job.state.public}")
    if job.state is JobState.RUNNING:
        return replace(job, cancel_requested=True, updated_at=now)
    return replace(
        job,
        state=JobState.CANCELLED,
        cancel_requested=True,
        lease_id=None,
        retry_at=None,
        error="cancelled by user",
        finished_at=now,
        updated_at=now,
    )


def _check(job: Job, target: JobState) -> None:
    if not can_transition(job.state, target):
        raise TransitionRefused(
            f"job {job.job_id} cannot go from {job.state.value} to {target.value}"
        )
