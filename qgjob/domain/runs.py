"""Runs: the jobs one `qgjob run` (or one batch of submits) queued, seen as one thing. A run
stores only what it was given (name, org, build, where it came from, which run it re-runs)
and when it was cancelled; its status, counts, targets and duration are derived from its
jobs each time they are read, here, by pure functions (time is a parameter)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from qgjob.domain.models import CaseResult, Job
from qgjob.domain.states import JobState

RunStatus = Literal["queued", "running", "passed", "failed", "cancelled"]
RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)
"""`queued`: no job started yet; `running`: some job is queued or running and some started or
finished; then, once every job finished: `failed` if any failed, else `cancelled` if any
was cancelled, else `passed` (flaky jobs passed)."""

Position = tuple[float, str]
"""Where a page of runs ends: its last run's (created_at, id); the next page starts after."""


@dataclass(frozen=True)
class RunSource:
    """Where a run came from, when known (GitHub Actions' variables, or what a user said)."""

    repository: str | None = None
    workflow: str | None = None
    ci_run_id: str | None = None
    ci_run_attempt: int | None = None
    commit_sha: str | None = None
    branch: str | None = None
    pull_request: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class NewRun:
    run_id: str
    org_id: str
    app_version_id: str
    name: str
    created_at: float
    source: RunSource = field(default_factory=RunSource)
    rerun_of: str | None = None
    attempt: int = 1
    """1 for a first run; a re-run of failed tests is its source's attempt + 1."""
    idempotency_key: str | None = None


@dataclass(frozen=True)
class RunCounts:
    """A run's jobs by outcome; `passed` excludes the flaky ones (passed on a retry)."""

    queued: int = 0
    running: int = 0
    passed: int = 0
    flaky: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return (self.queued + self.running + self.passed + self.flaky + self.failed
                + self.cancelled)

    @property
    def unfinished(self) -> int:
        return self.queued + self.running

    def __add__(self, other: RunCounts) -> RunCounts:
        return RunCounts(self.queued + other.queued, self.running + other.running,
                         self.passed + other.passed, self.flaky + other.flaky,
                         self.failed + other.failed, self.cancelled + other.cancelled)


def counts_of(state: JobState, flaky: bool, jobs: int = 1) -> RunCounts:
    """`jobs` jobs in `state` as run counts."""
    if state is JobState.COMPLETED:
        return RunCounts(flaky=jobs) if flaky else RunCounts(passed=jobs)
    if state is JobState.RUNNING:
        return RunCounts(running=jobs)
    if state is JobState.FAILED:
        return RunCounts(failed=jobs)
    if state is JobState.CANCELLED:
        return RunCounts(cancelled=jobs)
    return RunCounts(queued=jobs)


@dataclass(frozen=True)
class Run:
    run_id: str
    org_id: str
    app_version_id: str
    name: str
    created_at: float
    source: RunSource
    rerun_of: str | None
    attempt: int
    counts: RunCounts
    targets: tuple[str, ...]
    last_finished_at: float | None
    """When its last finished job finished (its end, once none is unfinished)."""
    cancelled_at: float | None = None
    """When it was cancelled (its first cancel), else None. Stored on the run: its jobs
    cannot tell, as a running job stops only at its agent's next report, and a job can be
    cancelled on its own."""

    @property
    def status(self) -> RunStatus:
        return run_status(self.counts)

    @property
    def was_cancelled(self) -> bool:
        """It was cancelled (`cancelled_at`): it takes no new jobs, which would run anyway
        and turn it back to `running`. From the cancel on, even while a job whose cancel was
        requested still runs (its status reads `running` until that job's agent reports, then
        `cancelled`, or `failed` if a job failed). A job cancelled on its own does not cancel
        its run."""
        return self.cancelled_at is not None

    @property
    def finished_at(self) -> float | None:
        return self.last_finished_at if self.status not in ("queued", "running") else None

    def duration(self, now: float) -> float:
        """From its creation to its end, or to `now` while it runs."""
        end = self.finished_at if self.finished_at is not None else now
        return max(0.0, end - self.created_at)


def run_status(counts: RunCounts) -> RunStatus:
    if counts.unfinished:
        started = counts.running or counts.total > counts.unfinished
        return "running" if started else "queued"
    if counts.failed:
        return "failed"
    if counts.cancelled:
        return "cancelled"
    return "passed" if counts.total else "queued"


@dataclass(frozen=True)
class RunRow:
    """One row of a run's page: a test case the report named, or a whole job (spec file)
    when it has no per-test results (yet)."""

    job: Job
    case: CaseResult | None

    @property
    def result(self) -> str:
        """passed, failed, flaky, cancelled, queued, running, skipped or timed-out."""
        if self.case is None or not self.job.state.is_final:
            return job_result(self.job)
        return self.case.status


def job_result(job: Job) -> str:
    if job.state is JobState.COMPLETED:
        return "flaky" if job.flaky else "passed"
    return job.state.public


_PROBLEMS_FIRST = {"failed": 0, "timed-out": 0, "flaky": 1, "cancelled": 2, "running": 3,
                   "queued": 4, "passed": 5, "skipped": 6}


def rows_of_run(jobs: Iterable[Job], cases: dict[str, Sequence[CaseResult]]) -> list[RunRow]:
    """Every test of the run, failures first: the rows of a failed job before those of a
    passed one, and within a job its failed tests first; then by file and title."""
    rows = [RunRow(job, case) for job in jobs for case in _cases_shown(job, cases)]

    def order(row: RunRow) -> tuple[int, int, str, str]:
        return (_PROBLEMS_FIRST.get(job_result(row.job), 9),
                _PROBLEMS_FIRST.get(row.result, 9), row.job.test_path,
                row.case.title if row.case else "")

    return sorted(rows, key=order)


def _cases_shown(job: Job, cases: dict[str, Sequence[CaseResult]]
                 ) -> Sequence[CaseResult | None]:
    """A finished job's per-test results, else the job alone (a retry may be under way)."""
    return (cases.get(job.job_id) if job.state.is_final else None) or [None]


def failed_jobs(jobs: Sequence[Job]) -> list[Job]:
    """What a re-run of failed tests runs again: the jobs that failed (one per spec file)."""
    return [job for job in jobs if job.state is JobState.FAILED]
