"""A database from before groups and lanes kept their newest submit (SQLite's 0013 and 0014,
PostgreSQL's 0012 and 0013) gets both from its jobs on migrating: builds submitted together
just before an upgrade still count as a batch after it, and a lane still being submitted
says so; later submits keep both up to date."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import pytest

from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.store import open_store
from qgjob.store.sql.database import Tx
from tests.factories import T0, new_job
from tests.postgres import BACKENDS, database_url
from tests.store.helpers import LEASE, RULES, insert_row, register, store_before

LAST_OLD = {"sqlite": 12, "postgres": 11}
"""The last migration of each dialect before job_groups.submitted_at."""
SUBMITS = [("old", T0), ("a", T0), ("a", T0 + 101), ("b", T0 + 102), ("c", T0 + 103)]
"""(app, submitted at): "old" came long before the others; "a" began with it and ended
with them."""


@pytest.mark.parametrize("backend", BACKENDS)
def test_groups_and_lanes_learn_their_newest_submit_from_their_jobs(
        backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with database_url(backend, tmp_path) as url:
        with store_before(backend, url, LAST_OLD[backend], monkeypatch) as old, \
                old._db.write() as tx:  # type: ignore[attr-defined]
            _submit_as_before(tx, jsonb="::jsonb" if backend == "postgres" else "")
        with closing(open_store(url)) as store:  # migrated as it opens
            with store._db.read() as tx:  # type: ignore[attr-defined]
                counted = tx.run("builds_submitted_since",
                                 {"since": T0 + 103 - 60, "limit": 32}).fetchone()["n"]
            assert counted == 3  # a (by its newest job), b and c; not "old"
            [view] = store.queue_views(T0 + 104, RULES)
            assert {lane.app_version_id: lane.newest_submitted_at for lane in view.lanes} == {
                "old": T0, "a": T0 + 101, "b": T0 + 102, "c": T0 + 103}
            store.insert_jobs([new_job(app_version_id="old", at=T0 + 104)])
            agent = register(store, devices="emulator-1:emulator", at=T0 + 105)
            view = store.claim_batch(agent, "emulator-1", None, T0 + 105, LEASE,
                                     FairAffinityPolicy(), RULES).context
            assert view is not None and view.builds_together == 4  # "old" again, just now
            assert {lane.app_version_id: lane.newest_submitted_at
                    for lane in view.lanes}["old"] == T0 + 104


def _submit_as_before(tx: Tx, jsonb: str) -> None:
    """Jobs and their groups' and lanes' rows as a submit wrote them before the columns."""
    heads: dict[str, str] = {}
    for n, (app, at) in enumerate(SUBMITS):
        job = new_job(app_version_id=app, test_path=f"tests/t{n}.spec.js", at=at)
        heads.setdefault(app, job.job_id)  # submits are in time order: the first is the head
        tx.run("insert_job", {
            "job_id": job.job_id, "org_id": job.org_id, "app_version_id": app,
            "test_path": job.test_path, "target": job.target, "priority": job.priority,
            "group_key": job.group_key, "max_attempts": job.max_attempts,
            "expected_seconds": 60.0, "idempotency_key": None, "created_at": at,
            "run_id": None})
    for app in dict.fromkeys(app for app, _ in SUBMITS):
        times = [at for each, at in SUBMITS if each == app]
        job = new_job(app_version_id=app)
        group = {"group_key": job.group_key, "target": job.target, "app_version_id": app,
                 "org_id": job.org_id, "queued": len(times), "created_at": min(times),
                 "updated_at": max(times)}
        insert_row(tx, "job_groups", group)
        lane = {"group_key": job.group_key, "org_id": job.org_id, "target": job.target,
                "app_version_id": app, "queued_by_priority": json.dumps({"3": len(times)}),
                "queued": len(times), "expected_seconds": 60.0 * len(times),
                "head_id": heads[app], "head_priority": job.priority,
                "head_created_at": min(times), "oldest_created_at": min(times)}
        insert_row(tx, "job_lanes", lane, casts={"queued_by_priority": jsonb})
