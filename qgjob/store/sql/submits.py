"""Putting submitted jobs in: a batch is a handful of statements whatever its size. Jobs go
in with one `run_many` (multi-row inserts on SQLite); each lane's and group's counters (and
the lane's head and oldest job) move once per lane and group, in key order so that concurrent
submits take those rows in the same order; replicas hear of the new work once per (target,
build). Idempotency keys are looked up for the whole batch at once. Runs inside the caller's
write transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qgjob.domain.models import Job, NewJob
from qgjob.domain.queue_order import ClaimKey, claim_key
from qgjob.domain.states import JobState
from qgjob.scheduler.durations import DEFAULT_SECONDS, price
from qgjob.store.base import IdempotencyKeyReused
from qgjob.store.rows import job_from_row, lane_counts_to_column
from qgjob.store.sql import runs
from qgjob.store.sql.claim_driver import SqlClaimDriver
from qgjob.store.sql.database import TransientConflict, Tx


def _lane_params(jobs: Sequence[NewJob], prices: dict[_Test, float]
                 ) -> dict[str, Any]:
    """One lane's share of a submit: its counts per priority, expected work, head (the job a
    claim takes next), oldest and newest job."""
    first = jobs[0]
    head = min(jobs, key=_claim_order)
    return {
        "group_key": first.group_key, "org_id": first.org_id, "target": first.target,
        "app_version_id": first.app_version_id,
        "queued_by_priority": lane_counts_to_column(job.priority for job in jobs),
        "queued": len(jobs),
        "expected_seconds": sum(prices[_test(job)] for job in jobs),
        "head_id": head.job_id, "head_priority": head.priority,
        "head_created_at": head.created_at,
        "oldest_created_at": min(job.created_at for job in jobs),
        "newest_created_at": max(job.created_at for job in jobs)}


def _claim_order(job: NewJob) -> ClaimKey:
    return claim_key(job.priority, job.created_at, job.job_id)


def insert(conn: Tx, jobs: Sequence[NewJob]) -> list[Job]:
    """The stored jobs, in the order given: new ones queued, and for an idempotency key seen
    before (in the database or earlier in this batch), the job it made. RunCancelled, storing
    nothing, when a new job names a run that was cancelled (a replayed one stays where it
    is)."""
    found = _by_idempotency_key(conn, jobs)
    fresh: list[NewJob] = []
    answer: list[Job | NewJob] = []
    for job in jobs:
        key = (job.org_id, job.idempotency_key or "")
        earlier = found.get(key) if job.idempotency_key else None
        if earlier is None:
            fresh.append(job)
            answer.append(job)
            if job.idempotency_key:
                found[key] = job
            continue
        if job.asks_otherwise_than(earlier):
            raise IdempotencyKeyReused(key[1], "job", earlier.job_id)
        answer.append(earlier)
    # The runs are locked before any lane or group row, as a run's cancel locks its run
    # before its jobs (SqlStore.cancel_run): one order, no deadlock.
    runs.refuse_if_cancelled(conn, {job.run_id for job in fresh if job.run_id is not None})
    prices = _prices(conn, {_test(job) for job in fresh})
    _count_in(conn, fresh, prices)
    if fresh:
        inserted = conn.run_many("insert_job", [_params(job, prices) for job in fresh])
        if inserted != len(fresh):  # another transaction took an idempotency key meanwhile
            raise TransientConflict("a concurrent submit used the same idempotency key")
    return [_queued(item, prices) if isinstance(item, NewJob) else item for item in answer]


_KeyOwner = dict[tuple[str, str], Job | NewJob]
"""The job an (org, idempotency key) already names."""


def _by_idempotency_key(conn: Tx, jobs: Sequence[NewJob]) -> _KeyOwner:
    keys_by_org: dict[str, set[str]] = {}
    for job in jobs:
        if job.idempotency_key:
            keys_by_org.setdefault(job.org_id, set()).add(job.idempotency_key)
    found: _KeyOwner = {}
    for org_id, keys in sorted(keys_by_org.items()):
        for row in conn.run("jobs_by_idempotency_keys",
                            {"org_id": org_id, "keys": conn.array(sorted(keys))}):
            found[(org_id, row["idempotency_key"])] = job_from_row(row)
    return found


_Test = tuple[str, str, str]
"""(org, test path, target): durations are learned per org, as two orgs' tests differ."""


