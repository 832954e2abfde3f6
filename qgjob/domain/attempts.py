"""What happens to a job after an attempt ends or its device is lost. Pure: `now` and the
jitter draw are parameters, so tests and the simulator get the same answer every time."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from qgjob.domain.models import Job
from qgjob.domain.repeats import FailureEvidence, RepeatRule, repeated_failure
from qgjob.domain.states import JobState


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    """The test failed; retried while attempts remain."""
    ERROR = "error"
    """The test could not run in a way a retry will not fix (bad test path, broken config)."""
    CANCELLED = "cancelled"
    """The agent stopped the attempt because a user cancelled the job."""
    INTERRUPTED = "interrupted"
    """The agent handed the attempt back (it is shutting down); not the test's fault."""
    PREEMPTED = "preempted"
    """The agent stopped the attempt to make room for urgent work; requeued, not charged."""


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 0.0
    """Backoff before the first retry of a failed test, doubling for each later one; 0 (the
    default) retries at once: a backoff on a build's last test delays its verdict and idles
    the device beside it, and a flaky test is as likely to pass now as in two seconds."""
    max_seconds: float = 300.0
    jitter: float = 0.25
    """Fraction of the delay drawn at random, so retries of one broken build do not align."""
    max_infra_failures: int = 5
    """How often a job may lose its device (agent crash, hand-back) before it is failed."""
    repeat_rule: RepeatRule = RepeatRule.ANY_DEVICE
    """When a failure that repeats on the same build stops the retries."""

    def delay(self, charged_attempts: int, draw: float) -> float:
        """Backoff after the `charged_attempts`-th failure; `draw` is uniform in [0, 1)."""
        exponent = max(charged_attempts - 1, 0)
        base = min(self.base_seconds * 2.0**exponent, self.max_seconds)
        return base * (1 - self.jitter + self.jitter * draw)


@dataclass(frozen=True)
class Verdict:
    """The job's next state and what to record with it."""

    state: JobState
    error: str | None = None
    retry_at: float | None = None
    flaky: bool = False
    infra_failure: bool = False
    preempted: bool = False
    note: str | None = None
    """Why the attempt led where it did, when that is not plain (kept with the attempt)."""


def after_attempt(
    job: Job, outcome: Outcome, error: str | None, now: float, policy: RetryPolicy, draw: float,
    evidence: FailureEvidence | None = None,
) -> Verdict:
    """Decide the next state of a RUNNING job whose agent reported `outcome`. With
    `evidence` (the test's earlier failures on this build), a failure that repeats is not
    retried."""
    if outcome is Outcome.PASSED:
        return Verdict(JobState.COMPLETED, flaky=job.charged_attempts > 1)
    if outcome is Outcome.CANCELLED or job.cancel_requested:
        return Verdict(JobState.CANCELLED, error="cancelled by user")
    if outcome is Outcome.PREEMPTED:
        return Verdict(JobState.QUEUED, error="stopped to make room for more urgent work",
                       preempted=True)
    if outcome is Outcome.INTERRUPTED:
        return after_lost_device(job, "the agent handed the job back while shutting down", policy)
    if outcome is Outcome.ERROR:
        return Verdict(JobState.FAILED, error=error or "the test could not run")
    if job.charged_attempts < job.max_attempts:
        repeat = None if evidence is None else repeated_failure(
            evidence, job.device_id, error, policy.repeat_rule)
        if repeat is not None:
            return Verdict(JobState.FAILED, error=error or "failed", note=repeat)
        delay = policy.delay(job.charged_attempts, draw)
        if delay <= 0:
            return Verdict(JobState.QUEUED, error=error)  # retried at once
        return Verdict(JobState.RETRY_WAIT, error=error, retry_at=now + delay)
    return Verdict(JobState.FAILED, error=error or f"failed after {job.attempts} attempts")


def after_lost_device(job: Job, reason: str, policy: RetryPolicy) -> Verdict:
    """Decide the next state of a job whose device went away (lease expired, hand-back).

    Losing a device is an infrastructure failure: it does not spend the test's retry budget,
    but a job that keeps losing devices is failed rather than requeued for ever.
    """
    if job.cancel_requested:
        return Verdict(JobState.CANCELLED, error="cancelled by user")
    if job.state is JobState.ASSIGNED:
        return Verdict(JobState.QUEUED)
    if job.infra_failures + 1 > policy.max_infra_failures:
        return Verdict(
            JobState.FAILED,
            error=f"{reason}; lost its device {job.infra_failures + 1} times",
            infra_failure=True,
        )
    return Verdict(JobState.QUEUED, error=reason, infra_failure=True)
