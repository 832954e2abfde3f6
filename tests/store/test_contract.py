"""The storage contract: what every store must do, observed through the Store interface."""

import random

import pytest

from qgjob.domain.attempts import Outcome, RetryPolicy, after_attempt
from qgjob.domain.states import JobState
from qgjob.store.base import (
    Conflict,
    DeviceReport,
    JobFilter,
    JobFinished,
    LeaseLost,
    NotFound,
    Store,
)
from tests.factories import BRIEF_EXAMPLE, T0, new_job
from tests.store.helpers import (
    LEASE,
    POLICY,
    QUIET,
    RULES,
    claim,
    finish,
    register,
    rescue,
    start,
)

S = JobState


def submit_brief_example(store: Store, per_org: bool = False) -> list[str]:
    jobs = [new_job(org, app, test, target, at=T0 + i, per_org=per_org)
            for i, (org, app, test, target) in enumerate(BRIEF_EXAMPLE)]
    return [j.job_id for j in store.insert_jobs(jobs)]


# jobs -----------------------------------------------------------------------------------------

def test_inserted_jobs_are_queued_and_readable(store: Store) -> None:
    [job] = store.insert_jobs([new_job(job_id="a1")])
    assert job.state is S.QUEUED
    assert store.get_job("a1") == job
    assert store.get_job("missing") is None


def test_listing_is_newest_first_and_filters(store: Store) -> None:
    ids = submit_brief_example(store)
    assert [j.job_id for j in store.list_jobs(JobFilter())] == ids[::-1]
    acme = store.list_jobs(JobFilter(org_id="acme"))
    assert [j.job_id for j in acme] == [ids[4]]
    devices = store.list_jobs(JobFilter(target="device"))
    assert [j.job_id for j in devices] == [ids[2]]
    assert len(store.list_jobs(JobFilter(limit=2))) == 2
    picked = store.list_jobs(JobFilter(job_ids=(ids[0], ids[3], "nope")))
    assert {j.job_id for j in picked} == {ids[0], ids[3]}
    queued = store.list_jobs(JobFilter(states=frozenset({S.QUEUED, S.ASSIGNED})))
    assert len(queued) == 5


def test_a_build_filter_matches_part_of_the_id_in_any_case(store: Store) -> None:
    store.insert_jobs([new_job(job_id=f"j{n}", app_version_id=build) for n, build in
                       enumerate(["release-2.4.1", "Release-2.5.0", "debug_2.4", "rc%1"])])

    def matching(text: str) -> set[str]:
        found = store.list_jobs(JobFilter(app_version_id_contains=text))
        return {job.app_version_id for job in found}

    assert matching("2.4") == {"release-2.4.1", "debug_2.4"}
    assert matching("RELEASE") == {"release-2.4.1", "Release-2.5.0"}
    assert matching("_") == {"debug_2.4"}  # taken literally, not as a wildcard
    assert matching("%") == {"rc%1"}


def test_same_idempotency_key_gives_the_same_job(store: Store) -> None:
    [first] = store.insert_jobs([new_job(idempotency_key="run-7-login")])
    [again] = store.insert_jobs([new_job(idempotency_key="run-7-login")])
    assert again.job_id == first.job_id
    assert len(store.list_jobs(JobFilter())) == 1


def test_groups_of_the_brief_example(store: Store) -> None:
    ids = submit_brief_example(store)
    groups = {(g.app_version_id, g.target): g for g in store.groups(False, 100)}
    assert set(groups) == {("xyz123", "emulator"), ("xyz123", "device"), ("xyz999", "emulator")}
    assert list(groups["xyz123", "emulator"].job_ids) == [ids[0], ids[1], ids[4]]
    assert groups["xyz123", "emulator"].counts["queued"] == 3
    assert list(groups["xyz999", "emulator"].job_ids) == [ids[3]]


