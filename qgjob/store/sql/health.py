"""Test health in SQL: each finished attempt folded into its test's summary (and its cases'
summaries) inside the transaction that finishes it; the health listing, the evidence a
retry decision reads, and quarantine. Each function runs inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qgjob.domain.health import (
    FLAKY_WINDOW_BUILDS,
    Quarantined,
    TestHealthRow,
    TestKey,
    TestQuery,
    TestRun,
    TestSummary,
    record,
)
from qgjob.domain.models import CaseResult, Job
from qgjob.domain.repeats import FailureEvidence, PriorFailure
from qgjob.domain.stats import OrgStats, bucket_percentile, epoch_hour, wait_bucket
from qgjob.store.rows import Row
from qgjob.store.sql.database import Tx

MAX_CASES = 200
"""Cases of one report that are kept in the history (a report may name thousands)."""
TITLE_CHARS = 500
PRIOR_FAILURES = 20
CASE_PASSED = {"passed": (1, 0), "flaky": (1, 1)}
CASE_FAILED = {"failed": (0, 1), "timedOut": (0, 1), "timed-out": (0, 1),
               "interrupted": (0, 1)}

SORTS = {
    "flaky": "h.flaky_score DESC, h.failed DESC",
    "failing": "h.pass_rate ASC, h.last_failure_at DESC",
    "slowest": "h.p95_seconds DESC",
    "runs": "h.runs DESC",
    "recent": "h.last_seen DESC",
    "name": "h.test_path",
}
"""The orders of `TEST_SORTS`; every one ends by name, so pages are stable."""


def record_attempt(conn: Tx, job: Job, passed: bool, seconds: float, error: str | None,
                   cases: Sequence[CaseResult], now: float) -> None:
    """Count a passed or failed attempt for its test file, and each case its report named."""
    key = TestKey(job.org_id, job.target, job.test_path)
    _record(conn, TestRun(key, job.app_version_id, passed, seconds, now, error, job.job_id),
            (int(passed), int(not passed)))
    for case in cases[:MAX_CASES]:
        counts = CASE_PASSED.get(case.status) or CASE_FAILED.get(case.status)
        if counts is None or not case.title:
            continue  # skipped, or a status qgjob does not know
        case_key = TestKey(job.org_id, job.target, job.test_path, case.title[:TITLE_CHARS])
        _record(conn, TestRun(case_key, job.app_version_id, counts[0] == 1,
                              case.duration_seconds, now, case.error, job.job_id), counts)


def _record(conn: Tx, run: TestRun, counts: tuple[int, int]) -> None:
    where = _key_params(run.key)
    conn.run("count_test_build", {**where, "app_version_id": run.app_version_id,
                                  "passed": counts[0], "failed": counts[1], "now": run.at})
    builds = [(r["passed"], r["failed"]) for r in conn.run(
        "recent_test_builds", {**where, "limit": FLAKY_WINDOW_BUILDS})]
    row = conn.run("test_summary", where).fetchone()
    summary = record(_summary(row) if row else None, run, builds)
    conn.run("save_test_summary", summary_params(summary))


def tests(conn: Tx, query: TestQuery) -> list[TestHealthRow]:
    where: list[str] = []
    params: dict[str, Any] = {"limit": query.limit}
    for column in ("org_id", "target", "test_path"):
        value = getattr(query, column)
        if value is not None:
            where.append(f"h.{column} = {conn.param(column)}")
            params[column] = value
    if not query.cases:
        where.append("h.title = ''")
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    order = SORTS[query.sort]
    sql = (f"SELECT h.*, q.added_at AS quarantined_at FROM test_health h "
           f"LEFT JOIN quarantined_tests q ON q.org_id = h.org_id "
           f"AND q.test_path = h.test_path {clause} "
           f"ORDER BY {order}, h.test_path, h.title, h.target, h.org_id "
           f"LIMIT {conn.param('limit')}")
    return [TestHealthRow(_summary(row), row["quarantined_at"] is not None)
            for row in conn.run_sql(sql, params)]


def failure_evidence(conn: Tx, job_id: str, flaky_threshold: float) -> FailureEvidence:
    failures = tuple(
        PriorFailure(r["job_id"], r["attempt"], r["device_id"], r["error"])
        for r in conn.run("failures_on_build", {"job_id": job_id, "limit": PRIOR_FAILURES}))
    row = conn.run("test_on_build", {"job_id": job_id}).fetchone()
    if row is None:
        return FailureEvidence(failures)
    score = row["flaky_score"] or 0.0
    return FailureEvidence(failures, passed_on_build=bool(row["passed_on_build"]),
                           known_flaky=bool(row["flaky_builds"]) and score >= flaky_threshold)


def note_attempt(conn: Tx, job_id: str, attempt: int, note: str) -> None:
    conn.run("note_attempt", {"job_id": job_id, "attempt": attempt, "note": note})


def prune(conn: Tx, before: float) -> int:
    """Forget builds, tests and org hours not seen since `before`; how many rows went."""
    hour = epoch_hour(before)
    gone = 0
    for name, value in [("prune_test_builds", before), ("prune_test_health", before),
                        ("prune_org_hours", hour), ("prune_org_waits", hour)]:
        gone += int(conn.run(name, {"before": value}).rowcount)
    return gone


def roll_up_org_hours(conn: Tx, before: float) -> int:
    """Fold the per-org hours of whole days before `before` into one row per day (the day's
    first hour); how many hour rows went. A window then counts whole days in the past and
    hours only recently: at most a day of imprecision at its far end."""
    day_start = epoch_hour(before) - epoch_hour(before) % 24
    gone = 0
    for roll_up, drop in (("roll_up_org_hours", "drop_rolled_up_org_hours"),
                          ("roll_up_org_waits", "drop_rolled_up_org_waits")):
        conn.run(roll_up, {"before": day_start})
        gone += int(conn.run(drop, {"before": day_start}).rowcount)
    return gone


def quarantine(conn: Tx, org_id: str, test_path: str, reason: str | None,
               added_by: str | None, now: float) -> tuple[Quarantined, bool]:
    """The quarantine entry, and whether this call made it (False: it was there already).
    An entry there already takes the new reason, if one is given (None keeps its own); who
    added it and when stay."""
    params = {"org_id": org_id, "test_path": test_path}
    made = conn.run("quarantine_test", {**params, "reason": reason or "", "added_by": added_by,
                                        "now": now}).rowcount
    if not made and reason is not None:
        conn.run("requarantine_test", {**params, "reason": reason})
    return _quarantined(conn.run("quarantined_test", params).fetchone()), bool(made)


def unquarantine(conn: Tx, org_id: str, test_path: str) -> bool:
    params = {"org_id": org_id, "test_path": test_path}
    return bool(conn.run("unquarantine_test", params).rowcount)


def quarantined(conn: Tx, org_id: str | None, limit: int) -> list[Quarantined]:
    rows = (conn.run("quarantined_tests_of_org", {"org_id": org_id}) if org_id is not None
            else conn.run("all_quarantined_tests", {"limit": limit}))
    return [_quarantined(row) for row in rows]


def _quarantined(row: Row) -> Quarantined:
    return Quarantined(row["org_id"], row["test_path"], row["reason"], row["added_by"],
                       row["added_at"])


def _key_params(key: TestKey) -> dict[str, str]:
    return {"org_id": key.org_id, "target": key.target, "test_path": key.test_path,
            "title": key.title}


def _summary(row: Row) -> TestSummary:
    seconds = tuple(float(s) for s in row["recent_seconds"].split())
    return TestSummary(
        key=TestKey(row["org_id"], row["target"], row["test_path"], row["title"]),
        runs=row["runs"], passed=row["passed"], failed=row["failed"], recent=row["recent"],
        recent_seconds=seconds, builds=row["builds"], flaky_builds=row["flaky_builds"],
        first_seen=row["first_seen"], last_seen=row["last_seen"],
        last_outcome=row["last_outcome"], last_app_version_id=row["last_app_version_id"],
        last_failure_at=row["last_failure_at"], last_error=row["last_error"],
        last_failure_app_version_id=row["last_failure_app_version_id"],
        last_failure_job_id=row["last_failure_job_id"])


def summary_params(summary: TestSummary) -> dict[str, Any]:
    return {
        **_key_params(summary.key), "runs": summary.runs, "passed": summary.passed,
        "failed": summary.failed, "recent": summary.recent,
        "recent_seconds": " ".join(f"{s:g}" for s in summary.recent_seconds),
        "pass_rate": summary.pass_rate, "p50_seconds": summary.p50_seconds,
        "p95_seconds": summary.p95_seconds, "trend": summary.trend,
        "builds": summary.builds, "flaky_builds": summary.flaky_builds,
        "flaky_score": summary.flaky_score, "first_seen": summary.first_seen,
        "last_seen": summary.last_seen, "last_outcome": summary.last_outcome,
        "last_app_version_id": summary.last_app_version_id,
        "last_failure_at": summary.last_failure_at, "last_error": summary.last_error,
        "last_failure_app_version_id": summary.last_failure_app_version_id,
        "last_failure_job_id": summary.last_failure_job_id,
    }


def count_attempt(conn: Tx, org_id: str, seconds: float, now: float) -> None:
    """An attempt ended (whatever its outcome): its device time counts for its org."""
    conn.run("count_org_attempt", {"org_id": org_id, "epoch_hour": epoch_hour(now),
                                   "seconds": max(seconds, 0.0)})


def count_finished_job(conn: Tx, job: Job, now: float) -> None:
    """A job reached a final state: counted, with how long it waited for its first start."""
    hour = epoch_hour(now)
    state = job.state.value
    conn.run("count_org_job", {
        "org_id": job.org_id, "epoch_hour": hour, "completed": int(state == "completed"),
        "failed": int(state == "failed"), "cancelled": int(state == "cancelled"),
        "flaky": int(job.flaky and state == "completed")})
    if job.started_at is not None:
        conn.run("count_org_wait", {"org_id": job.org_id, "epoch_hour": hour,
                                    "bucket": wait_bucket(job.started_at - job.created_at)})


def org_stats(conn: Tx, org_id: str | None, since: float) -> list[OrgStats]:
    """Each org's statistics over the hours from `since`'s on (one org, or every org)."""
    params = {"org_id": org_id, "since": epoch_hour(since)}
    if org_id is None:
        totals, waits = conn.run("every_org_totals", params), conn.run(
            "every_org_wait_buckets", params)
    else:
        totals, waits = conn.run("org_totals", params), conn.run("org_wait_buckets", params)
    buckets: dict[str, dict[int, int]] = {}
    for row in waits:
        buckets.setdefault(row["org_id"], {})[int(row["bucket"])] = int(row["jobs"])
    return [OrgStats(
        org_id=row["org_id"], completed=int(row["completed"]), failed=int(row["failed"]),
        cancelled=int(row["cancelled"]), flaky=int(row["flaky"]),
        attempts=int(row["attempts"]), device_seconds=float(row["device_seconds"]),
        wait_p50_seconds=bucket_percentile(buckets.get(row["org_id"], {}), 0.50),
        wait_p95_seconds=bucket_percentile(buckets.get(row["org_id"], {}), 0.95),
    ) for row in totals]
