"""Runs on every store: a run and its first jobs go in together; its counts, status, targets
and end are read from its jobs as they change; idempotency keys find the run again; pages of
runs go newest first with a cursor, filtered by org, build and status; cancelling a run
cancels what it still has to do and leaves what finished; a cancelled run takes no new
jobs (not even from a submit racing its cancel: tests/store/test_run_cancel_race.py), while a
run where only a job was cancelled does."""

from __future__ import annotations

import pytest

from qgjob.domain.attempts import Outcome, Verdict
from qgjob.domain.models import CaseResult, NewJob
from qgjob.domain.runs import NewRun, RunCounts, RunSource
from qgjob.domain.states import JobState
from qgjob.store.base import IdempotencyKeyReused, JobFilter, RunCancelled, RunFilter, Store
from tests.factories import T0, new_job
from tests.store.helpers import claim, finish, register, start


def _run(run_id: str = "run1", at: float = T0, **changes: object) -> NewRun:
    fields: dict[str, object] = {"org_id": "qualgent", "app_version_id": "xyz123",
                                 "name": f"suite {run_id}"}
    fields.update(changes)
    return NewRun(run_id=run_id, created_at=at, **fields)  # type: ignore[arg-type]


def _jobs(run_id: str, *paths: str, target: str = "emulator") -> list[NewJob]:
    return [new_job(test_path=p, run_id=run_id, target=target) for p in paths]


def test_a_run_and_its_jobs_go_in_together_and_count_from_the_jobs(store: Store) -> None:
    source = RunSource(repository="acme/app", workflow="ci", ci_run_id="42", ci_run_attempt=1,
                       commit_sha="abc123", branch="main", pull_request=7, url="https://x/42")
    run, jobs, created = store.insert_run(
        _run(source=source), _jobs("run1", "a.spec.js", "b.spec.js")
        + _jobs("run1", "c.spec.js", target="device"))
    assert created and len(jobs) == 3
    assert run.counts == RunCounts(queued=3) and run.status == "queued"
    assert run.targets == ("device", "emulator")
    stored = store.get_run("run1")
    assert stored is not None and stored.source == source and stored.name == "suite run1"

    lab = register(store, "lab")
    batch = claim(store, lab).batch
    assert batch is not None
    first, second = batch.jobs[:2]
    start(store, first.job_id, batch.lease.lease_id, T0 + 1)
    assert store.get_run("run1").status == "running"  # type: ignore[union-attr]
    finish(store, first.job_id, batch.lease.lease_id, 1, Outcome.PASSED, T0 + 2)
    start(store, second.job_id, batch.lease.lease_id, T0 + 3)
    store.finish_attempt(second.job_id, batch.lease.lease_id, 1, Outcome.FAILED, "boom", T0 + 4,
                         lambda job: Verdict(JobState.FAILED, "boom"),
                         cases=[CaseResult("logs in", "failed", 1.0, "boom", "b.spec.js"),
                                CaseResult("logs out", "passed", 0.5, None, "b.spec.js")])

    now = store.get_run("run1")
    assert now is not None
    assert now.counts == RunCounts(queued=1, passed=1, failed=1) and now.status == "running"
    assert now.finished_at is None and now.duration(T0 + 10) == 10
    assert store.run_cases("run1")[second.job_id][0].title == "logs in"
    assert [j.test_path for j in store.run_jobs("run1")] == ["a.spec.js", "b.spec.js",
                                                             "c.spec.js"]

    [cancelled] = store.cancel_run("run1", T0 + 5)
    assert cancelled.after.state is JobState.CANCELLED
    assert store.cancel_run("run1", T0 + 6) == []
    done = store.get_run("run1")
    assert done is not None and done.status == "failed" and done.finished_at == T0 + 5
    assert done.duration(T0 + 100) == 5


def test_an_idempotency_key_finds_the_run_and_stores_nothing_new(store: Store) -> None:
    _, jobs, created = store.insert_run(_run(idempotency_key="gh:1", name="ci"),
                                        _jobs("run1", "a.js"))
    again, found, created_again = store.insert_run(_run("run2", idempotency_key="gh:1",
                                                        name="ci"), _jobs("run2", "b.js"))
    assert created and not created_again
    assert again.run_id == "run1" and [j.job_id for j in found] == [jobs[0].job_id]
    assert store.get_run("run2") is None
    assert len(store.list_jobs(JobFilter(limit=10))) == 1


def test_an_idempotency_key_of_another_run_is_refused(store: Store) -> None:
    """Another build, name or re-run under a used key is IdempotencyKeyReused, storing
    nothing: giving back the key's run made the client submit into a run not its own."""
    store.insert_run(_run(idempotency_key="gh:1", name="ci"), _jobs("run1", "a.js"))
    for n, change in enumerate([{"app_version_id": "other"}, {"name": "ci 2"},
                                {"rerun_of": "run1", "attempt": 2}]):
        run_id = f"again{n}"
        with pytest.raises(IdempotencyKeyReused, match=r"another run \(run1\)"):
            store.insert_run(_run(run_id, idempotency_key="gh:1", **{"name": "ci", **change}),
                             _jobs(run_id, "b.js"))
        assert store.get_run(run_id) is None
    assert len(store.list_jobs(JobFilter(limit=10))) == 1