def _test(job: NewJob) -> _Test:
    return (job.org_id, job.test_path, job.target)


def _prices(conn: Tx, tests: set[_Test]) -> dict[_Test, float]:
    """What each new job is priced with (`durations.price`): its test's mean duration on its
    target so far, else its means on the org's other targets, else its target's prior."""
    if not tests:
        return {}
    paths: dict[tuple[str, str], set[str]] = {}
    for org_id, test_path, target in tests:
        paths.setdefault((org_id, target), set()).add(test_path)
    known: dict[_Test, float] = {}
    elsewhere: dict[_Test, list[float]] = {}
    priors: dict[str, float] = {}
    for (org_id, target), names in sorted(paths.items()):
        for row in conn.run("test_durations_of", {"org_id": org_id, "target": target,
                                                  "test_paths": conn.array(sorted(names))}):
            known[(org_id, row["test_path"], target)] = float(row["mean_seconds"])
        unknown = sorted(name for name in names if (org_id, name, target) not in known)
        if not unknown:
            continue
        for row in conn.run("test_durations_elsewhere_of", {
                "org_id": org_id, "target": target, "test_paths": conn.array(unknown)}):
            elsewhere.setdefault((org_id, row["test_path"], target), []).append(
                float(row["mean_seconds"]))
        if target not in priors:
            priors[target] = SqlClaimDriver(conn).target_prior(target).mean(DEFAULT_SECONDS)
    return {test: price(known.get(test), elsewhere.get(test, []),
                        priors.get(test[2], DEFAULT_SECONDS)) for test in tests}


def _count_in(conn: Tx, jobs: Sequence[NewJob], prices: dict[_Test, float]) -> None:
    lanes: dict[tuple[str, str], list[NewJob]] = {}
    for job in jobs:
        lanes.setdefault((job.group_key, job.org_id), []).append(job)
    groups: dict[str, list[NewJob]] = {}
    announce: dict[tuple[str, str], int] = {}
    for members in lanes.values():
        groups.setdefault(members[0].group_key, []).extend(members)
        work = (members[0].target, members[0].app_version_id)
        announce[work] = announce.get(work, 0) + len(members)
    for group_key in sorted(groups):
        members = groups[group_key]
        first = min(members, key=_submitted_at)
        conn.run("add_queued_to_group", {
            "group_key": group_key, "target": first.group.target,
            "app_version_id": first.group.app_version_id, "org_id": first.group.org_id,
            "created_at": first.created_at, "now": max(map(_submitted_at, members)),
            "count": len(members)})
    for key in sorted(lanes):
        conn.run("add_queued_to_lane", _lane_params(lanes[key], prices))
    for (target, app_version_id), count in sorted(announce.items()):
        conn.run("work_queued", {"target": target, "app_version_id": app_version_id,
                                 "count": count})


def _submitted_at(job: NewJob) -> float:
    return job.created_at


def _params(job: NewJob, prices: dict[_Test, float]) -> dict[str, Any]:
    return {
        "job_id": job.job_id, "org_id": job.org_id, "app_version_id": job.app_version_id,
        "test_path": job.test_path, "target": job.target, "priority": job.priority,
        "group_key": job.group_key, "max_attempts": job.max_attempts,
        "expected_seconds": prices[_test(job)],
        "idempotency_key": job.idempotency_key, "created_at": job.created_at,
        "run_id": job.run_id,
    }


def _queued(job: NewJob, prices: dict[_Test, float]) -> Job:
    return Job(
        job_id=job.job_id, org_id=job.org_id, app_version_id=job.app_version_id,
        test_path=job.test_path, target=job.target, priority=job.priority,
        group_key=job.group_key, state=JobState.QUEUED, attempts=0,
        max_attempts=job.max_attempts, infra_failures=0,
        created_at=job.created_at, updated_at=job.created_at,
        expected_seconds=prices[_test(job)],
    )
