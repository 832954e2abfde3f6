"""Runs: storing one, reading runs with their counts (derived from their jobs by one grouped
query per page, never kept in counters), a page of runs newest first, a run's jobs and
per-test results, and cancelling what a run still has to do. Each function runs inside the
caller's transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from qgjob.domain.models import CaseResult, Job
from qgjob.domain.runs import NewRun, Position, Run, RunCounts, RunSource, counts_of
from qgjob.domain.states import JobState
from qgjob.store.base import IdempotencyKeyReused, RunCancelled, RunFilter, RunPage
from qgjob.store.rows import Row, job_from_row
from qgjob.store.sql.database import TransientConflict, Tx
from qgjob.store.sql.output import cases_of

SCAN_CHUNK = 200
SCAN_MAX = 5000
"""Runs a page with a status filter looks at before it answers with what it found so far
(and a cursor to go on): the status is derived, so the filter cannot use an index."""

def insert(conn: Tx, run: NewRun) -> tuple[Run, bool]:
    """The run, and whether this call stored it (False: its idempotency key found the run
    stored before, which is returned). IdempotencyKeyReused when the key's run is of another
    build, name or re-run: the client would then submit jobs into a run not its own."""
    if run.idempotency_key:
        row = conn.run("run_by_idempotency_key", {"org_id": run.org_id,
                                                  "idempotency_key": run.idempotency_key}
                       ).fetchone()
        if row is not None:
            if (row["app_version_id"], row["name"], row["rerun_of"]) != (
                    run.app_version_id, run.name, run.rerun_of):
                raise IdempotencyKeyReused(run.idempotency_key, "run", row["id"])
            return with_counts(conn, [row])[0], False
    if not conn.run("insert_run", _params(run)).rowcount:
        raise TransientConflict("a concurrent request stored a run with the same key")
    return Run(run.run_id, run.org_id, run.app_version_id, run.name, run.created_at,
               run.source, run.rerun_of, run.attempt, RunCounts(), (), None, None), True


def by_id(conn: Tx, run_id: str) -> Run | None:
    row = conn.run("run_by_id", {"run_id": run_id}).fetchone()
    return with_counts(conn, [row])[0] if row is not None else None


def page(conn: Tx, query: RunFilter) -> RunPage:
    """Newest first. Without a status filter one query reads the page; with one, runs are
    read in chunks until the page is full or SCAN_MAX runs were looked at."""
    wanted: Callable[[Run], bool] = (
        (lambda run: True) if query.status is None else (lambda run: run.status == query.status))
    chunk = query.limit + 1 if query.status is None else SCAN_CHUNK
    found: list[Run] = []
    after, scanned = query.after, 0
    while True:
        rows = _newest(conn, query, after, chunk)
        for run in with_counts(conn, rows):
            scanned += 1
            if wanted(run):
                found.append(run)
                if len(found) > query.limit:
                    last = found[query.limit - 1]
                    return RunPage(found[:query.limit], (last.created_at, last.run_id))
            after = (run.created_at, run.run_id)
        if len(rows) < chunk:
            return RunPage(found, None)
        if scanned >= SCAN_MAX:
            return RunPage(found, after)


def _newest(conn: Tx, query: RunFilter, after: Position | None, limit: int) -> list[Row]:
    where: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    for column in ("org_id", "app_version_id"):
        value = getattr(query, column)
        if value is not None:
            where.append(f"{column} = {conn.param(column)}")
            params[column] = value
    if after is not None:
        at, run_id = conn.param("after_at"), conn.param("after_id")
        where.append(f"(created_at < {at} OR (created_at = {at} AND id < {run_id}))")
        params.update(after_at=after[0], after_id=after[1])
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    sql = (f"SELECT * FROM runs {clause} ORDER BY created_at DESC, id DESC "
           f"LIMIT {conn.param('limit')}")
    return list(conn.run_sql(sql, params))


def with_counts(conn: Tx, rows: Sequence[Row]) -> list[Run]:
    """The runs of `rows` (in their order) with their counts, targets and end."""
    counts: dict[str, RunCounts] = {}
    targets: dict[str, set[str]] = {}
    ends: dict[str, float] = {}
    ids = [row["id"] for row in rows]
    for row in conn.run("run_job_counts", {"run_ids": conn.array(ids)}) if ids else ():
        run_id = row["run_id"]
        counts[run_id] = counts.get(run_id, RunCounts()) + counts_of(
            JobState(row["state"]), bool(row["flaky"]), int(row["jobs"]))
        targets.setdefault(run_id, set()).add(row["target"])
        if row["finished_at"] is not None:
            ends[run_id] = max(ends.get(run_id, 0.0), float(row["finished_at"]))
    return [_run(row, counts.get(row["id"], RunCounts()),
                 tuple(sorted(targets.get(row["id"], ()))), ends.get(row["id"]))
            for row in rows]


def jobs(conn: Tx, run_id: str) -> list[Job]:
    """The run's jobs, by test file."""
    return [job_from_row(row) for row in conn.run("jobs_of_run", {"run_id": run_id})]


