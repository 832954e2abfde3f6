"""Fleet operations on every store: a drained agent's and an out-of-rotation device's claims
get no work, and nothing they held is lost; devices leave the rotation after repeated
failures and come back by hand; offline agents can be forgotten, live ones not; device time
is counted per state; the recorded history reads back for a trace."""

from __future__ import annotations

import pytest

from qgjob.domain.attempts import Outcome, Verdict, after_lost_device
from qgjob.domain.models import Device, Job
from qgjob.domain.states import JobState
from qgjob.store.base import AgentOnline, Store, UnknownAgent, UnknownDevice
from tests.factories import T0, new_job
from tests.store.helpers import RETRY, claim, finish, register, rescue, start

OFFLINE = 30.0


def _device(store: Store, device_id: str) -> Device:
    return next(d for a in store.list_agents() for d in a.devices if d.device_id == device_id)


def test_a_drained_agent_finishes_its_running_job_and_hands_back_the_rest(store: Store) -> None:
    jobs = store.insert_jobs([new_job(test_path=f"t{i}.js") for i in range(3)])
    lab = register(store, "lab")
    batch = claim(store, lab).batch
    assert batch is not None and len(batch.jobs) == 3
    running = start(store, batch.jobs[0].job_id, batch.lease.lease_id, T0 + 1)

    released = store.drain_agent("lab", T0 + 2)

    assert sorted(j.job_id for j in released) == sorted(j.job_id for j in batch.jobs[1:])
    assert all(j.state is JobState.QUEUED for j in released)
    [agent] = store.list_agents()
    assert agent.draining_since == T0 + 2
    finish(store, running.job_id, batch.lease.lease_id, 1, Outcome.PASSED, T0 + 3)
    assert store.get_job(running.job_id).state is JobState.COMPLETED  # type: ignore[union-attr]
    assert claim(store, lab, at=T0 + 4).batch is None  # no new work while drained
    other = register(store, "other", "emulator-9:emulator", at=T0 + 4)
    taken = claim(store, other, "emulator-9", at=T0 + 5).batch
    assert taken is not None
    assert {j.job_id for j in taken.jobs} == {j.job_id for j in jobs[1:]}


def test_a_drain_outlives_a_restart_until_undrained(store: Store) -> None:
    store.insert_jobs([new_job()])
    register(store, "lab", at=T0)
    store.drain_agent("lab", T0 + 1)
    again = register(store, "lab", at=T0 + 2, agent_id="agent-lab-2")
    assert claim(store, again, at=T0 + 3).batch is None
    assert store.undrain_agent("lab") is True
    assert store.undrain_agent("lab") is False
    assert claim(store, again, at=T0 + 4).batch is not None
    with pytest.raises(UnknownAgent):
        store.drain_agent("nobody", T0)


def test_failed_installs_in_a_row_take_a_device_out_until_enabled(store: Store) -> None:
    store.insert_jobs([new_job()])
    lab = register(store, "lab", "e1:emulator,e2:emulator")
    for i in range(2):
        assert store.record_install(lab, "e1", "xyz123", "emulator", T0 + i, T0 + i + 1,
                                    ok=False, failure_limit=3) is None
    store.record_install(lab, "e1", "xyz123", "emulator", T0 + 2, T0 + 3, ok=True,
                         failure_limit=3)  # a success starts the count again
    for _ in range(2):
        store.record_install(lab, "e1", "xyz123", "emulator", T0 + 4, T0 + 5, ok=False,
                             failure_limit=3)
    reason = store.record_install(lab, "e1", "xyz123", "emulator", T0 + 6, T0 + 7, ok=False,
                                  failure_limit=3)
    assert reason is not None and "3 failures in a row" in reason
    device = _device(store, "lab/e1")
    assert device.disabled_reason == reason and device.disabled_at == T0 + 7
    assert claim(store, lab, "e1", at=T0 + 8).batch is None
    assert claim(store, lab, "e2", at=T0 + 8).batch is not None  # its neighbour works

    store.enable_device("lab/e1")
    device = _device(store, "lab/e1")
    assert device.disabled_reason is None and device.failure_streak == 0
    with pytest.raises(UnknownDevice):
        store.enable_device("lab/nope")


def test_a_build_that_never_installed_takes_no_device_out(store: Store) -> None:
    lab = register(store, "lab", "e1:emulator,e2:emulator")
    for device in ("e1", "e2", "e1", "e2", "e1", "e2"):
        assert store.record_install(lab, device, "broken", "emulator", T0, T0 + 1, ok=False,
                                    failure_limit=2) is None
    assert all(d.disabled_reason is None for a in store.list_agents() for d in a.devices)


def test_lost_attempts_count_against_a_device(store: Store) -> None:
    lab = register(store, "lab")
    for round_ in range(2):
        at = T0 + 100 * round_
        store.insert_jobs([new_job(test_path=f"lost{round_}.js", at=at)])
        batch = claim(store, lab, at=at).batch
        assert batch is not None
        start(store, batch.jobs[0].job_id, batch.lease.lease_id, at + 1)
        store.rescue_expired_leases(at + 60, _lost, failure_limit=2)
    assert _device(store, "lab/emulator-1").disabled_reason is not None
    assert "lost job" in (_device(store, "lab/emulator-1").disabled_reason or "")
    rescue(store, T0 + 1000)  # no limit: nothing more happens


def _lost(job: Job) -> Verdict:
    return after_lost_device(job, "gone", RETRY)