def test_the_insert_itself_refuses_new_jobs_into_a_cancelled_run(store: Store) -> None:
    """Only the API checked, before the submit and outside its transaction: a submit racing
    the run's cancel queued jobs into the cancelled run, and they ran. Jobs replayed by
    their idempotency keys still come back; new ones are refused, with anything submitted
    alongside them (all or none), and no lane counts them."""
    _, [kept], _ = store.insert_run(_run(), [new_job(test_path="a.js", run_id="run1",
                                                     idempotency_key="k1")])
    store.insert_run(_run("open"), _jobs("open", "a.js"))
    store.cancel_run("run1", T0 + 1)
    replay = new_job(test_path="a.js", run_id="run1", idempotency_key="k1")
    for jobs in (_jobs("run1", "b.js"), [replay, *_jobs("run1", "c.js")],
                 _jobs("open", "d.js") + _jobs("run1", "e.js") + [new_job(test_path="f.js")]):
        with pytest.raises(RunCancelled, match=r"^run 'run1' was cancelled \(cancelled\): it "
                                               r"takes no new jobs; submit them into a new run$"):
            store.insert_jobs(jobs)
    assert [j.test_path for j in store.run_jobs("run1")] == ["a.js"]
    assert store.get_run("run1").status == "cancelled"  # type: ignore[union-attr]
    assert len(store.list_jobs(JobFilter(limit=10))) == 2
    assert store.queued_jobs_of_org("qualgent") == 1  # the open run's

    [again] = store.insert_jobs([replay])
    assert again.job_id == kept.job_id and again.state is JobState.CANCELLED
    [more] = store.insert_jobs(_jobs("open", "g.js"))
    assert more.state is JobState.QUEUED


def test_a_run_cancelled_while_a_job_runs_takes_no_new_jobs(store: Store) -> None:
    """Its running job is only asked to stop (it finishes at its agent's next report), so
    by its jobs the run was still `running`: a submit then queued a job into it, and it
    never read cancelled again. The cancel is stored on the run, and its first time kept."""
    store.insert_run(_run(), _jobs("run1", "a.js"))
    batch = claim(store, register(store, "lab")).batch
    assert batch is not None
    start(store, batch.jobs[0].job_id, batch.lease.lease_id, T0 + 1)
    [asked] = store.cancel_run("run1", T0 + 2)
    assert asked.after.state is JobState.RUNNING and asked.after.cancel_requested
    run = store.get_run("run1")
    assert run is not None and run.status == "running" and run.cancelled_at == T0 + 2
    with pytest.raises(RunCancelled, match=r"^run 'run1' was cancelled \(running\)"):
        store.insert_jobs(_jobs("run1", "b.js"))
    store.cancel_run("run1", T0 + 3)
    assert store.get_run("run1").cancelled_at == T0 + 2  # type: ignore[union-attr]
    assert [j.test_path for j in store.run_jobs("run1")] == ["a.js"]
    assert store.queued_jobs_of_org("qualgent") == 0


def test_a_runs_cancel_moves_the_change_marker_while_its_job_still_runs(store: Store) -> None:
    """No job changed state (the running one is only asked to stop), so the marker stood
    still and a dashboard open on the run showed no cancel until that job stopped."""
    store.insert_run(_run(), _jobs("run1", "a.js"))
    batch = claim(store, register(store, "lab")).batch
    assert batch is not None
    start(store, batch.jobs[0].job_id, batch.lease.lease_id, T0 + 1)
    before = store.change_marker()
    store.cancel_run("run1", T0 + 2)
    assert store.change_marker() != before


def test_a_run_where_a_job_alone_was_cancelled_still_takes_jobs(store: Store) -> None:
    """Nobody cancelled the run: one of its jobs was (`cancel_job`), the others passed. By
    its jobs it looked cancelled and refused every later `qgjob submit --run`."""
    _, [alone, passing], _ = store.insert_run(_run(), _jobs("run1", "a.js", "b.js"))
    store.cancel_job(alone.job_id, T0 + 1)
    batch = claim(store, register(store, "lab")).batch
    assert batch is not None and [job.job_id for job in batch.jobs] == [passing.job_id]
    start(store, passing.job_id, batch.lease.lease_id, T0 + 2)
    finish(store, passing.job_id, batch.lease.lease_id, 1, Outcome.PASSED, T0 + 3)
    run = store.get_run("run1")
    assert run is not None and run.status == "cancelled" and run.cancelled_at is None
    [more] = store.insert_jobs(_jobs("run1", "c.js"))
    assert more.state is JobState.QUEUED


def test_runs_page_newest_first_by_org_build_and_status(store: Store) -> None:
    for n in range(5):
        store.insert_run(_run(f"r{n}", at=T0 + n, app_version_id="v1" if n % 2 else "v2"),
                         _jobs(f"r{n}", "a.js"))
    store.insert_run(_run("other", at=T0 + 9, org_id="acme"), _jobs("other", "a.js"))
    store.cancel_run("r3", T0 + 10)

    first = store.list_runs(RunFilter(org_id="qualgent", limit=2))
    assert [r.run_id for r in first.runs] == ["r4", "r3"] and first.next_after is not None
    second = store.list_runs(RunFilter(org_id="qualgent", limit=2, after=first.next_after))
    third = store.list_runs(RunFilter(org_id="qualgent", limit=2, after=second.next_after))
    assert [r.run_id for r in second.runs + third.runs] == ["r2", "r1", "r0"]
    assert third.next_after is None
    assert [r.run_id for r in store.list_runs(RunFilter(app_version_id="v1")).runs] == [
        "r3", "r1"]
    cancelled = store.list_runs(RunFilter(status="cancelled"))
    assert [r.run_id for r in cancelled.runs] == ["r3"] and cancelled.next_after is None
    queued = store.list_runs(RunFilter(status="queued", limit=3))
    assert [r.run_id for r in queued.runs] == ["other", "r4", "r2"]
    assert queued.next_after == (T0 + 2, "r2")
