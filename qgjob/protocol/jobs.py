"""Jobs on the wire: what a submission takes, and how a job, its test cases and its files
read. Separate from domain objects and database rows: these are the promises of
../CONTRACT.md, and they change only deliberately."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pydantic_core
from pydantic import BaseModel, Field, StrictFloat, StrictInt, field_validator

from qgjob.domain import values
from qgjob.domain.listing import JOB_ORDERS, JobOrder, JobPosition
from qgjob.domain.models import Job
from qgjob.protocol import limits
from qgjob.protocol.cursors import (
    NOT_OURS,
    cursor_id,
    cursor_int,
    cursor_time,
    pack_cursor,
    unpack_cursor,
)
from qgjob.protocol.fields import (
    AppVersionId,
    IdempotencyKey,
    OrgId,
    Priority,
    PublicStatus,
    Strict,
    TargetName,
    TestPath,
    Text,
    iso,
)


class JobCreate(Strict):
    """One job to queue. The service reads it as it is (see `JobRequest`)."""

    org_id: OrgId
    app_version_id: AppVersionId
    test_path: TestPath
    target: TargetName = "emulator"
    priority: Priority = Field(default=values.DEFAULT_PRIORITY,
                               description="1 (lowest) to 5 (highest), or low, normal, "
                                           "medium, high, urgent, critical")
    max_attempts: StrictInt | None = Field(
        default=None, ge=1, le=limits.MAX_ATTEMPTS,
        description="omitted or null: the server's default (QGJOB_MAX_ATTEMPTS); null is "
                    "what `qgjob submit` and `qgjob run` send without --max-attempts")
    idempotency_key: IdempotencyKey | None = Field(
        default=None, description="the same key (per org) gives back the same job; for "
                                  "single submissions the Idempotency-Key header does the same")


class JobBatchCreate(Strict):
    jobs: list[JobCreate] = Field(min_length=1, max_length=limits.MAX_JOBS_PER_REQUEST)

    @field_validator("jobs")
    @classmethod
    def _keys_name_one_test(cls, jobs: list[JobCreate]) -> list[JobCreate]:
        """An idempotency key given twice in one batch (in one org) names one job: asking
        alike it is one job (a retried chunk may repeat itself), asking otherwise it is the
        client's mistake, said here rather than as a conflict with a job that was
        never stored."""
        first: dict[tuple[str, str], int] = {}
        for at, job in enumerate(jobs):
            if job.idempotency_key is None:
                continue
            earlier = first.setdefault((job.org_id, job.idempotency_key), at)
            if earlier != at and _asks_otherwise(jobs[earlier], job):
                raise ValueError(f"idempotency_key {job.idempotency_key!r} appears twice in "
                                 f"the batch, for different jobs (jobs.{earlier} and "
                                 f"jobs.{at})")
        return jobs


def _asks_otherwise(first: JobCreate, then: JobCreate) -> bool:
    """Whether two jobs of one batch with one idempotency key ask for different things: the
    test, the priority, or `max_attempts` where both name one (one left out takes the
    server's default, as the store compares a key seen before:
    `NewJob.asks_otherwise_than`)."""
    return ((first.app_version_id, first.test_path, first.target, first.priority)
            != (then.app_version_id, then.test_path, then.target, then.priority)
            or (None not in (first.max_attempts, then.max_attempts)
                and first.max_attempts != then.max_attempts))


class JobPublic(BaseModel):
    job_id: str
    org_id: str
    app_version_id: str
    test_path: str
    target: str
    priority: int
    status: PublicStatus
    attempts: int
    max_attempts: int
    charged_attempts: int = Field(description="attempts that count against max_attempts")
    interrupted_attempts: int = Field(
        description="attempts cut short by a lost device, a hand-back or preemption: in "
                    "`attempts`, not charged")
    agent: str | None
    device: str | None
    error: str | None
    flaky: bool
    cancel_requested: bool
    created_at: str
    started_at: str | None
    finished_at: str | None
    tests: list[CasePublic] = Field(
        default_factory=list,
        description="per-test results of its last attempt (on GET /jobs/{job_id})")

    @classmethod
    def of(cls, job: Job) -> JobPublic:
        return cls.model_validate(_public_fields(job))


def _public_fields(job: Job) -> dict[str, object]:
    return {
        "job_id": job.job_id, "org_id": job.org_id, "app_version_id": job.app_version_id,
        "test_path": job.test_path, "target": job.target, "priority": job.priority,
        "status": job.state.public, "attempts": job.attempts, "max_attempts": job.max_attempts,
        "charged_attempts": job.charged_attempts,
        "interrupted_attempts": job.infra_failures + job.preemptions,
        "agent": job.agent_name, "device": job.device_id, "error": job.error,
        "flaky": job.flaky, "cancel_requested": job.cancel_requested,
        "created_at": iso(job.created_at) or "", "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at), "tests": [],
    }


class CasePublic(BaseModel):
    """One test case of the job's last attempt, as the test runner reported it."""

    title: Text = Field(max_length=limits.CASE_TITLE_MAX)
    status: Literal["passed", "failed", "skipped", "flaky", "timed-out"]
    duration_seconds: StrictFloat = Field(ge=0, le=limits.SECONDS_MAX, allow_inf_nan=False)
    error: Text | None = Field(default=None, max_length=limits.CASE_ERROR_MAX)
    file: Text | None = Field(default=None, max_length=limits.CASE_FILE_MAX)


