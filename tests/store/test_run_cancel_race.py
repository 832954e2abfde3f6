"""A submit into a run racing the run's cancel, on every store: one transaction pauses
midway while the other starts, and neither order may leave a job queued in a cancelled run
(its jobs would run, and the run read `running` again). The cancel either waits and cancels
the new jobs too, or the submit waits and is refused. On PostgreSQL both lock the run's
row; SQLite's one writer serialises them anyway."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from qgjob.domain.models import Job
from qgjob.domain.runs import NewRun
from qgjob.domain.states import JobState
from qgjob.store.base import RunCancelled, Store, Transitioned
from qgjob.store.sql import store as sql_store
from qgjob.store.sql import submits
from tests.factories import T0, new_job

PAUSE_SECONDS = 5.0
"""Longest a paused transaction waits for the test to let it go (a hang is a failure)."""
RACE_SECONDS = 0.5
"""How long the racing call is given to get through while the other transaction is paused:
a call that has to wait (the fix) is still waiting then, and must be, or the race was not
run. On PostgreSQL it waits for the run's row lock; on SQLite for the store's write lock
(a Python lock, no timeout: SQLite's own busy timeout, 10 s, only covers other
processes)."""


class _Outcome:
    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None


def _in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, _Outcome]:
    outcome = _Outcome()

    def run() -> None:
        try:
            outcome.value = call()
        except BaseException as error:  # handed to the test
            outcome.error = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _race(first: Callable[[], Any], then: Callable[[], Any], monkeypatch: pytest.MonkeyPatch,
          module: object, pause_at: str, after: bool, waits: bool = True
          ) -> tuple[_Outcome, _Outcome]:
    """`first` in a thread, paused in its transaction at the first call of `module.pause_at`
    (before or `after` it runs); then `then` in another thread, given RACE_SECONDS to get
    through (it must not, or must if not `waits`); then `first` goes on. The outcomes of
    both."""
    reached, go = threading.Event(), threading.Event()
    real = getattr(module, pause_at)

    def paused(*args: Any, **kwargs: Any) -> Any:
        first_call = not reached.is_set()
        if first_call and not after:
            reached.set()
            go.wait(PAUSE_SECONDS)
        result = real(*args, **kwargs)
        if first_call and after:
            reached.set()
            go.wait(PAUSE_SECONDS)
        return result

    monkeypatch.setattr(module, pause_at, paused)
    leading, led = _in_thread(first)
    assert reached.wait(PAUSE_SECONDS)
    racing, raced = _in_thread(then)
    racing.join(RACE_SECONDS)
    blocked = racing.is_alive()
    go.set()
    leading.join(PAUSE_SECONDS)
    racing.join(PAUSE_SECONDS)
    assert not leading.is_alive() and not racing.is_alive()
    assert blocked == waits, ("the racing call got through while the other transaction was "
                              "paused" if waits else "the racing call waited")
    return led, raced


def _all_cancelled(store: Store) -> list[Job]:
    """The run's jobs once the race is over, checked all cancelled (none queued, counted in
    no lane)."""
    jobs = store.run_jobs("run1")
    assert {job.state for job in jobs} == {JobState.CANCELLED}
    assert store.get_run("run1").status == "cancelled"  # type: ignore[union-attr]
    assert store.queued_jobs_of_org("qualgent") == 0
    return jobs


@pytest.mark.parametrize("submit_first", [True, False], ids=["submit-first", "cancel-first"])
def test_no_order_leaves_a_job_queued_in_a_cancelled_run(
        store: Store, monkeypatch: pytest.MonkeyPatch, submit_first: bool) -> None:
    """Submit first: it found the run open and pauses before writing; the cancel must wait
    for it, then cancel its job too. Cancel first: it has cancelled the run's jobs but not
    committed; the submit must wait for it, then find the run cancelled."""
    store.insert_run(NewRun("run1", "qualgent", "xyz123", "ci", T0),
                     [new_job(test_path="a.js", run_id="run1")])

    def submit() -> list[Job]:
        return store.insert_jobs([new_job(test_path="b.js", run_id="run1", at=T0 + 1)])

    def cancel() -> list[Transitioned]:
        return store.cancel_run("run1", T0 + 2)

    if submit_first:
        submitted, cancelled = _race(submit, cancel, monkeypatch, submits, "_count_in",
                                     after=False)
    else:
        cancelled, submitted = _race(cancel, submit, monkeypatch, sql_store, "_cancel",
                                     after=True)
    assert cancelled.error is None
    if submit_first:
        assert submitted.error is None
    else:
        assert isinstance(submitted.error, RunCancelled), submitted.error
    jobs = _all_cancelled(store)
    assert [job.test_path for job in jobs] == (["a.js", "b.js"] if submit_first else ["a.js"])
    assert sorted(change.after.job_id for change in cancelled.value) == sorted(
        job.job_id for job in jobs)


def test_a_rerun_of_a_run_being_cancelled_does_not_wait_for_it(
        store: Store, store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's lock excludes a submit into it and its cancel, not a re-run naming it: the
    foreign key check of `runs.rerun_of` takes a key share lock, which waited for a
    FOR UPDATE lock (not for FOR NO KEY UPDATE)."""
    if not store_url.startswith("postgres"):
        pytest.skip("SQLite's one writer serialises every write transaction")
    store.insert_run(NewRun("run1", "qualgent", "xyz123", "ci", T0),
                     [new_job(test_path="a.js", run_id="run1")])

    def cancel() -> list[Transitioned]:
        return store.cancel_run("run1", T0 + 2)

    def rerun() -> Any:
        return store.insert_run(NewRun("run2", "qualgent", "xyz123", "ci", T0 + 1,
                                       rerun_of="run1", attempt=2), [])

    cancelled, reran = _race(cancel, rerun, monkeypatch, sql_store, "_cancel", after=True,
                             waits=False)
    assert cancelled.error is None and reran.error is None
    assert store.get_run("run2").rerun_of == "run1"  # type: ignore[union-attr]