def test_groups_per_org(store: Store) -> None:
    submit_brief_example(store, per_org=True)
    keys = {(g.org_id, g.app_version_id, g.target) for g in store.groups(False, 100)}
    assert ("acme", "xyz123", "emulator") in keys
    assert ("qualgent", "xyz123", "emulator") in keys
    assert len(keys) == 4


def test_finished_groups_show_only_when_asked(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    store.cancel_job(job.job_id, T0 + 1)
    assert store.groups(False, 100) == []
    [finished] = store.groups(True, 100)
    assert finished.counts["cancelled"] == 1


def test_cancel_queued_job(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    change = store.cancel_job(job.job_id, T0 + 1)
    assert change.after.state is S.CANCELLED
    with pytest.raises(JobFinished, match="already cancelled"):
        store.cancel_job(job.job_id, T0 + 2)
    with pytest.raises(NotFound):
        store.cancel_job("missing", T0)


def test_queue_counts(store: Store) -> None:
    submit_brief_example(store)
    counts = {(c.target, c.org_id): c.queued for c in store.queue_counts()}
    assert counts == {("emulator", "qualgent"): 3, ("device", "qualgent"): 1,
                      ("emulator", "acme"): 1}


def test_queued_jobs_of_an_org_are_those_waiting_in_line(store: Store) -> None:
    submit_brief_example(store)
    assert store.queued_jobs_of_org("qualgent") == 4
    assert store.queued_jobs_of_org("nobody") == 0
    [acme_job] = store.list_jobs(JobFilter(org_id="acme"))
    store.cancel_job(acme_job.job_id, T0 + 1)
    assert store.queued_jobs_of_org("acme") == 0


def test_queue_counts_follow_every_state(store: Store) -> None:
    jobs = [new_job(org, "xyz123", f"tests/t{n}.spec.js", target, priority=1 + n % 5,
                    at=T0 + n)
            for n, (org, target) in enumerate([("qualgent", "emulator"), ("acme", "emulator"),
                                               ("acme", "device")] * 4)]
    store.insert_jobs(jobs)
    agent = register(store)
    batch = claim(store, agent, at=T0 + 20).batch
    assert batch is not None and len(batch.jobs) >= 3
    lease = batch.lease.lease_id
    _, retried, done = (start(store, j.job_id, lease, T0 + 21) for j in batch.jobs[:3])
    finish(store, retried.job_id, lease, 1, Outcome.FAILED, T0 + 22, "flaky")
    finish(store, done.job_id, lease, 1, Outcome.PASSED, T0 + 22)
    store.cancel_job(jobs[-1].job_id, T0 + 23)
    everything = store.list_jobs(JobFilter(limit=1000))
    states = {j.state for j in everything}
    assert {S.QUEUED, S.ASSIGNED, S.RUNNING, S.RETRY_WAIT, S.COMPLETED, S.CANCELLED} <= states
    expected: dict[tuple[int, str, str], list[int]] = {}
    for job in everything:
        if job.state.is_final:
            continue
        count = expected.setdefault((job.priority, job.target, job.org_id), [0, 0])
        count[job.state is S.RUNNING] += 1
    assert {(c.priority, c.target, c.org_id): [c.queued, c.running]
            for c in store.queue_counts()} == expected


def test_finishing_an_attempt_says_how_long_it_ran(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    agent = register(store)
    batch = claim(store, agent, at=T0 + 1).batch
    assert batch is not None
    start(store, job.job_id, batch.lease.lease_id, T0 + 2)
    change = finish(store, job.job_id, batch.lease.lease_id, 1, Outcome.PASSED, T0 + 9.5)
    assert change.after.state is S.COMPLETED and change.attempt_seconds == 7.5
    again = finish(store, job.job_id, batch.lease.lease_id, 1, Outcome.PASSED, T0 + 10)
    assert again.before is again.after and again.attempt_seconds is None  # delivered twice


# the claim path -------------------------------------------------------------------------------

def test_claim_hands_a_batch_of_one_group_in_priority_order(store: Store) -> None:
    low = new_job(test_path="tests/a.spec.js", priority=1, at=T0)
    high = new_job(test_path="tests/b.spec.js", priority=5, at=T0 + 1)
    other = new_job(app_version_id="other", priority=3, at=T0 + 2)
    store.insert_jobs([low, high, other])
    agent = register(store)
    batch = claim(store, agent, at=T0 + 3).batch
    assert batch is not None
    assert batch.app_version_id == "xyz123"
    assert [j.job_id for j in batch.jobs] == [high.job_id, low.job_id]
    assert all(j.state is S.ASSIGNED and j.device_id == "lab/emulator-1" for j in batch.jobs)
    assert batch.lease.expires_at == T0 + 3 + LEASE


def test_a_claim_naming_another_target_changes_nothing(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    agent = register(store)
    first = claim(store, agent, at=T0 + 1).batch
    assert first is not None
    with pytest.raises(Conflict, match="registered for target 'emulator', not 'device'"):
        store.claim_batch(agent, "emulator-1", None, T0 + 2, LEASE, POLICY, RULES, "device")
    assert rescue(store, T0 + 2.5) == []  # the device's lease was not ended
    again = store.claim_batch(agent, "emulator-1", None, T0 + 3, LEASE, POLICY, RULES,
                              "emulator")
    assert again.batch is None  # asking for work ends the earlier batch's lease
    assert [change.after.job_id for change in rescue(store, T0 + 3.5)] == [job.job_id]


def test_claim_only_for_the_device_target(store: Store) -> None:
    store.insert_jobs([new_job(target="device")])
    agent = register(store)
    assert claim(store, agent).batch is None


def test_claim_prefers_the_app_the_device_holds(store: Store) -> None:
    older = new_job(app_version_id="first", at=T0)
    held = new_job(app_version_id="held", at=T0 + 5)
    store.insert_jobs([older, held])
    agent = register(store)
    batch = claim(store, agent, holds="held", at=T0 + 6).batch
    assert batch is not None and batch.app_version_id == "held"


def test_a_claimed_job_is_never_claimed_twice(store: Store) -> None:
    store.insert_jobs([new_job(test_path=f"tests/{i}.spec.js") for i in range(6)])
    agent = register(store, devices="emulator-1:emulator,emulator-2:emulator,emulator-3:emulator")
    seen: list[str] = []
    for device in ("emulator-1", "emulator-2", "emulator-3", "emulator-1"):
        result = claim(store, agent, device=device)
        seen += [j.job_id for j in result.batch.jobs] if result.batch else []
    assert len(seen) == len(set(seen)) == 6


def test_claim_by_an_unknown_device_says_register_again(store: Store) -> None:
    with pytest.raises(NotFound, match="register again"):
        claim(store, "no-such-agent")


def test_run_a_job_to_completion(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    agent = register(store)
    batch = claim(store, agent, at=T0 + 1).batch
    assert batch is not None
    started = start(store, job.job_id, batch.lease.lease_id, T0 + 2)
    assert (started.state, started.attempts, started.started_at) == (S.RUNNING, 1, T0 + 2)
    done = finish(store, job.job_id, batch.lease.lease_id, 1, Outcome.PASSED, T0 + 9).after
    assert (done.state, done.finished_at, done.device_id) == (S.COMPLETED, T0 + 9,
                                                               "lab/emulator-1")
    assert store.groups(True, 10)[0].counts["completed"] == 1


def test_failed_attempt_waits_then_is_queued_again(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    agent = register(store)
    lease = claim(store, agent).batch.lease.lease_id  # type: ignore[union-attr]
    start(store, job.job_id, lease, T0)
    after = finish(store, job.job_id, lease, 1, Outcome.FAILED, T0 + 5, "assertion").after
    assert after.state is S.RETRY_WAIT and after.retry_at == pytest.approx(T0 + 7)
    assert after.error == "assertion"
    assert store.promote_due_retries(T0 + 6.5) == []
    [promoted] = store.promote_due_retries(T0 + 7)
    assert promoted.state is S.QUEUED
    again = claim(store, agent, at=T0 + 8).batch
    assert again is not None and again.jobs[0].job_id == job.job_id


def test_with_no_backoff_a_failed_attempt_is_claimable_at_once(store: Store) -> None:
    # The server's default (QGJOB_RETRY_BASE_SECONDS=0): no wait, no maintenance pass.
    [job] = store.insert_jobs([new_job()])
    agent = register(store)
    lease = claim(store, agent).batch.lease.lease_id  # type: ignore[union-attr]
    start(store, job.job_id, lease, T0)
    after = store.finish_attempt(
        job.job_id, lease, 1, Outcome.FAILED, "assertion", T0 + 5,
        lambda job: after_attempt(job, Outcome.FAILED, "assertion", T0 + 5, RetryPolicy(), 0.5),
    ).after
    assert (after.state, after.retry_at, after.attempts, after.error) == (
        S.QUEUED, None, 1, "assertion")
    again = claim(store, agent, at=T0 + 5).batch
    assert again is not None and again.jobs[0].job_id == job.job_id


def test_last_failure_fails_the_job(store: Store) -> None:
    [job] = store.insert_jobs([new_job(max_attempts=1)])
    agent = register(store)
    lease = claim(store, agent).batch.lease.lease_id  # type: ignore[union-attr]
    start(store, job.job_id, lease, T0)
    after = finish(store, job.job_id, lease, 1, Outcome.FAILED, T0 + 1, "timeout").after
    assert (after.state, after.error) == (S.FAILED, "timeout")


def test_stale_reports_are_refused_and_duplicates_accepted(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    agent = register(store)
    lease = claim(store, agent).batch.lease.lease_id  # type: ignore[union-attr]
    with pytest.raises(LeaseLost):
        start(store, job.job_id, "another-lease", T0)
    start(store, job.job_id, lease, T0)
    with pytest.raises(LeaseLost):
        finish(store, job.job_id, "another-lease", 1, Outcome.PASSED, T0 + 1)
    finish(store, job.job_id, lease, 1, Outcome.PASSED, T0 + 1)
    repeat = finish(store, job.job_id, lease, 1, Outcome.PASSED, T0 + 2)
    assert repeat.after.state is S.COMPLETED and repeat.after.finished_at == T0 + 1
    with pytest.raises(LeaseLost):
        finish(store, job.job_id, lease, 1, Outcome.FAILED, T0 + 2)


def test_cancelled_job_in_a_batch_is_not_started(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    agent = register(store)
    lease = claim(store, agent).batch.lease.lease_id  # type: ignore[union-attr]
    store.cancel_job(job.job_id, T0 + 1)
    with pytest.raises(LeaseLost, match="cancelled"):
        start(store, job.job_id, lease, T0 + 2)


def test_cancel_of_a_running_job_reaches_its_agent(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    agent = register(store)
    lease = claim(store, agent).batch.lease.lease_id  # type: ignore[union-attr]
    start(store, job.job_id, lease, T0)
    assert store.cancel_job(job.job_id, T0 + 1).after.state is S.RUNNING
    report = DeviceReport("emulator-1", "running", "xyz123", job.job_id, lease)
    ack = store.heartbeat(agent, [report], T0 + 2, LEASE)
    assert ack.cancel_job_ids == (job.job_id,)
    after = finish(store, job.job_id, lease, 1, Outcome.CANCELLED, T0 + 3).after
    assert after.state is S.CANCELLED


def test_handed_back_jobs_are_queued_again(store: Store) -> None:
    jobs = store.insert_jobs([new_job(test_path=f"tests/{i}.spec.js") for i in range(3)])
    agent = register(store)
    batch = claim(store, agent).batch
    assert batch is not None
    released = store.release_jobs(batch.lease.lease_id, [j.job_id for j in jobs], T0 + 1)
    assert {j.job_id for j in released} == {j.job_id for j in jobs}
    assert all(store.get_job(j.job_id).state is S.QUEUED for j in jobs)  # type: ignore[union-attr]


# leases, heartbeats, rescue -------------------------------------------------------------------

def test_expired_lease_is_rescued(store: Store) -> None:
    running, waiting = store.insert_jobs(
        [new_job(test_path="tests/a.spec.js"), new_job(test_path="tests/b.spec.js")])
    agent = register(store)
    lease = claim(store, agent).batch.lease.lease_id  # type: ignore[union-attr]
    start(store, running.job_id, lease, T0)
    assert rescue(store, T0 + LEASE - 1) == []
    changes = {c.after.job_id: c.after for c in rescue(store, T0 + LEASE)}
    assert changes[running.job_id].state is S.QUEUED
    assert changes[running.job_id].infra_failures == 1
    assert changes[running.job_id].attempts == 1
    assert changes[waiting.job_id].state is S.QUEUED
    assert changes[waiting.job_id].infra_failures == 0
    with pytest.raises(LeaseLost):
        finish(store, running.job_id, lease, 1, Outcome.PASSED, T0 + LEASE + 1)


def test_heartbeat_extends_only_the_leases_a_device_works_on(store: Store) -> None:
    store.insert_jobs([new_job(at=T0), new_job(app_version_id="b", at=T0 + 1)])
    agent = register(store, devices="emulator-1:emulator,emulator-2:emulator")
    lease1 = claim(store, agent, "emulator-1").batch.lease.lease_id  # type: ignore[union-attr]
    claim(store, agent, "emulator-2")
    reports = [DeviceReport("emulator-1", "running", None, None, lease1),
               DeviceReport("emulator-2", "idle")]
    ack = store.heartbeat(agent, reports, T0 + 20, LEASE)
    assert ack.known and ack.lease_expires_at == T0 + 20 + LEASE
    rescued = rescue(store, T0 + LEASE)
    assert [c.after.app_version_id for c in rescued] == ["b"]


def test_a_device_is_seen_with_each_heartbeat_and_keeps_what_it_reported(
        store: Store) -> None:
    agent = register(store, devices="emulator-1:emulator", at=T0)
    store.heartbeat(agent, [DeviceReport("emulator-1", "idle", "v1")], T0 + 5, LEASE)
    store.heartbeat(agent, [DeviceReport("emulator-1", "idle", "v1")], T0 + 10, LEASE)
    [listed] = [a for a in store.list_agents() if a.agent_id == agent]
    assert [(d.state, d.holds_app_version_id, d.last_seen_at) for d in listed.devices] == [
        ("idle", "v1", T0 + 10)]


def _devices(store: Store, agent: str) -> list[tuple[str, str | None]]:
    [listed] = [a for a in store.list_agents() if a.agent_id == agent]
    return [(d.state, d.current_job_id) for d in listed.devices]


def test_a_device_shows_only_a_job_its_agent_holds(store: Store) -> None:
    ours, theirs = store.insert_jobs([new_job(at=T0), new_job(org_id="acme", at=T0 + 1)])
    agent = register(store, name="lab", devices="emulator-1:emulator")
    other = register(store, name="lab2", devices="emulator-9:emulator")
    lease = claim(store, agent).batch.lease.lease_id  # type: ignore[union-attr]
    other_lease = claim(store, other, "emulator-9").batch.lease.lease_id  # type: ignore[union-attr]
    start(store, ours.job_id, lease, T0 + 1)
    start(store, theirs.job_id, other_lease, T0 + 1)
    # lab2 says its device runs lab's job (of another org), under either lease.
    for said in (other_lease, lease):
        store.heartbeat(other, [DeviceReport("emulator-9", "running", "xyz123", ours.job_id,
                                             said)], T0 + 2, LEASE)
        assert _devices(store, other) == [("idle", None)]
    store.heartbeat(other, [DeviceReport("emulator-9", "running", "xyz123", "no-such-job",
                                         other_lease)], T0 + 3, LEASE)
    assert _devices(store, other) == [("idle", None)]
    store.heartbeat(other, [DeviceReport("emulator-9", "running", "xyz123", theirs.job_id,
                                         other_lease)], T0 + 4, LEASE)
    assert _devices(store, other) == [("running", theirs.job_id)]
    finish(store, ours.job_id, lease, 1, Outcome.PASSED, T0 + 5)  # no longer held
    store.heartbeat(agent, [DeviceReport("emulator-1", "running", "xyz123", ours.job_id,
                                         lease)], T0 + 6, LEASE)
    assert _devices(store, agent) == [("idle", None)]


def test_an_offline_agents_devices_show_no_job(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    agent = register(store, at=T0)
    lease = claim(store, agent).batch.lease.lease_id  # type: ignore[union-attr]
    start(store, job.job_id, lease, T0 + 1)
    assert _devices(store, agent) == [("running", job.job_id)]
    store.mark_agents_offline(seen_before=T0 + 2, now=T0 + 31)
    assert _devices(store, agent) == [("offline", None)]


def test_heartbeat_from_an_unknown_agent(store: Store) -> None:
    assert store.heartbeat("nobody", [], T0, LEASE).known is False


def test_a_signed_off_agent_frees_its_name(store: Store) -> None:
    agent = register(store, name="lab", at=T0)
    owner = store.online_agent_owner("lab")
    assert owner is not None and (owner.agent_id, owner.last_seen_at) == (agent, T0)
    store.sign_off(agent)
    assert store.online_agent_owner("lab") is None
    assert [d.state for a in store.list_agents() for d in a.devices] == ["offline"]


def test_a_restarted_agent_releases_its_old_batches(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    old = register(store, name="lab", at=T0)
    claim(store, old, at=T0)
    new = register(store, name="lab", at=T0 + 5)
    assert store.heartbeat(old, [], T0 + 6, LEASE).known is False
    [change] = rescue(store, T0 + 5)
    assert change.after.state is S.QUEUED
    assert claim(store, new, at=T0 + 6).batch is not None
    agents = store.list_agents()
    assert [(a.agent_id, len(a.devices)) for a in agents] == [(new, 1)]
    assert job.job_id == change.after.job_id


def test_silent_agents_go_offline(store: Store) -> None:
    agent = register(store, at=T0)
    assert store.mark_agents_offline(seen_before=T0 + 1, now=T0 + 31) == [agent]
    [listed] = store.list_agents()
    assert listed.state == "offline" and listed.devices[0].state == "offline"
    assert store.heartbeat(agent, [], T0 + 40, LEASE).known
    assert store.list_agents()[0].state == "online"


def test_installs_are_recorded(store: Store) -> None:
    agent = register(store)
    store.record_install(agent, "emulator-1", "xyz123", "emulator", T0, T0 + 20, True)
    with pytest.raises(NotFound):
        store.record_install(agent, "emulator-9", "xyz123", "emulator", T0, T0 + 20, True)


def test_an_install_for_another_target_than_the_devices_is_refused(store: Store) -> None:
    agent = register(store)
    with pytest.raises(Conflict, match="registered for target 'emulator', not 'device'"):
        store.record_install(agent, "emulator-1", "xyz123", "device", T0, T0 + 20, True)
    assert store.timeline(T0 - 1, T0 + 30, 10).installs == ()  # nothing kept


# consistency ----------------------------------------------------------------------------------

def test_group_counts_match_the_jobs_after_random_work(store: Store) -> None:
    """The per-group counters kept by triggers must equal a recount, whatever happens."""
    rng = random.Random(7)
    apps = ["a", "b", "c"]
    store.insert_jobs([new_job(app_version_id=rng.choice(apps), priority=rng.randint(1, 5),
                               test_path=f"tests/{i}.spec.js", at=T0 + i) for i in range(60)])
    agent = register(store, devices="emulator-1:emulator,emulator-2:emulator")
    now = T0 + 100
    for _ in range(120):
        now += 1
        device = rng.choice(["emulator-1", "emulator-2"])
        result = claim(store, agent, device, holds=rng.choice(apps), at=now)
        if result.batch is None:
            store.promote_due_retries(now + 100)
            continue
        for job in result.batch.jobs:
            action = rng.random()
            if action < 0.1:
                store.cancel_job(job.job_id, now)
                continue
            start(store, job.job_id, result.batch.lease.lease_id, now)
            outcome = Outcome.PASSED if action < 0.7 else Outcome.FAILED
            current = store.get_job(job.job_id)
            assert current is not None
            finish(store, job.job_id, result.batch.lease.lease_id, current.attempts, outcome, now)
        if rng.random() < 0.2:
            rescue(store, now + LEASE + 1)
    expected: dict[tuple[str, str], int] = {}
    for job in store.list_jobs(JobFilter(limit=1000)):
        key = (job.group_key, job.state.public)
        expected[key] = expected.get(key, 0) + 1
    for group in store.groups(True, 100):
        for status, count in group.counts.items():
            assert count == expected.get((group.group_key, status), 0), (group.group_key, status)


def test_reopening_keeps_everything(store: Store, store_url: str) -> None:
    from qgjob.store import open_store

    ids = submit_brief_example(store)
    store.close()
    reopened = open_store(store_url)
    try:
        assert [j.job_id for j in reopened.list_jobs(JobFilter())] == ids[::-1]
        assert reopened.schema_version() >= 1
    finally:
        reopened.close()


# retries of agent calls and lease ends ---------------------------------------------------------

def test_a_repeated_start_returns_the_running_job(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    agent = register(store)
    lease = claim(store, agent).batch.lease.lease_id  # type: ignore[union-attr]
    first = start(store, job.job_id, lease, T0 + 1)
    again = start(store, job.job_id, lease, T0 + 2)  # its answer was lost; the agent retries
    assert again.state is S.RUNNING and again.attempts == first.attempts == 1


def test_no_start_under_an_expired_lease(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    agent = register(store)
    lease = claim(store, agent, at=T0).batch.lease.lease_id  # type: ignore[union-attr]
    with pytest.raises(LeaseLost, match="expired"):
        start(store, job.job_id, lease, T0 + LEASE + 5)


def test_a_lease_ends_with_its_last_job(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    agent = register(store)
    lease = claim(store, agent).batch.lease.lease_id  # type: ignore[union-attr]
    assert store.lease_agent(lease) == agent
    start(store, job.job_id, lease, T0 + 1)
    finish(store, job.job_id, lease, 1, Outcome.PASSED, T0 + 2)
    assert store.lease_agent(lease) is None


def test_a_restart_gives_running_batches_one_more_term(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    agent = register(store)
    lease = claim(store, agent, at=T0).batch.lease.lease_id  # type: ignore[union-attr]
    start(store, job.job_id, lease, T0 + 1)
    # the server was down from T0 + 5 to T0 + 100, far past the lease
    assert store.grant_restart_grace(T0 + 100, LEASE, QUIET) == 1
    assert rescue(store, T0 + 100) == []
    done = finish(store, job.job_id, lease, 1, Outcome.PASSED, T0 + 105)  # its report counts
    assert done.after.state is S.COMPLETED
    assert store.grant_restart_grace(T0 + 206, LEASE, QUIET) == 0  # it ended with its job


def test_a_replica_starting_while_agents_are_served_extends_no_lease(store: Store) -> None:
    store.insert_jobs([new_job()])
    agent = register(store)
    claim(store, agent, at=T0)
    store.heartbeat(agent, [], T0 + LEASE - 1, LEASE)  # another replica heard from it
    assert store.grant_restart_grace(T0 + LEASE + 2, LEASE, QUIET) == 0
    assert len(rescue(store, T0 + 2 * LEASE)) == 1
