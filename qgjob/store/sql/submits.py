"""Putting submitted jobs in: a batch is a handful of statements whatever its size. Jobs go
in with one `executemany`; each lane's and group's counters (and the lane's head and oldest
job) move once per lane and group, in key order so that concurrent submits take those rows in
the same order; replicas hear of the new work once per (target, build). Idempotency keys are
looked up for the whole batch at once. Runs inside the caller's write transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qgjob.domain.models import Job, NewJob
from qgjob.domain.states import JobState
from qgjob.scheduler.durations import DEFAULT_SECONDS
from qgjob.store.base import Conflict
from qgjob.store.rows import job_from_row
from qgjob.store.sql.claims import target_prior
from qgjob.store.sql.database import TransientConflict, Tx


@dataclass
class _Lane:
    group_key: str
    org_id: str
    target: str
    app_version_id: str
    by_priority: list[int] = field(default_factory=lambda: [0] * 5)
    expected_seconds: float = 0.0
    head: NewJob | None = None
    oldest: float | None = None

    def add(self, job: NewJob, seconds: float) -> None:
        self.by_priority[job.priority - 1] += 1
        self.expected_seconds += seconds
        if self.head is None or _ahead(job, self.head):
            self.head = job
        if self.oldest is None or job.created_at < self.oldest:
            self.oldest = job.created_at

    def params(self) -> dict[str, Any]:
        assert self.head is not None
        return {
            "group_key": self.group_key, "org_id": self.org_id, "target": self.target,
            "app_version_id": self.app_version_id,
            **{f"p{n}": count for n, count in enumerate(self.by_priority, start=1)},
            "queued": sum(self.by_priority), "expected_seconds": self.expected_seconds,
            "head_id": self.head.job_id, "head_priority": self.head.priority,
            "head_created_at": self.head.created_at, "oldest_created_at": self.oldest}


def _ahead(job: NewJob, other: NewJob) -> bool:
    """The order a lane's jobs are claimed in: higher priority, then older, then lower id."""
    return (-job.priority, job.created_at, job.job_id) < \
        (-other.priority, other.created_at, other.job_id)


def insert(conn: Tx, jobs: Sequence[NewJob]) -> list[Job]:
    """The stored jobs, in the order given: new ones queued, and for an idempotency key seen
    before (in the database or earlier in this batch), the job it made."""
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
        if (earlier.app_version_id, earlier.test_path, earlier.target) != (
                job.app_version_id, job.test_path, job.target):
            raise Conflict(f"Idempotency-Key {job.idempotency_key!r} was already used for "
                           f"another job ({earlier.job_id})")
        answer.append(earlier)
    prices = _prices(conn, {(job.test_path, job.target) for job in fresh})
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


def _prices(conn: Tx, tests: set[tuple[str, str]]) -> dict[tuple[str, str], float]:
    """What each new job is priced with: its test's mean duration so far, else its target's
    prior."""
    if not tests:
        return {}
    paths_by_target: dict[str, set[str]] = {}
    for test, target in tests:
        paths_by_target.setdefault(target, set()).add(test)
    known: dict[tuple[str, str], float] = {}
    priors: dict[str, float] = {}
    for target, paths in sorted(paths_by_target.items()):
        for row in conn.run("test_durations_of",
                            {"target": target, "test_paths": conn.array(sorted(paths))}):
            known[(row["test_path"], target)] = float(row["mean_seconds"])
        if any((path, target) not in known for path in paths):
            priors[target] = target_prior(conn, target).mean(DEFAULT_SECONDS)
    return {pair: known.get(pair, priors.get(pair[1], DEFAULT_SECONDS)) for pair in tests}


def _count_in(conn: Tx, jobs: Sequence[NewJob], prices: dict[tuple[str, str], float]) -> None:
    lanes: dict[tuple[str, str], _Lane] = {}
    groups: dict[str, tuple[NewJob, int, float]] = {}
    announce: dict[tuple[str, str], int] = {}
    for job in jobs:
        lane = lanes.get((job.group_key, job.org_id))
        if lane is None:
            lane = lanes[(job.group_key, job.org_id)] = _Lane(
                job.group_key, job.org_id, job.target, job.app_version_id)
        lane.add(job, prices[(job.test_path, job.target)])
        first, count, newest = groups.get(job.group_key, (job, 0, job.created_at))
        groups[job.group_key] = (first if first.created_at <= job.created_at else job,
                                 count + 1, max(newest, job.created_at))
        work = (job.target, job.app_version_id)
        announce[work] = announce.get(work, 0) + 1
    for group_key in sorted(groups):
        first, count, newest = groups[group_key]
        conn.run("add_queued_to_group", {
            "group_key": group_key, "target": first.group.target,
            "app_version_id": first.group.app_version_id, "org_id": first.group.org_id,
            "created_at": first.created_at, "now": newest, "count": count})
    for key in sorted(lanes):
        conn.run("add_queued_to_lane", lanes[key].params())
    for (target, app_version_id), count in sorted(announce.items()):
        conn.run("work_queued", {"target": target, "app_version_id": app_version_id,
                                 "count": count})


def _params(job: NewJob, prices: dict[tuple[str, str], float]) -> dict[str, Any]:
    return {
        "job_id": job.job_id, "org_id": job.org_id, "app_version_id": job.app_version_id,
        "test_path": job.test_path, "target": job.target, "priority": job.priority,
        "group_key": job.group_key, "max_attempts": job.max_attempts,
        "expected_seconds": prices[(job.test_path, job.target)],
        "idempotency_key": job.idempotency_key, "created_at": job.created_at,
    }


def _queued(job: NewJob, prices: dict[tuple[str, str], float]) -> Job:
    return Job(
        job_id=job.job_id, org_id=job.org_id, app_version_id=job.app_version_id,
        test_path=job.test_path, target=job.target, priority=job.priority,
        group_key=job.group_key, state=JobState.QUEUED, attempts=0,
        max_attempts=job.max_attempts, infra_failures=0,
        created_at=job.created_at, updated_at=job.created_at,
        expected_seconds=prices[(job.test_path, job.target)],
    )