class JobList(BaseModel):
    jobs: list[JobPublic]
    count: int

    @classmethod
    def of(cls, jobs: Sequence[Job]) -> JobList:
        # One validation for the whole list: a 1,000-job batch answers in a third of the time
        # that a JobPublic per job takes.
        return cls.model_validate(_list_fields(jobs))

    @staticmethod
    def json_of(jobs: Sequence[Job]) -> bytes:
        """The JSON of `of(jobs)`, written straight from the fields: a bulk submit answers
        with 1,000 jobs, and building their models cost more than writing them."""
        return pydantic_core.to_json(_list_fields(jobs))


class JobPage(JobList):
    """A page of `GET /jobs`."""

    next_cursor: str | None = Field(default=None, description=(
        "more jobs match: pass it as `cursor` (with the same filters and `order`) for the "
        "next page; null on the last page"))

    @classmethod
    def page_of(cls, jobs: Sequence[Job], next_cursor: str | None) -> JobPage:
        return cls.model_validate({**_list_fields(jobs), "next_cursor": next_cursor})


def encode_job_cursor(order: JobOrder, job: Job) -> str:
    at = JobPosition.of(job)
    return pack_cursor([order, at.priority, at.created_at, at.job_id])


def decode_job_cursor(cursor: str, order: JobOrder) -> JobPosition:
    """ValueError, saying why, for anything `encode_job_cursor` did not write for `order`."""
    written, priority, at, job_id = unpack_cursor(cursor, 4)
    if not isinstance(written, str) or written not in JOB_ORDERS:
        raise ValueError(NOT_OURS)
    position = JobPosition(cursor_int(priority, values.MIN_PRIORITY, values.MAX_PRIORITY),
                           cursor_time(at), cursor_id(job_id))
    if written != order:
        raise ValueError(f"cursor: it continues a list in {written!r} order, not {order!r}")
    return position


def _list_fields(jobs: Sequence[Job]) -> dict[str, object]:
    return {"jobs": [_public_fields(job) for job in jobs], "count": len(jobs)}


class JobIdList(BaseModel):
    """A batch submit's answer when asked with `Prefer: return=minimal`: the ids, in the
    order of the jobs sent."""

    job_ids: list[str]
    count: int
    replayed: int = Field(0, description="how many of them an idempotency key found: "
                                         "submitted before, not queued by this request")

    @staticmethod
    def json_of(jobs: Sequence[Job], replayed: int) -> bytes:
        return pydantic_core.to_json({"job_ids": [job.job_id for job in jobs],
                                      "count": len(jobs), "replayed": replayed})


class FileInfo(BaseModel):
    attempt: int
    name: str
    media_type: str
    size: int


class FileList(BaseModel):
    files: list[FileInfo]


class JobPlace(BaseModel):
    """Why a job that has not started waits (`GET /jobs/{job_id}/place`)."""

    job_id: str
    waiting: bool = Field(description="false once it started or ended; the rest is then empty")
    reason: str | None = Field(description="why it waits, in one line")
    build_position: int | None = Field(description=(
        "its build's place among the builds waiting for a device of its target (1 = next); "
        "null while devices work on its build"))
    builds_waiting: int = Field(description="builds of its target waiting for a device")
    devices_working: int = Field(description="devices on its build now")
    ahead_in_build: int | None = Field(description=(
        "queued jobs of its build (and org) that devices take before it: higher priority, "
        "then older"))
    build_queued: int | None = Field(description="queued jobs of its build (and org)")
    estimated_start_at: str | None = Field(description=(
        "a rough estimate from learned durations (null: unknown, or it cannot start)"))
