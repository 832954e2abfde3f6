"""Database rows to domain objects, and back. Both dialects name their columns alike, so one
mapping serves every store."""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from qgjob.domain.models import Agent, Device, DeviceUsage, GroupSummary, Job
from qgjob.domain.queue_order import counts_by_priority
from qgjob.domain.states import JobState

Row = Mapping[str, Any]

PUBLIC_COUNT_COLUMNS = {
    "queued": ("queued", "assigned", "retry_wait"),
    "running": ("running",),
    "completed": ("completed",),
    "failed": ("failed",),
    "cancelled": ("cancelled",),
}


def lane_counts_from_column(stored: str | Mapping[str, int]) -> tuple[int, ...]:
    """A lane's queued jobs per priority as the policy reads them, from its
    `queued_by_priority` column: an object from priority to count, JSON text on SQLite and
    jsonb (read as a dict already) on PostgreSQL."""
    if isinstance(stored, str):
        return _parsed_lane_counts(stored)
    return counts_by_priority({int(priority): queued for priority, queued in stored.items()})


@functools.lru_cache(maxsize=4096)
def _parsed_lane_counts(stored: str) -> tuple[int, ...]:
    # Every claim reads every ready lane of its target, and a lane's text stays the same until
    # its counts move: parsed once per distinct text, reading the lanes costs what reading
    # integer columns did.
    return lane_counts_from_column(json.loads(stored))


def lane_counts_to_column(priorities: Iterable[int]) -> str:
    """The `queued_by_priority` column of jobs of these priorities (one per job)."""
    return json.dumps({str(priority): queued
                       for priority, queued in sorted(Counter(priorities).items())})


def job_from_row(row: Row) -> Job:
    return Job(
        job_id=row["id"],
        org_id=row["org_id"],
        app_version_id=row["app_version_id"],
        test_path=row["test_path"],
        target=row["target"],
        priority=row["priority"],
        group_key=row["group_key"],
        state=JobState(row["state"]),
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        infra_failures=row["infra_failures"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        retry_at=row["retry_at"],
        lease_id=row["lease_id"],
        agent_name=row["agent_name"],
        device_id=row["device_id"],
        cancel_requested=bool(row["cancel_requested"]),
        flaky=bool(row["flaky"]),
        error=row["error"],
        expected_seconds=row["expected_seconds"],
        last_device_id=row["last_device_id"],
        preemptions=row["preemptions"],
        preempt_requested=bool(row["preempt_requested"]),
    )


def job_to_params(job: Job) -> dict[str, Any]:
    """The mutable columns of a job, as the `update_job` query takes them."""
    return {
        "job_id": job.job_id,
        "state": job.state.value,
        "attempts": job.attempts,
        "infra_failures": job.infra_failures,
        "lease_id": job.lease_id,
        "agent_name": job.agent_name,
        "device_id": job.device_id,
        "last_device_id": job.last_device_id,
        "cancel_requested": int(job.cancel_requested),
        "preemptions": job.preemptions,
        "preempt_requested": int(job.preempt_requested),
        "flaky": int(job.flaky),
        "error": job.error,
        "updated_at": job.updated_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "retry_at": job.retry_at,
    }


def device_from_row(row: Row) -> Device:
    return Device(
        device_id=row["id"],
        agent_name=row["agent_name"],
        name=row["name"],
        target=row["target"],
        state=row["state"],
        holds_app_version_id=row["holds_app_version_id"],
        current_job_id=row["current_job_id"],
        last_seen_at=row["last_seen_at"],
        disabled_reason=row["disabled_reason"],
        disabled_at=row["disabled_at"],
        failure_streak=int(row["failure_streak"]),
        usage=DeviceUsage(float(row["busy_seconds"]), float(row["installing_seconds"]),
                          float(row["idle_seconds"]), float(row["idle_waiting_seconds"])),
    )


SIGNED_OFF = "signed_off"
"""How an agent session that signed off is stored: ended (it claims nothing more and no
heartbeat brings it back, as one taken over), unlike one marked offline for its silence. It
is shown as offline, as before."""


def agent_from_row(row: Row, devices: tuple[Device, ...],
                   draining_since: float | None = None) -> Agent:
    return Agent(
        agent_id=row["id"],
        name=row["name"],
        version=row["version"],
        executor=row["executor"],
        registered_at=row["registered_at"],
        last_seen_at=row["last_seen_at"],
        state="offline" if row["state"] == SIGNED_OFF else row["state"],
        devices=devices,
        draining_since=draining_since,
    )


def group_from_row(row: Row, job_ids: tuple[str, ...]) -> GroupSummary:
    counts = {
        status: sum(int(row[column]) for column in columns)
        for status, columns in PUBLIC_COUNT_COLUMNS.items()
    }
    return GroupSummary(
        group_key=row["group_key"],
        app_version_id=row["app_version_id"],
        target=row["target"],
        org_id=row["org_id"],
        counts=counts,
        job_ids=job_ids,
    )