def cases(conn: Tx, run_id: str) -> dict[str, list[CaseResult]]:
    """Per job of the run: the per-test results of its last attempt that reported any."""
    last: dict[str, str] = {}
    for row in conn.run("run_attempt_details", {"run_id": run_id}):
        last[row["job_id"]] = row["details"]
    return {job_id: cases_of(details) for job_id, details in last.items()}


def lock(conn: Tx, run_id: str) -> Row | None:
    """The run's row, locked for the rest of the write transaction (on PostgreSQL; SQLite's
    one writer serialises write transactions already). A submit into the run and the run's
    cancel both take it first, so one waits for the other: the cancel then sees the jobs
    the submit stored and cancels them too, or the submit sees the run cancelled."""
    row: Row | None = conn.run("lock_run", {"run_id": run_id}).fetchone()
    return row


def refuse_if_cancelled(conn: Tx, run_ids: set[str]) -> None:
    """RunCancelled if any of the runs was cancelled (`Run.was_cancelled`): new jobs in it
    would run anyway. Locks the runs (in id order, as concurrent submits take them); a run
    not stored is left to the caller, which checked that it exists."""
    rows = [row for row in (lock(conn, run_id) for run_id in sorted(run_ids)) if row]
    cancelled = [row for row in rows if row["cancelled_at"] is not None]
    if cancelled:  # its jobs are counted only for the refusal's message
        raise RunCancelled(with_counts(conn, cancelled[:1])[0])


def mark_cancelled(conn: Tx, run_id: str, now: float) -> None:
    """The run takes no new jobs from `now` on (a cancel again keeps the first time)."""
    conn.run("mark_run_cancelled", {"run_id": run_id, "now": now})


def active_job_ids(conn: Tx, run_id: str) -> list[str]:
    return [row["id"] for row in conn.run("active_job_ids_of_run", {"run_id": run_id})]


def _params(run: NewRun) -> dict[str, Any]:
    return {"run_id": run.run_id, "org_id": run.org_id, "app_version_id": run.app_version_id,
            "name": run.name, **run.source.__dict__, "rerun_of": run.rerun_of,
            "attempt": run.attempt, "idempotency_key": run.idempotency_key,
            "created_at": run.created_at}


def _run(row: Row, counts: RunCounts, targets: tuple[str, ...], end: float | None) -> Run:
    source = RunSource(repository=row["repository"], workflow=row["workflow"],
                       ci_run_id=row["ci_run_id"], ci_run_attempt=row["ci_run_attempt"],
                       commit_sha=row["commit_sha"], branch=row["branch"],
                       pull_request=row["pull_request"], url=row["url"])
    return Run(run_id=row["id"], org_id=row["org_id"], app_version_id=row["app_version_id"],
               name=row["name"], created_at=float(row["created_at"]), source=source,
               rerun_of=row["rerun_of"], attempt=int(row["attempt"]), counts=counts,
               targets=targets, last_finished_at=end,
               cancelled_at=_float_or_none(row["cancelled_at"]))


def _float_or_none(value: Any) -> float | None:
    return float(value) if value is not None else None
