"""Reading history on SQLite: a job's attempts, the device timeline, job counts per state and
the marker live views poll. Each function runs inside the caller's read transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from qgjob.domain.history import DeviceRun, Install, Timeline
from qgjob.domain.models import Attempt
from qgjob.domain.states import JobState
from qgjob.store.sqlfiles import load_queries

Q = load_queries("qgjob.store.sqlite")


def job_attempts(conn: sqlite3.Connection, job_id: str) -> list[Attempt]:
    return [_attempt(row) for row in conn.execute(Q["attempts_of_job"], {"job_id": job_id})]


def timeline(conn: sqlite3.Connection, since: float, until: float, limit: int) -> Timeline:
    """At most `limit` runs and `limit` installs, the newest, in start order."""
    window = {"since": since, "until": until, "limit": limit + 1}
    runs = [_run(row) for row in conn.execute(Q["runs_between"], window)]
    installs = [_install(row) for row in conn.execute(Q["installs_between"], window)]
    truncated = len(runs) > limit or len(installs) > limit
    return Timeline(
        since=since, until=until,
        runs=tuple(sorted(runs[:limit], key=lambda r: r.attempt.started_at)),
        installs=tuple(sorted(installs[:limit], key=lambda i: i.started_at)),
        truncated=truncated,
    )


def state_counts(conn: sqlite3.Connection) -> dict[JobState, int]:
    row = conn.execute(Q["job_state_counts"]).fetchone()
    return {state: int(row[state.value]) for state in JobState}


def change_marker(conn: sqlite3.Connection) -> tuple[Any, ...]:
    return tuple(conn.execute(Q["change_marker"]).fetchone())


def _attempt(row: Mapping[str, Any]) -> Attempt:
    return Attempt(
        job_id=row["job_id"], attempt=row["attempt"], device_id=row["device_id"],
        agent_name=row["agent_name"], started_at=row["started_at"],
        finished_at=row["finished_at"], outcome=row["outcome"], error=row["error"],
    )


def _run(row: Mapping[str, Any]) -> DeviceRun:
    return DeviceRun(attempt=_attempt(row), app_version_id=row["app_version_id"],
                     target=row["target"], test_path=row["test_path"], org_id=row["org_id"])


def _install(row: Mapping[str, Any]) -> Install:
    return Install(device_id=row["device_id"], app_version_id=row["app_version_id"],
                   target=row["target"], started_at=row["started_at"],
                   finished_at=row["finished_at"], ok=bool(row["ok"]))
