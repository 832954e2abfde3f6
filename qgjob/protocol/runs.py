"""What the runs endpoints accept and return (qgjob/api/routes/runs.py), and their page
cursors."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt

from qgjob.domain.runs import Position, Run, RunRow, RunSource, RunStatus
from qgjob.protocol import limits
from qgjob.protocol.cursors import cursor_id, cursor_time, pack_cursor, unpack_cursor
from qgjob.protocol.fields import AppVersionId, IdempotencyKey, OrgId, Strict, iso

TestResult = Literal["passed", "failed", "flaky", "cancelled", "queued", "running", "skipped",
                     "timed-out"]
RunName = Annotated[str, Field(min_length=1, max_length=200, pattern=limits.ONE_LINE_PATTERN)]
Short = Annotated[str, Field(min_length=1, max_length=200, pattern=limits.ONE_LINE_PATTERN)]


class RunSourceFields(Strict):
    """Where a run came from, where known: `qgjob run` fills these from GitHub Actions'
    variables (GITHUB_REPOSITORY, GITHUB_WORKFLOW, GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT,
    GITHUB_SHA, the branch, the pull request number). Part of a request body, so an unknown
    field is a 422 as it is at the top of one."""

    repository: Short | None = None
    workflow: Short | None = None
    ci_run_id: Short | None = None
    ci_run_attempt: StrictInt | None = Field(default=None, ge=1, le=10_000)
    commit_sha: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{4,64}$")] | None = None
    branch: Annotated[str, Field(min_length=1, max_length=255,
                                 pattern=limits.ONE_LINE_PATTERN)] | None = None
    pull_request: StrictInt | None = Field(default=None, ge=1, le=10**9)
    url: Annotated[str, Field(max_length=2000,
                              pattern=rf"^https?://[^\s{limits.NOT_ONE_LINE}]+$")] \
        | None = None

    def domain(self) -> RunSource:
        return RunSource(**self.model_dump())

    @classmethod
    def of(cls, source: RunSource) -> RunSourceFields:
        return cls.model_construct(**source.__dict__)


class RunCreate(Strict):
    """A run to submit jobs into (`POST /jobs/batch?run_id=…`)."""

    org_id: OrgId
    app_version_id: AppVersionId
    name: RunName | None = Field(default=None, description="default: the build's id")
    source: RunSourceFields | None = None
    idempotency_key: IdempotencyKey | None = Field(
        default=None, description="the same key (per org) gives back the same run")


class RunCounts(BaseModel):
    total: int
    passed: int = Field(description="passed on their first attempt")
    flaky: int = Field(description="passed on a retry")
    failed: int
    cancelled: int
    queued: int
    running: int


class RunPublic(BaseModel):
    run_id: str
    name: str
    org_id: str
    app_version_id: str
    targets: list[str]
    status: RunStatus
    counts: RunCounts
    created_at: str
    finished_at: str | None
    cancelled_at: str | None = Field(
        default=None, description="when it was cancelled: it takes no new jobs since (its "
        "status reads `running` while a job asked to stop has yet to report)")
    duration_seconds: float = Field(description="from its creation to its end, or to now")
    attempt: int = Field(description="1, or the re-run's number (its source's + 1)")
    rerun_of: str | None = Field(description="the run whose failed tests this one re-runs")
    source: RunSourceFields

    @classmethod
    def of(cls, run: Run, now: float) -> RunPublic:
        return cls.model_validate(_fields(run, now))


def _fields(run: Run, now: float) -> dict[str, object]:
    c = run.counts
    return {
        "run_id": run.run_id, "name": run.name, "org_id": run.org_id,
        "app_version_id": run.app_version_id, "targets": list(run.targets),
        "status": run.status,
        "counts": {"total": c.total, "passed": c.passed, "flaky": c.flaky, "failed": c.failed,
                   "cancelled": c.cancelled, "queued": c.queued, "running": c.running},
        "created_at": iso(run.created_at), "finished_at": iso(run.finished_at),
        "cancelled_at": iso(run.cancelled_at),
        "duration_seconds": round(run.duration(now), 3), "attempt": run.attempt,
        "rerun_of": run.rerun_of, "source": RunSourceFields.of(run.source),
    }


class RunTest(BaseModel):
    """One test of a run: a test case its job's report named, or the whole job (spec file)
    when it reported none (yet)."""

    job_id: str
    test_path: str
    title: str | None = Field(description="the test's title; null for the spec as a whole")
    target: str
    result: TestResult
    job_status: str = Field(description="its job's status (a job runs one spec file)")
    duration_seconds: float | None
    error: str | None
    attempts: int
    max_attempts: int

    @classmethod
    def of(cls, row: RunRow, now: float) -> RunTest:
        job, case = row.job, row.case
        if case is not None:
            seconds: float | None = case.duration_seconds
        elif job.started_at is not None:
            seconds = (job.finished_at or now) - job.started_at
        else:
            seconds = None
        return cls.model_construct(
            job_id=job.job_id, test_path=job.test_path, title=case.title if case else None,
            target=job.target, result=row.result, job_status=job.state.public,
            duration_seconds=None if seconds is None else round(seconds, 3),
            error=(case.error if case else job.error), attempts=job.attempts,
            max_attempts=job.max_attempts)


class RunDetail(RunPublic):
    tests: list[RunTest] = Field(description="failures first")
    job_ids: list[str]
    actions: list[Literal["cancel", "rerun-failed"]] = Field(
        description="what this caller may do to the run now")


class RunList(BaseModel):
    runs: list[RunPublic]
    count: int
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null "
                                                "at the end")


def encode_cursor(position: Position | None) -> str | None:
    return None if position is None else pack_cursor([position[0], position[1]])


def decode_cursor(cursor: str) -> Position:
    """ValueError for anything `encode_cursor` did not write."""
    at, run_id = unpack_cursor(cursor, 2)
    return cursor_time(at), cursor_id(run_id)
