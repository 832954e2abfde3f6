"""The storage contract for reading history: a job's attempts, the device timeline, job
counts per state and the change marker live views poll."""

import pytest

from qgjob.domain.attempts import Outcome
from qgjob.domain.states import JobState
from qgjob.store.base import Store
from tests.factories import T0, new_job
from tests.store.helpers import claim, finish, register, start


def run_once(store: Store, agent: str, job_id: str, at: float, outcome: Outcome,
             device: str = "emulator-1", seconds: float = 5.0) -> str:
    batch = claim(store, agent, device, at=at).batch
    assert batch is not None and batch.jobs[0].job_id == job_id
    attempt = start(store, job_id, batch.lease.lease_id, at).attempts
    error = None if outcome is Outcome.PASSED else "assertion failed"
    finish(store, job_id, batch.lease.lease_id, attempt, outcome, at + seconds, error)
    return batch.lease.lease_id


def test_attempts_of_a_retried_job_in_order(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    agent = register(store)
    run_once(store, agent, job.job_id, T0 + 1, Outcome.FAILED)
    store.promote_due_retries(T0 + 100)
    run_once(store, agent, job.job_id, T0 + 101, Outcome.PASSED, seconds=3.0)
    attempts = store.job_attempts(job.job_id)
    assert [(a.attempt, a.outcome, a.error) for a in attempts] == [
        (1, "failed", "assertion failed"), (2, "passed", None)]
    assert (attempts[1].started_at, attempts[1].finished_at) == (T0 + 101, T0 + 104)
    assert attempts[0].device_id == "lab/emulator-1" and attempts[0].agent_name == "lab"
    assert store.job_attempts("unknown") == []


def test_a_running_attempt_has_no_end_yet(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    agent = register(store)
    batch = claim(store, agent, at=T0).batch
    assert batch is not None
    start(store, job.job_id, batch.lease.lease_id, T0 + 1)
    [attempt] = store.job_attempts(job.job_id)
    assert (attempt.finished_at, attempt.outcome) == (None, None)
    [run] = store.timeline(T0, T0 + 10, 100).runs
    assert run.attempt.finished_at is None and run.app_version_id == "xyz123"


@pytest.mark.parametrize(
    ("since", "until", "runs", "installs"),
    [
        (T0, T0 + 1000, ["old", "new"], ["xyz123", "other"]),  # everything
        (T0 + 50, T0 + 1000, ["new"], ["other"]),              # the old ones ended before
        (T0, T0 + 15, ["old"], ["xyz123"]),                    # the new ones began after
        (T0 + 1000, T0 + 2000, [], []),                        # a quiet hour
    ],
)
def test_the_timeline_window(store: Store, since: float, until: float, runs: list[str],
                             installs: list[str]) -> None:
    store.insert_jobs([new_job(job_id="old", at=T0),
                       new_job(job_id="new", app_version_id="other", at=T0 + 1)])
    agent = register(store)
    store.record_install(agent, "emulator-1", "xyz123", "emulator", T0, T0 + 10, True)
    run_once(store, agent, "old", T0 + 10, Outcome.PASSED)
    store.record_install(agent, "emulator-1", "other", "emulator", T0 + 60, T0 + 70, False)
    run_once(store, agent, "new", T0 + 70, Outcome.FAILED)
    seen = store.timeline(since, until, 100)
    assert [r.attempt.job_id for r in seen.runs] == runs
    assert [i.app_version_id for i in seen.installs] == installs
    assert all(i.device_id == "lab/emulator-1" for i in seen.installs)
    assert [i.ok for i in seen.installs] == [a == "xyz123" for a in installs]
    assert not seen.truncated


def test_the_timeline_keeps_the_newest_when_truncated(store: Store) -> None:
    jobs = store.insert_jobs([new_job(test_path=f"tests/{i}.spec.js") for i in range(5)])
    agent = register(store)
    lease = claim(store, agent, at=T0).batch.lease.lease_id  # type: ignore[union-attr]
    for i, job in enumerate(jobs[:4]):
        start(store, job.job_id, lease, T0 + 5 * i)
        finish(store, job.job_id, lease, 1, Outcome.PASSED, T0 + 5 * i + 4)
    seen = store.timeline(T0, T0 + 100, 2)
    assert seen.truncated
    assert [r.attempt.job_id for r in seen.runs] == [jobs[2].job_id, jobs[3].job_id]


def test_state_counts_follow_the_jobs(store: Store) -> None:
    assert set(store.state_counts().values()) == {0}
    jobs = store.insert_jobs([new_job(test_path=f"tests/{i}.spec.js") for i in range(3)])
    store.cancel_job(jobs[0].job_id, T0 + 1)
    agent = register(store)
    run_once(store, agent, jobs[1].job_id, T0 + 2, Outcome.PASSED)
    counts = store.state_counts()
    assert set(counts) == set(JobState)
    assert {s: n for s, n in counts.items() if n} == {
        JobState.CANCELLED: 1, JobState.COMPLETED: 1, JobState.ASSIGNED: 1}


def test_the_change_marker_moves_with_every_kind_of_change(store: Store) -> None:
    markers = [store.change_marker()]
    assert store.change_marker() == markers[-1]  # reading changes nothing
    [job] = store.insert_jobs([new_job()])
    markers.append(store.change_marker())
    agent = register(store, at=T0 + 1)
    markers.append(store.change_marker())
    store.record_install(agent, "emulator-1", "xyz123", "emulator", T0 + 1, T0 + 2, True)
    markers.append(store.change_marker())
    run_once(store, agent, job.job_id, T0 + 3, Outcome.PASSED)
    markers.append(store.change_marker())
    store.mark_agents_offline(seen_before=T0 + 100, now=T0 + 100)
    markers.append(store.change_marker())
    assert len(set(markers)) == len(markers)