def test_only_an_offline_agent_can_be_removed(store: Store) -> None:
    register(store, "lab", at=T0)
    with pytest.raises(AgentOnline, match="is online"):
        store.remove_agent("lab", T0 + 5, OFFLINE)
    store.mark_agents_offline(T0 + 1, T0 + 40)
    store.remove_agent("lab", T0 + 40, OFFLINE)
    assert store.list_agents() == []
    with pytest.raises(UnknownAgent):
        store.remove_agent("lab", T0 + 41, OFFLINE)


def test_device_time_is_counted_per_state_and_idle_while_work_waited(store: Store) -> None:
    lab = register(store, "lab", "e1:emulator,e2:emulator")
    store.count_device_time(T0, 5.0)  # registered at T0: nothing to count yet
    store.count_device_time(T0 + 2, 5.0)
    store.insert_jobs([new_job()])
    batch = claim(store, lab, "e1", at=T0 + 2).batch  # e1 installs; e2 idles, nothing waits
    assert batch is not None
    store.count_device_time(T0 + 4, 5.0)
    store.insert_jobs([new_job(app_version_id="other")])  # work waits; e2 stays idle
    store.count_device_time(T0 + 104, 5.0)  # a gap counts as at most max_step
    e1, e2 = _device(store, "lab/e1").usage, _device(store, "lab/e2").usage
    assert (e1.idle_seconds, e1.installing_seconds, e1.idle_waiting_seconds) == (2.0, 7.0, 0.0)
    assert (e2.idle_seconds, e2.idle_waiting_seconds) == (9.0, 5.0)
    assert e2.share(e2.idle_seconds) == 1.0


def test_device_time_is_what_the_install_and_attempt_records_say(store: Store) -> None:
    """Work shorter than a count's interval is counted, as the timeline shows it: an install
    from T0+2 to T0+7 (under way at the count at T0+5), a test from T0+7 to T0+12."""
    [job] = store.insert_jobs([new_job()])
    lab = register(store, "lab", "e1:emulator")
    store.count_device_time(T0, 50.0)
    batch = claim(store, lab, "e1", at=T0 + 2).batch
    assert batch is not None
    store.count_device_time(T0 + 5, 50.0)  # the install has no record until it ends
    store.record_install(lab, "e1", "xyz123", "emulator", T0 + 2, T0 + 7, ok=True)
    start(store, job.job_id, batch.lease.lease_id, T0 + 7)
    store.count_device_time(T0 + 9, 50.0)  # the test runs
    finish(store, job.job_id, batch.lease.lease_id, 1, Outcome.PASSED, T0 + 12)
    store.count_device_time(T0 + 20, 50.0)
    usage = _device(store, "lab/e1").usage
    assert (usage.busy_seconds, usage.installing_seconds, usage.idle_seconds) == (5.0, 5.0, 10.0)


def _install_and_run(store: Store, lab: str, job_id: str) -> None:
    """Device e1 claims the job at T0 + 1, installs for 2 s and runs it for 3 s."""
    batch = claim(store, lab, "e1", at=T0 + 1).batch
    assert batch is not None
    store.record_install(lab, "e1", "xyz123", "emulator", T0 + 1, T0 + 3, ok=True)
    start(store, job_id, batch.lease.lease_id, T0 + 3)
    finish(store, job_id, batch.lease.lease_id, 1, Outcome.PASSED, T0 + 6)


def test_short_work_between_two_counts_is_not_lost(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    lab = register(store, "lab", "e1:emulator")
    store.count_device_time(T0, 50.0)
    _install_and_run(store, lab, job.job_id)
    store.count_device_time(T0 + 10, 50.0)
    usage = _device(store, "lab/e1").usage
    assert (usage.busy_seconds, usage.installing_seconds, usage.idle_seconds) == (3.0, 2.0, 5.0)


def test_a_new_devices_time_counts_from_its_registration(store: Store) -> None:
    """As after `qgjob up`: the work comes before the first count that sees the device."""
    [job] = store.insert_jobs([new_job()])
    lab = register(store, "lab", "e1:emulator", at=T0)
    _install_and_run(store, lab, job.job_id)
    store.count_device_time(T0 + 10, 50.0)
    usage = _device(store, "lab/e1").usage
    assert (usage.busy_seconds, usage.installing_seconds, usage.idle_seconds) == (3.0, 2.0, 5.0)


def test_the_recording_holds_jobs_attempts_installs_and_devices(store: Store) -> None:
    [job] = store.insert_jobs([new_job(at=T0)])
    lab = register(store, "lab")
    batch = claim(store, lab, at=T0 + 1).batch
    assert batch is not None
    store.record_install(lab, "emulator-1", "xyz123", "emulator", T0 + 1, T0 + 5, ok=True)
    start(store, job.job_id, batch.lease.lease_id, T0 + 5)
    finish(store, job.job_id, batch.lease.lease_id, 1, Outcome.FAILED, T0 + 15)
    recording = store.recording(T0 - 1, T0 + 100)
    [recorded] = recording.jobs
    assert (recorded.job_id, recorded.created_at) == (job.job_id, T0)
    assert [(a.outcome, a.finished_at - a.started_at) for a in recorded.attempts  # type: ignore[operator]
            ] == [("failed", 10.0)]
    assert recording.install_seconds == {"emulator": 4.0}
    assert recording.devices == (("lab/emulator-1", "emulator"),)
    assert store.recording(T0 + 1, T0 + 100).jobs == ()
