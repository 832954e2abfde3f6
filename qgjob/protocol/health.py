"""What the test-health endpoints take and return: each test's health, and quarantine.
Kept apart from jobs.py and agents.py (the submission and agent contracts)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from qgjob.domain.health import Health, Quarantined, TestHealthRow, classify
from qgjob.domain.stats import OrgStats
from qgjob.protocol import limits
from qgjob.protocol.fields import OrgId, Strict, TestPath, iso


class LastFailure(BaseModel):
    at: str
    error: str | None
    app_version_id: str | None
    job_id: str | None


class TestHealthPublic(BaseModel):
    __test__ = False  # not a pytest test class

    org_id: str
    test_path: str
    title: str = Field(description="'' for the test file; else a test case its report named")
    target: str
    status: Health = Field(description="flaky, broken, fixed, new, failing or healthy")
    quarantined: bool
    runs: int = Field(description="since first seen")
    passed: int
    failed: int
    pass_rate: float = Field(description="over the recent runs (the last 50 at most)")
    recent: str = Field(description="P or F per recent run, newest last")
    recent_seconds: list[float] = Field(description="those runs' durations, newest last")
    flaky_score: float = Field(description="share of its recent builds (20 at most) on "
                                           "which it both passed and failed")
    flaky_builds: int
    builds: int
    p50_seconds: float
    p95_seconds: float
    trend: float | None = Field(description="median duration of the newer half of the recent "
                                            "runs against the older half's: 0.2 = 20 % slower")
    first_seen: str
    last_seen: str
    last_app_version_id: str
    last_failure: LastFailure | None

    @classmethod
    def of(cls, row: TestHealthRow, flaky_threshold: float) -> TestHealthPublic:
        s = row.summary
        failure = None if s.last_failure_at is None else LastFailure(
            at=iso(s.last_failure_at) or "", error=s.last_error,
            app_version_id=s.last_failure_app_version_id, job_id=s.last_failure_job_id)
        return cls(org_id=s.key.org_id, test_path=s.key.test_path, title=s.key.title,
                   target=s.key.target, status=classify(s, flaky_threshold),
                   quarantined=row.quarantined, runs=s.runs, passed=s.passed, failed=s.failed,
                   pass_rate=round(s.pass_rate, 4), recent=s.recent,
                   recent_seconds=list(s.recent_seconds),
                   flaky_score=round(s.flaky_score, 4), flaky_builds=s.flaky_builds,
                   builds=s.builds, p50_seconds=s.p50_seconds, p95_seconds=s.p95_seconds,
                   trend=s.trend, first_seen=iso(s.first_seen) or "",
                   last_seen=iso(s.last_seen) or "", last_app_version_id=s.last_app_version_id,
                   last_failure=failure)


class TestHealthList(BaseModel):
    __test__ = False  # not a pytest test class

    tests: list[TestHealthPublic]
    flaky_threshold: float


class QuarantineCreate(Strict):
    org_id: OrgId
    test_path: TestPath
    reason: str | None = Field(
        default=None, max_length=limits.QUARANTINE_REASON_MAX,
        pattern=limits.QUARANTINE_REASON_PATTERN,
        description="why; on a test quarantined already it replaces the reason. Omitted or "
                    "null: none for a new entry, the old one kept for an existing one")


class QuarantinePublic(BaseModel):
    org_id: str
    test_path: str
    reason: str
    added_by: str | None = Field(description="the token that added it, if any")
    added_at: str

    @classmethod
    def of(cls, entry: Quarantined) -> QuarantinePublic:
        return cls(org_id=entry.org_id, test_path=entry.test_path, reason=entry.reason,
                   added_by=entry.added_by, added_at=iso(entry.added_at) or "")


class QuarantineList(BaseModel):
    quarantined: list[QuarantinePublic]


class OrgStatsPublic(BaseModel):
    org_id: str
    finished: int = Field(description="jobs that completed, failed or were cancelled")
    completed: int
    failed: int
    cancelled: int
    success_rate: float | None = Field(description="completed / (completed + failed)")
    flaky: int = Field(description="completed jobs that passed only on a retry")
    flaky_rate: float | None = Field(description="flaky / completed")
    attempts: int
    device_hours: float = Field(description="device time of every attempt, whatever its end")
    queue_wait_p50_seconds: float | None = Field(
        description="upper bound of the median wait from submit to first start, at the "
                    "resolution of the wait buckets (1, 2, 5, 10, 20, 30, 60 s, …)")
    queue_wait_p95_seconds: float | None

    @classmethod
    def of(cls, stats: OrgStats) -> OrgStatsPublic:
        return cls(org_id=stats.org_id, finished=stats.finished, completed=stats.completed,
                   failed=stats.failed, cancelled=stats.cancelled,
                   success_rate=_rate(stats.success_rate), flaky=stats.flaky,
                   flaky_rate=_rate(stats.flaky_rate), attempts=stats.attempts,
                   device_hours=round(stats.device_seconds / 3600, 3),
                   queue_wait_p50_seconds=stats.wait_p50_seconds,
                   queue_wait_p95_seconds=stats.wait_p95_seconds)


class StatsList(BaseModel):
    days: float
    stats: list[OrgStatsPublic]


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
