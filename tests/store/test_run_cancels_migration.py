"""A database from before runs stored their cancel (SQLite's 0016, PostgreSQL's 0015): a run
was judged cancelled by its jobs (none unfinished, some cancelled), so those runs get a
`cancelled_at` on migrating (their last cancelled job's end) and stay refused; the others
get none and take new jobs, as they did."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from qgjob.domain.states import JobState
from qgjob.store import open_store
from qgjob.store.base import RunCancelled
from qgjob.store.sql.database import Tx
from tests.factories import T0, new_job
from tests.postgres import BACKENDS, database_url
from tests.store.helpers import store_before

LAST_OLD = {"sqlite": 15, "postgres": 14}
"""The last migration of each dialect before runs.cancelled_at."""
RUNS: dict[str, list[tuple[JobState, float | None]]] = {
    "cancelled": [(JobState.COMPLETED, T0 + 9), (JobState.CANCELLED, T0 + 5),
                  (JobState.CANCELLED, T0 + 6)],
    "cancelled-after-a-failure": [(JobState.FAILED, T0 + 3), (JobState.CANCELLED, T0 + 4)],
    "passed": [(JobState.COMPLETED, T0 + 2)],
    "still-running": [(JobState.CANCELLED, T0 + 2), (JobState.RUNNING, None)],
    "empty": [],
}
"""Each run's jobs as (state, finished at)."""


@pytest.mark.parametrize("backend", BACKENDS)
def test_runs_cancelled_by_their_jobs_stay_cancelled(
        backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with database_url(backend, tmp_path) as url:
        with store_before(backend, url, LAST_OLD[backend], monkeypatch) as old, \
                old._db.write() as tx:  # type: ignore[attr-defined]
            _runs_as_before(tx)
        with closing(open_store(url)) as store:  # migrated as it opens
            cancelled_at = {run_id: store.get_run(run_id).cancelled_at  # type: ignore[union-attr]
                            for run_id in RUNS}
            assert cancelled_at == {"cancelled": T0 + 6, "cancelled-after-a-failure": T0 + 4,
                                    "passed": None, "still-running": None, "empty": None}
            for run_id in ("cancelled", "cancelled-after-a-failure"):
                with pytest.raises(RunCancelled):
                    store.insert_jobs([new_job(test_path="new.js", run_id=run_id)])
            for run_id in ("passed", "still-running", "empty"):
                [job] = store.insert_jobs([new_job(test_path="new.js", run_id=run_id)])
                assert job.state is JobState.QUEUED


def _runs_as_before(tx: Tx) -> None:
    """Runs and their jobs' rows as an earlier release left them."""
    for run_id, jobs in RUNS.items():
        tx.run("insert_run", {
            "run_id": run_id, "org_id": "qualgent", "app_version_id": "xyz123",
            "name": run_id, "repository": None, "workflow": None, "ci_run_id": None,
            "ci_run_attempt": None, "commit_sha": None, "branch": None, "pull_request": None,
            "url": None, "rerun_of": None, "attempt": 1, "idempotency_key": None,
            "created_at": T0})
        for n, (state, finished_at) in enumerate(jobs):
            job = new_job(test_path=f"t{n}.js", run_id=run_id)
            tx.run("insert_job", {
                "job_id": job.job_id, "org_id": job.org_id, "app_version_id": job.app_version_id,
                "test_path": job.test_path, "target": job.target, "priority": job.priority,
                "group_key": job.group_key, "max_attempts": job.max_attempts,
                "expected_seconds": 60.0, "idempotency_key": None, "created_at": T0,
                "run_id": run_id})
            tx.run_sql(f"UPDATE jobs SET state = {tx.param('state')}, "
                       f"finished_at = {tx.param('finished_at')} WHERE id = {tx.param('id')}",
                       {"state": state.value, "finished_at": finished_at, "id": job.job_id})
