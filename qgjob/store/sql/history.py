"""Reading history: a job's attempts, the device timeline, job counts per state and
the marker live views poll. Each function runs inside the caller's read transaction."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from qgjob.domain.history import DeviceRun, Install, Timeline
from qgjob.domain.models import Attempt
from qgjob.domain.states import JobState
from qgjob.store.rows import Row
from qgjob.store.sql.database import Tx

_MARKER_COLUMNS = ("jobs_changed_at", "runs_cancelled_at", "last_install", "devices_seen_at",
                   "devices", "agents_online")


def job_attempts(conn: Tx, job_id: str) -> list[Attempt]:
    return [replace(_attempt(row), note=row["note"])
            for row in conn.run("attempts_of_job", {"job_id": job_id})]


def timeline(conn: Tx, since: float, until: float, limit: int) -> Timeline:
    """At most `limit` runs and `limit` installs, the newest, in start order."""
    window = {"since": since, "until": until, "limit": limit + 1}
    runs = [_run(row) for row in conn.run("runs_between", window)]
    installs = [_install(row) for row in conn.run("installs_between", window)]
    truncated = len(runs) > limit or len(installs) > limit
    return Timeline(
        since=since, until=until,
        runs=tuple(sorted(runs[:limit], key=lambda r: r.attempt.started_at)),
        installs=tuple(sorted(installs[:limit], key=lambda i: i.started_at)),
        truncated=truncated,
    )


def state_counts(conn: Tx) -> dict[JobState, int]:
    row = conn.run("job_state_counts").fetchone()
    return {state: int(row[state.value]) for state in JobState}


def change_marker(conn: Tx) -> tuple[Any, ...]:
    row = conn.run("change_marker").fetchone()
    return tuple(row[column] for column in _MARKER_COLUMNS)


def _attempt(row: Row) -> Attempt:
    return Attempt(
        job_id=row["job_id"], attempt=row["attempt"], device_id=row["device_id"],
        agent_name=row["agent_name"], started_at=row["started_at"],
        finished_at=row["finished_at"], outcome=row["outcome"], error=row["error"],
    )


def _run(row: Row) -> DeviceRun:
    return DeviceRun(attempt=_attempt(row), app_version_id=row["app_version_id"],
                     target=row["target"], test_path=row["test_path"], org_id=row["org_id"])


def _install(row: Row) -> Install:
    return Install(device_id=row["device_id"], app_version_id=row["app_version_id"],
                   target=row["target"], started_at=row["started_at"],
                   finished_at=row["finished_at"], ok=bool(row["ok"]))
