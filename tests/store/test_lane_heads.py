"""Each lane's head (the job a claim takes next) and oldest job, kept by the triggers, always
match what the queue says, through submits, claims, hand-backs, starts, finishes, retries and
cancels; on PostgreSQL also while many connections churn the same lanes at once."""

from __future__ import annotations

import contextlib
import random
import threading
import time

import pytest

from qgjob.domain.attempts import Outcome
from qgjob.domain.states import JobState
from qgjob.scheduler.views import FleetRules
from qgjob.store import open_store
from qgjob.store.base import JobFilter, LeaseLost, Store
from tests.factories import T0, new_job
from tests.postgres import fresh_schema
from tests.store.helpers import LEASE, POLICY, RULES, finish, register, start


def lanes_as_stored(store: Store, now: float) -> dict[tuple[str, str], tuple[float, float]]:
    views = store.queue_views(now, FleetRules())
    return {lane.key: (lane.head_submitted_at, lane.oldest_submitted_at)
            for view in views for lane in view.lanes}


def lanes_from_the_queue(store: Store) -> dict[tuple[str, str], tuple[float, float]]:
    queued = store.list_jobs(JobFilter(states=frozenset({JobState.QUEUED}), limit=1000))
    by_lane: dict[tuple[str, str], list] = {}
    for job in queued:
        by_lane.setdefault((job.group_key, job.org_id), []).append(job)
    return {key: (min(jobs, key=lambda j: (-j.priority, j.created_at, j.job_id)).created_at,
                  min(j.created_at for j in jobs))
            for key, jobs in by_lane.items()}


def test_a_view_of_one_target_leaves_the_others_out(store: Store) -> None:
    store.insert_jobs([new_job(target="emulator"), new_job(target="device"),
                       new_job(app_version_id="other", target="device")])
    views = {view.device.target: view for view in store.queue_views(T0, FleetRules())}
    assert set(views) == {"emulator", "device"}
    [device] = store.queue_views(T0, FleetRules(), "device")
    assert device == views["device"]
    assert {lane.app_version_id for lane in device.lanes} == {"xyz123", "other"}
    assert store.queue_views(T0, FleetRules(), "browserstack") == []


def test_heads_follow_every_change(store: Store) -> None:
    rng = random.Random(3)
    agent = register(store, devices="emulator-1:emulator,emulator-2:emulator")
    now = T0
    for step in range(120):
        now += 1
        action = rng.random()
        if action < 0.4:
            store.insert_jobs([new_job(org_id=f"org{rng.randint(0, 1)}",
                                       app_version_id=f"v{rng.randint(0, 2)}",
                                       test_path=f"t{step}.spec.js",
                                       priority=rng.randint(1, 5), at=now - rng.uniform(0, 50))])
        else:
            device = f"emulator-{rng.randint(1, 2)}"
            batch = store.claim_batch(agent, device, None, now, LEASE, POLICY, RULES).batch
            if batch is not None:
                first, *rest = batch.jobs
                if action < 0.55:
                    store.release_jobs(batch.lease.lease_id, [j.job_id for j in batch.jobs], now)
                else:
                    started = start(store, first.job_id, batch.lease.lease_id, now)
                    outcome = Outcome.FAILED if action < 0.7 else Outcome.PASSED
                    finish(store, first.job_id, batch.lease.lease_id, started.attempts,
                           outcome, now)
                    if rest:  # else the lease ended with its one job
                        store.release_jobs(batch.lease.lease_id, [j.job_id for j in rest], now)
            if action > 0.95:
                queued = store.list_jobs(JobFilter(states=frozenset({JobState.QUEUED})))
                if queued:
                    store.cancel_job(rng.choice(queued).job_id, now)
        store.promote_due_retries(now + 100)
        assert lanes_as_stored(store, now) == lanes_from_the_queue(store), step


@pytest.mark.postgres
def test_heads_stay_right_under_concurrent_churn() -> None:
    with fresh_schema() as url:
        stores = [open_store(url) for _ in range(2)]
        try:
            stores[0].insert_jobs([new_job(org_id="org", app_version_id=f"v{i % 3}",
                                           test_path=f"t{i}.spec.js", priority=1 + i % 5,
                                           at=T0 + i, job_id=f"churn{i:04d}")
                                   for i in range(300)])
            errors: list[BaseException] = []

            def churn(store: Store, agent: str, device: str, seed: int) -> None:
                rng = random.Random(seed)
                try:
                    for _ in range(60):
                        now = time.time()
                        batch = store.claim_batch(agent, device, None, now, LEASE, POLICY,
                                                  RULES).batch
                        if batch is None:
                            continue
                        keep = batch.jobs[0] if rng.random() < 0.3 else None
                        if keep is not None:
                            try:
                                started = start(store, keep.job_id, batch.lease.lease_id, now)
                                finish(store, keep.job_id, batch.lease.lease_id,
                                       started.attempts, Outcome.PASSED, now)
                            except LeaseLost:
                                pass
                        # the lease ends with its last job, or by another's rescue
                        with contextlib.suppress(LeaseLost):
                            store.release_jobs(batch.lease.lease_id,
                                               [j.job_id for j in batch.jobs if j is not keep],
                                               now)
                except BaseException as error:
                    errors.append(error)

            threads = []
            for s, store in enumerate(stores):
                agent = register(store, name=f"lab{s}", at=time.time(),
                                 devices=",".join(f"emulator-{d}:emulator" for d in range(3)))
                threads += [threading.Thread(target=churn,
                                             args=(store, agent, f"emulator-{d}", 10 * s + d))
                            for d in range(3)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
            assert errors == []
            assert lanes_as_stored(stores[1], time.time()) == lanes_from_the_queue(stores[1])
        finally:
            for store in stores:
                store.close()
