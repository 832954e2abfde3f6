"""Several servers on one PostgreSQL queue: work queued through one wakes claims waiting on
another, one of them runs maintenance, and devices claiming through many connections at once
never get the same job."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from qgjob.domain.attempts import Outcome
from qgjob.domain.states import JobState
from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.scheduler.views import FleetRules
from qgjob.store import open_store
from qgjob.store.base import JobFilter, LeaseLost, Store
from tests.factories import T0, new_job
from tests.postgres import fresh_schema
from tests.store.helpers import LEASE, finish, register

pytestmark = pytest.mark.postgres


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_schema() as url:
        yield url


def wait_for(predicate, seconds: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_work_queued_through_one_replica_wakes_the_others(url: str) -> None:
    first, second = open_store(url), open_store(url)
    heard_first: list[tuple[str, str, int]] = []
    heard_second: list[tuple[str, str, int]] = []
    try:
        first.watch_work(lambda *note: heard_first.append(note))
        second.watch_work(lambda *note: heard_second.append(note))
        time.sleep(0.3)  # the listeners are connected
        first.insert_jobs([new_job(app_version_id="v1", test_path=f"t{i}.spec.js")
                           for i in range(3)] + [new_job(app_version_id="v2", target="device")])
        assert wait_for(lambda: len(heard_second) == 2)  # once per (target, build), counted
        assert sorted(heard_second) == [("device", "v2", 1), ("emulator", "v1", 3)]
        assert heard_first == []  # its own server woke its waiters already
    finally:
        first.close()
        second.close()


def test_a_requeued_job_wakes_the_others_too(url: str) -> None:
    first, second = open_store(url), open_store(url)
    heard: list[tuple[str, str, int]] = []
    try:
        second.watch_work(lambda *note: heard.append(note))
        [job] = first.insert_jobs([new_job(app_version_id="v3")])
        agent = register(first)
        batch = first.claim_batch(agent, "emulator-1", None, time.time(), LEASE,
                                  FairAffinityPolicy(), FleetRules()).batch
        assert batch is not None
        heard.clear()
        first.release_jobs(batch.lease.lease_id, [job.job_id], time.time())
        assert wait_for(lambda: heard == [("emulator", "v3", 1)])
    finally:
        first.close()
        second.close()


def test_one_replica_at_a_time_runs_maintenance(url: str) -> None:
    first, second = open_store(url), open_store(url)
    try:
        assert first.leads_maintenance()
        assert not second.leads_maintenance()
        assert first.leads_maintenance()  # it keeps the lead
        first.close()  # its session ends: the lock passes on
        assert wait_for(second.leads_maintenance)
    finally:
        first.close()
        second.close()


def test_device_time_counted_by_one_leader_then_another_is_counted_once(url: str) -> None:
    """The lead passes on (or two passes overlap): each second goes to one count, and a
    replica whose clock is behind the last count adds nothing."""
    first, second = open_store(url), open_store(url)
    try:
        [job] = first.insert_jobs([new_job()])
        lab = register(first, "lab", at=T0)
        first.count_device_time(T0, 50.0)
        batch = first.claim_batch(lab, "emulator-1", "xyz123", T0 + 1, LEASE,
                                  FairAffinityPolicy(), FleetRules()).batch
        assert batch is not None
        first.start_attempt(job.job_id, batch.lease.lease_id, T0 + 1, FairAffinityPolicy(),
                            FleetRules())
        first.count_device_time(T0 + 10, 50.0)
        second.count_device_time(T0 + 9.5, 50.0)  # the next leader's clock is behind
        second.count_device_time(T0 + 20, 50.0)
        [device] = [d for a in second.list_agents() for d in a.devices]
        usage = device.usage
        assert (usage.busy_seconds, usage.installing_seconds, usage.idle_seconds) == \
            (19.0, 0.0, 1.0)
    finally:
        first.close()
        second.close()


def test_concurrent_claims_through_many_connections_never_share_a_job(url: str) -> None:
    """Eight replicas' worth of connections (two stores, four devices each), each device
    claiming, starting and finishing as fast as it can: every job runs exactly once."""
    stores = [open_store(url + "&pool_size=4") for _ in range(2)]
    jobs = [new_job(org_id=f"org{i % 3}", app_version_id=f"app{i % 5}",
                    test_path=f"tests/t{i}.spec.js", job_id=f"race{i:04d}")
            for i in range(400)]
    stores[0].insert_jobs(jobs)
    runs: Counter[str] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def device(store: Store, agent: str, name: str) -> None:
        policy, rules = FairAffinityPolicy(), FleetRules()
        holds = None
        try:
            while True:
                now = time.time()
                batch = store.claim_batch(agent, name, holds, now, LEASE, policy, rules).batch
                if batch is None:
                    return
                holds = batch.app_version_id
                for job in batch.jobs:
                    try:
                        started = store.start_attempt(job.job_id, batch.lease.lease_id,
                                                      time.time(), policy, rules)
                    except LeaseLost:
                        continue
                    with lock:
                        runs[job.job_id] += 1
                    finish(store, job.job_id, batch.lease.lease_id, started.attempts,
                           Outcome.PASSED, time.time())
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = []
    for s, store in enumerate(stores):
        for a in range(2):
            names = ",".join(f"emulator-{d}:emulator" for d in range(2))
            agent = register(store, name=f"lab{s}{a}", devices=names, at=time.time())
            threads += [threading.Thread(target=device, args=(store, agent, f"emulator-{d}"))
                        for d in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    try:
        assert errors == []
        assert set(runs) == {job.job_id for job in jobs}
        assert max(runs.values()) == 1
        final = stores[1].list_jobs(JobFilter(limit=1000))
        assert Counter(job.state for job in final) == {JobState.COMPLETED: len(jobs)}
        counted = Counter()
        for group in stores[1].groups(include_finished=True, limit=1000):
            counted.update(group.counts)
        assert counted["completed"] == len(jobs)
        assert counted["queued"] == counted["running"] == 0
    finally:
        for store in stores:
            store.close()
