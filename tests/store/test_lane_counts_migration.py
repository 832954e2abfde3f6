"""A database whose lanes counted their jobs in columns per priority (before SQLite's 0012 and
PostgreSQL's 0011) keeps its queue across the migration to one column of counts per lane: the
policy sees the same counts, a later submit to the lane adds to them, and every job is
claimed, in claim order."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from qgjob.domain.queue_order import claim_key
from qgjob.store import open_store
from qgjob.store.sql.database import Tx
from tests.factories import T0, new_job
from tests.postgres import BACKENDS, database_url
from tests.store.helpers import RULES, claim, insert_row, register, store_before

LAST_OLD = {"sqlite": 11, "postgres": 10}
"""Where each dialect's lanes still had queued_p1 … queued_p5."""
PRIORITIES = [1, 3, 3, 5, 2, 5, 4, 1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_queued_jobs_come_through_the_move_of_lane_counts(
        backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with database_url(backend, tmp_path) as url:
        with store_before(backend, url, LAST_OLD[backend], monkeypatch) as old:
            jobs = [new_job(test_path=f"tests/t{n}.spec.js", priority=p, at=T0 + n)
                    for n, p in enumerate(PRIORITIES)]
            with old._db.write() as tx:  # type: ignore[attr-defined]
                _submit_as_before(tx, jobs)
        with closing(open_store(url)) as store:  # migrated as it opens
            [view] = store.queue_views(T0 + 10, RULES)
            assert view.lanes[0].queued_by_priority == (2, 1, 2, 1, 2)
            later = new_job(test_path="tests/later.spec.js", priority=5, at=T0 + 9)
            store.insert_jobs([later])
            jobs.append(later)
            [view] = store.queue_views(T0 + 10, RULES)
            assert view.lanes[0].queued_by_priority == (2, 1, 2, 1, 3)
            assert sum(c.queued for c in store.queue_counts()) == len(jobs)
            agent = register(store, devices=",".join(f"emulator-{n}:emulator" for n in (1, 2, 3)),
                             at=T0 + 10)
            claimed = [job.job_id for device in ("emulator-1", "emulator-2", "emulator-3")
                       for job in claim(store, agent, device, at=T0 + 11).batch.jobs]
            in_order = sorted(jobs, key=lambda j: claim_key(j.priority, j.created_at, j.job_id))
            assert claimed == [job.job_id for job in in_order]
            assert store.queue_views(T0 + 12, RULES) == []


def _submit_as_before(tx: Tx, jobs: list) -> None:  # type: ignore[type-arg]
    """What a submit wrote before: the jobs, their group, and the lane with its counts in
    five columns."""
    for job in jobs:
        tx.run("insert_job", {
            "job_id": job.job_id, "org_id": job.org_id, "app_version_id": job.app_version_id,
            "test_path": job.test_path, "target": job.target, "priority": job.priority,
            "group_key": job.group_key, "max_attempts": job.max_attempts,
            "expected_seconds": 60.0, "idempotency_key": None, "created_at": job.created_at,
            "run_id": None})
    first = jobs[0]
    group = {"group_key": first.group_key, "target": first.target,
             "app_version_id": first.app_version_id, "org_id": first.org_id,
             "queued": len(jobs), "created_at": first.created_at,
             "updated_at": jobs[-1].created_at}
    insert_row(tx, "job_groups", group)
    head = min(jobs, key=lambda j: claim_key(j.priority, j.created_at, j.job_id))
    columns = {"group_key": first.group_key, "org_id": first.org_id, "target": first.target,
               "app_version_id": first.app_version_id,
               **{f"queued_p{p}": PRIORITIES.count(p) for p in range(1, 6)},
               "queued": len(jobs), "expected_seconds": 60.0 * len(jobs),
               "head_id": head.job_id, "head_priority": head.priority,
               "head_created_at": head.created_at, "oldest_created_at": first.created_at}
    insert_row(tx, "job_lanes", columns)
