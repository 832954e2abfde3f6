"""What the scheduling policy is shown, and what the store learns and applies for it."""

from dataclasses import dataclass

import pytest

from qgjob.domain.attempts import Outcome
from qgjob.domain.states import JobState
from qgjob.scheduler.durations import DEFAULT_SECONDS
from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.scheduler.views import TOGETHER_COUNTED, ClaimContext, FleetRules, JobView
from qgjob.store.base import Store, Yielded
from tests.factories import T0, new_job
from tests.store.helpers import (
    LEASE,
    POLICY,
    RULES,
    OldestLanePolicy,
    claim,
    finish,
    register,
    start,
)

S = JobState
BATCH = OldestLanePolicy().batch


def test_new_jobs_are_priced_with_what_was_learned(store: Store) -> None:
    agent = register(store, devices="emulator-1:emulator,emulator-2:emulator")
    [first] = store.insert_jobs([new_job(test_path="tests/login.spec.js", at=T0)])
    lease = claim(store, agent, at=T0).batch.lease.lease_id  # type: ignore[union-attr]
    start(store, first.job_id, lease, T0 + 10)
    finish(store, first.job_id, lease, 1, Outcome.PASSED, T0 + 52)  # took 42 s
    [later] = store.insert_jobs([new_job(test_path="tests/login.spec.js", at=T0 + 60),
                                 ])
    assert later.expected_seconds == pytest.approx(42.0)
    [unknown] = store.insert_jobs([new_job(test_path="tests/other.spec.js", at=T0 + 61)])
    assert unknown.expected_seconds == pytest.approx(42.0)  # the target's prior so far


def test_queued_jobs_are_repriced_when_their_test_is_learned(store: Store) -> None:
    agent = register(store)
    running = new_job(test_path="tests/login.spec.js", at=T0)
    waiting = [new_job(app_version_id="other", test_path="tests/login.spec.js", at=T0 + 1)
               for _ in range(3)]
    store.insert_jobs([running, *waiting])
    first = claim(store, agent, holds="xyz123", at=T0 + 2)
    assert first.batch is not None and first.context is not None
    before = {lane.app_version_id: lane.expected_seconds for lane in first.context.lanes}
    assert before["other"] == pytest.approx(3 * 60.0)  # the default guess
    lease = first.batch.lease.lease_id
    start(store, running.job_id, lease, T0 + 10)
    finish(store, running.job_id, lease, 1, Outcome.PASSED, T0 + 30)  # it took 20 s
    second = claim(store, agent, holds="xyz123", at=T0 + 31)
    assert second.context is not None
    after = {lane.app_version_id: lane.expected_seconds for lane in second.context.lanes}
    assert after["other"] == pytest.approx(3 * 20.0)


@pytest.mark.parametrize(("took", "priced"), [(240.0, 240.0), (5.0, 60.0)])
def test_unseen_tests_are_raised_when_their_targets_tests_run_long(
        store: Store, took: float, priced: float) -> None:
    """Jobs of tests never run are priced with the target's prior at submit, the 60 s default
    before anything ran there. Once the target's tests turn out to run minutes, those still
    queued are raised to the new prior; never lowered (an unseen test runs early)."""
    agent = register(store, devices="emulator-1:emulator")
    running = new_job(test_path="tests/first.spec.js", at=T0)
    unseen = [new_job(app_version_id="other", test_path=f"tests/new{i}.spec.js", at=T0 + 1)
              for i in range(2)]
    store.insert_jobs([running, *unseen])
    batch = claim(store, agent, holds="xyz123", at=T0 + 2).batch
    assert batch is not None
    start(store, running.job_id, batch.lease.lease_id, T0 + 10)
    finish(store, running.job_id, batch.lease.lease_id, 1, Outcome.PASSED, T0 + 10 + took)
    view = claim(store, agent, holds="xyz123", at=T0 + 11 + took).context
    assert view is not None
    by_app = {lane.app_version_id: lane.expected_seconds for lane in view.lanes}
    assert by_app["other"] == pytest.approx(2 * priced)


def test_a_test_new_to_a_target_is_priced_with_its_time_elsewhere(store: Store) -> None:
    """The same org's test file on another target: its time there, not the default guess;
    jobs queued there before it first finished here are re-priced with it."""
    agent = register(store, devices="emulator-1:emulator")
    running = new_job(test_path="tests/login.spec.js", target="emulator", at=T0)
    early = new_job(test_path="tests/login.spec.js", target="device", at=T0 + 1)
    store.insert_jobs([running, early])
    lease = claim(store, agent, at=T0 + 2).batch.lease.lease_id  # type: ignore[union-attr]
    start(store, running.job_id, lease, T0 + 10)
    finish(store, running.job_id, lease, 1, Outcome.PASSED, T0 + 52)  # took 42 s
    later, stranger = store.insert_jobs([
        new_job(test_path="tests/login.spec.js", target="browserstack", at=T0 + 60),
        new_job(org_id="globex", test_path="tests/login.spec.js", target="device",
                at=T0 + 60)])
    assert later.expected_seconds == pytest.approx(42.0)
    assert stranger.expected_seconds == pytest.approx(60.0)  # another org's test: the default
    device = register(store, devices="device-1:device", name="lab-2")
    view = claim(store, device, device="device-1", at=T0 + 61).context
    assert view is not None
    by_org = {lane.org_id: lane.expected_seconds for lane in view.lanes}
    assert by_org["qualgent"] == pytest.approx(42.0)  # priced 60 at submit, re-priced


def test_the_view_counts_devices_per_build_and_org(store: Store) -> None:
    store.insert_jobs([new_job(org_id="acme", app_version_id="a", at=T0),
                       new_job(org_id="acme", app_version_id="a", at=T0),
                       new_job(org_id="beta", app_version_id="b", at=T0 + 1)])
    agent = register(store, devices="emulator-1:emulator,emulator-2:emulator,device-1:device")
    one = claim(store, agent, device="emulator-1", holds="a", at=T0 + 2)
    assert one.batch is not None and one.batch.lease.org_id == "acme"
    rules = FleetRules(org_weights={"beta": 3.0}, org_caps={"acme": 1})
    view = store.claim_batch(agent, "emulator-2", None, T0 + 3, 30.0, POLICY, rules).context
    assert view is not None
    assert view.devices_per_group == {"emulator|a": 1}
    assert view.orgs["acme"].devices == 1 and view.orgs["acme"].cap == 1
    assert view.orgs["beta"].weight == 3.0
    assert view.target_devices == 2 and view.idle_devices == 2
    assert view.install_seconds == 20.0  # nothing measured yet: the configured default


def test_the_view_knows_when_each_target_drains_and_the_last_submit(store: Store) -> None:
    """Once submits pause the policy weighs which target runs out of work last: each target's
    queued and held work over its devices, and when the newest job came."""
    agent = register(store, devices="emulator-1:emulator,emulator-2:emulator,device-1:device")
    store.insert_jobs([*[new_job(app_version_id="a", at=T0) for _ in range(2 * BATCH)],
                       *[new_job(app_version_id="b", target="device", at=T0 + 1)
                         for _ in range(3)]])
    first = claim(store, agent, device="emulator-1", at=T0 + 5)
    assert first.batch is not None and first.context is not None
    assert first.context.last_submit_at == T0 + 1
    # Nothing measured yet: every job is priced at the default minute.
    assert first.context.drains == {"emulator": BATCH * 60.0, "device": 180.0}
    # emulator-1's batch is held work now, and so is the rest of its install (19 s of the
    # default 20 s): the same work over the same two emulators, and that.
    second = claim(store, agent, device="emulator-2", at=T0 + 6)
    assert second.context is not None
    assert second.context.drains == {"emulator": BATCH * 60.0 + 19.0 / 2, "device": 180.0}


def test_a_device_still_installing_holds_the_rest_of_its_install(store: Store) -> None:
    """A device that claimed a build it does not hold installs it before its first job: the
    rest of that install is work it holds (an emulator's default 20 s, nothing measured yet),
    until its first job starts. Counting only its jobs, a build on devices that all still
    install looked a job's length from done, and an idle device never joined it."""
    agent = register(store, devices="emulator-1:emulator,emulator-2:emulator,"
                                    "emulator-3:emulator")
    store.insert_jobs([new_job(app_version_id="a", at=T0) for _ in range(3 * BATCH)])
    first = claim(store, agent, device="emulator-1", at=T0 + 1).batch
    assert first is not None
    installing = claim(store, agent, device="emulator-2", at=T0 + 5).context
    assert installing is not None
    assert [w.held_seconds for w in installing.work.values()] == [BATCH * 60.0 + 16.0]
    start(store, first.jobs[0].job_id, first.lease.lease_id, T0 + 20)
    # emulator-1 runs its first job now (its install is over); emulator-2 has 5 s left.
    running = claim(store, agent, device="emulator-3", at=T0 + 20).context
    assert running is not None
    assert [w.held_seconds for w in running.work.values()] == [2 * BATCH * 60.0 + 5.0]


def test_another_targets_drain_counts_every_lane_of_it(store: Store) -> None:
    """Another target's drain is read from its lanes' expected work alone (not their views):
    every build and org there counts, over that target's devices."""
    agent = register(store, devices="emulator-1:emulator,device-1:device,device-2:device")
    store.insert_jobs([new_job(app_version_id="a", at=T0),
                       *[new_job(app_version_id="b", target="device", at=T0)
                         for _ in range(3)],
                       *[new_job(org_id="beta", app_version_id="b", target="device", at=T0)
                         for _ in range(2)],
                       new_job(app_version_id="c", target="device", at=T0)])
    quiet = claim(store, agent, device="emulator-1", at=T0 + 600)
    assert quiet.context is not None
    assert quiet.context.drains == {"emulator": 60.0, "device": 6 * 60.0 / 2}


def test_the_policy_reads_drains_only_once_submits_pause(store: Store) -> None:
    """Every target's queued and held work is read only when the policy weighs it: while
    submits still arrive a claim is spared those reads."""
    policy = FairAffinityPolicy()
    agent = register(store, devices="emulator-1:emulator,emulator-2:emulator,device-1:device")
    # Two builds two typical tests apart: a stream's, no batch (two at once on a quiet fleet
    # would be one, and its drains weighed at once).
    store.insert_jobs([*[new_job(app_version_id="a", at=T0) for _ in range(8)],
                       new_job(app_version_id="b", target="device", at=T0 - 120)])
    soon = store.claim_batch(agent, "emulator-1", None, T0 + 5, LEASE, policy, RULES)
    assert soon.context is not None and soon.context.drains == {}
    # Three typical tests (the 60 s default before anything ran) after the last submit.
    quiet = store.claim_batch(agent, "emulator-2", None, T0 + 181, LEASE, policy, RULES)
    assert quiet.context is not None and set(quiet.context.drains) == {"emulator", "device"}


def test_the_view_counts_builds_submitted_together(store: Store) -> None:
    """Builds, on any target, with a job submitted within one typical test (the 60 s default
    before anything ran) of the newest submit: more than a stream would bring make a batch."""
    agent = register(store, devices="emulator-1:emulator,device-1:device")
    store.insert_jobs([new_job(app_version_id="old", at=T0),
                       new_job(app_version_id="a", at=T0 + 100),
                       new_job(app_version_id="a", at=T0 + 101),
                       new_job(app_version_id="b", target="device", at=T0 + 120),
                       new_job(app_version_id="c", at=T0 + 159)])
    view = claim(store, agent, device="device-1", at=T0 + 160).context
    assert view is not None and view.last_submit_at == T0 + 159
    assert view.builds_together == 3  # a, b and c; "old" came 159 s before the newest


def test_the_view_counts_the_builds_submitted_beside_the_oldest_queued_work(
        store: Store) -> None:
    """The target's builds whose newest job came within one typical test (the 60 s default)
    of its oldest queued job, either side, whatever became of them, and with two or more of
    them those of the last half hour (the rate its builds come in): many beside the oldest
    against that rate, and the queue is what is left of a batch (a backlog); another
    target's builds do not count."""
    agent = register(store, devices="emulator-1:emulator,emulator-2:emulator,"
                                    "emulator-3:emulator")
    store.insert_jobs([new_job(app_version_id="before", at=T0 - 61),
                       new_job(app_version_id="a", at=T0),
                       new_job(app_version_id="b", at=T0 + 30),
                       new_job(app_version_id="b", at=T0 + 31),
                       new_job(app_version_id="c", target="device", at=T0 + 40),
                       new_job(app_version_id="d", at=T0 + 60),
                       new_job(app_version_id="late", at=T0 + 200)])
    # "before" is the oldest queued job: within 60 s of it, only itself.
    first = claim(store, agent, at=T0 + 201)
    assert first.context is not None and first.context.builds_beside_oldest == 1
    assert first.context.target_builds_recent == 0  # not read for one
    # Claimed, it still counts for what was submitted beside the next oldest ("a": a, b, d;
    # "before" is 61 s before it).
    second = claim(store, agent, device="emulator-2", at=T0 + 202)
    assert second.context is not None and second.context.builds_beside_oldest == 3
    assert second.context.target_builds_recent == 5  # before, a, b, d, late
    store.insert_jobs([new_job(app_version_id="e", at=T0 + 10)])  # a late submit of an old job
    third = claim(store, agent, device="emulator-3", at=T0 + 203)
    assert third.context is not None and third.context.builds_beside_oldest == 4
    assert third.context.target_builds_recent == 6
    assert not FairAffinityPolicy().streams(third.context)


def test_lanes_carry_their_newest_submit(store: Store) -> None:
    """A lane's view says when its newest job was submitted, whatever order submits come in:
    a build still being submitted is not joined while a batch arrives."""
    agent = register(store, devices="emulator-1:emulator")
    store.insert_jobs([new_job(org_id="acme", at=T0), new_job(org_id="acme", at=T0 + 1)])
    store.insert_jobs([new_job(org_id="other", at=T0 + 5)])
    store.insert_jobs([new_job(org_id="acme", at=T0 - 10)])  # a late submit of an old job
    view = claim(store, agent, at=T0 + 6).context
    assert view is not None
    assert {lane.org_id: lane.newest_submitted_at for lane in view.lanes} == {
        "acme": T0 + 1, "other": T0 + 5}


def test_a_job_at_the_window_edge_counts_and_one_before_it_does_not(store: Store) -> None:
    agent = register(store, devices="emulator-1:emulator")
    store.insert_jobs([new_job(app_version_id="before", at=T0 - 0.5),
                       new_job(app_version_id="edge", at=T0),
                       new_job(app_version_id="a", at=T0 + 60)])
    view = claim(store, agent, at=T0 + 61).context
    assert view is not None and view.builds_together == 2  # a, and edge at exactly 60 s


def test_the_view_counts_builds_submitted_in_the_last_half_hour(store: Store) -> None:
    """One build alone in half an hour is no stream of work (the policy's `no_stream`); the
    count reads the groups' newest submits, on any target, whatever became of their jobs. A
    backlog submitted longer ago, still queued on the target, is a paused queue instead."""
    agent = register(store, devices="emulator-1:emulator,device-1:device")
    store.insert_jobs([new_job(app_version_id="old", target="device", at=T0),
                       new_job(app_version_id="a", at=T0 + 1000),
                       new_job(app_version_id="a", at=T0 + 1001)])
    view = claim(store, agent, at=T0 + 1802).context  # "old" is 1802 s old
    assert view is not None and view.builds_recent == 1
    assert FairAffinityPolicy().no_stream(view)
    view = claim(store, agent, device="device-1", at=T0 + 1802).context
    assert view is not None and view.builds_recent == 1
    assert not FairAffinityPolicy().no_stream(view)  # "old" waits on the device
    store.insert_jobs([new_job(app_version_id="b", target="device", at=T0 + 1803)])
    view = claim(store, agent, device="device-1", at=T0 + 1804).context
    assert view is not None and view.builds_recent == 2
    assert not FairAffinityPolicy().no_stream(view)


def test_builds_together_are_capped(store: Store) -> None:
    agent = register(store, devices="emulator-1:emulator")
    store.insert_jobs([new_job(app_version_id=f"build{i}", at=T0 + i / 10)
                       for i in range(TOGETHER_COUNTED + 5)])
    view = claim(store, agent, at=T0 + 5).context
    assert view is not None and view.builds_together == TOGETHER_COUNTED


def test_the_policy_reads_drains_while_a_batch_arrives(store: Store) -> None:
    """Builds submitted together are waited on together: while more arrive at once than the
    fleet's own stream would bring that close (here one a minute for the last half hour),
    the policy weighs every target's drain before submits pause."""
    policy = FairAffinityPolicy()
    agent = register(store, devices="emulator-1:emulator,emulator-2:emulator,device-1:device")
    store.insert_jobs([new_job(app_version_id=f"s{i}", at=T0 - 60 * i) for i in range(2, 30)])
    store.insert_jobs([new_job(app_version_id=app, at=T0) for app in ("a", "b", "c")])
    # Three builds within a typical test (60 s) where about one a minute comes: no batch.
    three = store.claim_batch(agent, "emulator-1", None, T0 + 1, LEASE, policy, RULES)
    assert three.context is not None and three.context.drains == {}
    store.insert_jobs([new_job(app_version_id=app, target="device", at=T0 + 2)
                       for app in ("d", "e", "f")])
    six = store.claim_batch(agent, "emulator-2", None, T0 + 3, LEASE, policy, RULES)
    assert six.context is not None and set(six.context.drains) == {"emulator", "device"}


def test_measured_installs_replace_the_default(store: Store) -> None:
    agent = register(store, devices="emulator-1:emulator")
    store.insert_jobs([new_job()])
    store.record_install(agent, "emulator-1", "xyz123", "emulator", T0, T0 + 33, True)
    view = claim(store, agent).context
    assert view is not None and view.install_seconds == pytest.approx(33.0)


def test_the_view_counts_the_last_half_hours_installs_and_what_spreading_would_spend(
        store: Store) -> None:
    """What an install costs while work streams in follows the fleet's own record
    (`FairAffinityPolicy.install_price`): the installs that ended in the last half hour, on
    any target, against the lesser of each recent build's jobs and its target's devices."""
    agent = register(store, devices="emulator-1:emulator,emulator-2:emulator,device-1:device")
    store.insert_jobs([new_job(app_version_id="old", at=T0),
                       *[new_job(app_version_id="a", at=T0 + 1000) for _ in range(3)],
                       new_job(app_version_id="b", at=T0 + 1001),
                       *[new_job(app_version_id="c", target="device", at=T0 + 1002)
                         for _ in range(5)]])
    store.record_install(agent, "emulator-1", "old", "emulator", T0 + 1, T0 + 21, True)
    store.record_install(agent, "emulator-2", "a", "emulator", T0 + 1010, T0 + 1030, True)
    store.record_install(agent, "device-1", "c", "device", T0 + 1010, T0 + 1055, True)
    store.record_install(agent, "emulator-1", "b", "emulator", T0 + 1040, T0 + 1041, False)
    view = claim(store, agent, at=T0 + 1900).context  # "old" and its install: 1879 s ago
    assert view is not None and view.installs_recent == 2  # the failed one is not counted
    assert view.spread_installs_recent == 2 + 1 + 1  # a on two devices, b on one, c on one
    # Newest first, each build's jobs at its target's typical test (nothing learned yet).
    assert [(build.work_seconds, build.devices) for build in view.recent_builds or ()] == [
        (5 * DEFAULT_SECONDS, 1), (DEFAULT_SECONDS, 1), (3 * DEFAULT_SECONDS, 2)]
    # A policy that does not price installs is spared the reads.
    lean = store.claim_batch(agent, "emulator-2", None, T0 + 1901, LEASE,
                             FairAffinityPolicy(stream_backlog_tests=0.0), RULES).context
    assert lean is not None and lean.installs_recent is None
    assert lean.recent_builds is None and lean.spread_installs_recent is None


@dataclass(frozen=True)
class AlwaysYield(OldestLanePolicy):
    name: str = "always-yield"

    def should_yield(self, ctx: ClaimContext, next_job: JobView) -> bool:
        return True


def test_yield_hands_the_rest_of_the_batch_back(store: Store) -> None:
    jobs = store.insert_jobs([new_job(test_path=f"tests/{i}.spec.js", at=T0) for i in range(3)])
    agent = register(store)
    lease = claim(store, agent, at=T0 + 1).batch.lease.lease_id  # type: ignore[union-attr]
    store.insert_jobs([new_job(app_version_id="urgent", priority=5, at=T0 + 2)])
    policy = AlwaysYield()
    # The first job of a batch was chosen a moment ago: it is never yielded.
    assert store.start_attempt(jobs[0].job_id, lease, T0 + 3, policy, RULES).state is S.RUNNING
    finish(store, jobs[0].job_id, lease, 1, Outcome.PASSED, T0 + 4)
    with pytest.raises(Yielded):
        store.start_attempt(jobs[1].job_id, lease, T0 + 5, policy, RULES)
    rest = [store.get_job(j.job_id) for j in jobs[1:]]
    assert all(j is not None and j.state is S.QUEUED and j.lease_id is None for j in rest)


def test_no_yield_while_nothing_else_waits(store: Store) -> None:
    jobs = store.insert_jobs([new_job(test_path=f"tests/{i}.spec.js", at=T0) for i in range(2)])
    agent = register(store)
    lease = claim(store, agent, at=T0 + 1).batch.lease.lease_id  # type: ignore[union-attr]
    start(store, jobs[0].job_id, lease, T0 + 2)
    finish(store, jobs[0].job_id, lease, 1, Outcome.PASSED, T0 + 3)
    assert store.start_attempt(jobs[1].job_id, lease, T0 + 4, AlwaysYield(), RULES).state \
        is S.RUNNING


def test_a_retry_remembers_where_it_failed(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    agent = register(store)
    lease = claim(store, agent).batch.lease.lease_id  # type: ignore[union-attr]
    start(store, job.job_id, lease, T0)
    after = finish(store, job.job_id, lease, 1, Outcome.FAILED, T0 + 5, "boom").after
    assert after.last_device_id == "lab/emulator-1" and after.device_id is None
    store.promote_due_retries(T0 + 100)
    result = claim(store, agent, at=T0 + 101)
    assert result.context is not None
    candidate = JobView(job.job_id, 3, T0, 60.0, 1, "lab/emulator-1")
    assert result.batch is not None and result.batch.jobs[0].last_device_id == \
        candidate.last_device_id


def test_urgent_work_preempts_a_low_priority_job(store: Store) -> None:
    from qgjob.scheduler.policy import FairAffinityPolicy

    [nightly] = store.insert_jobs([new_job(app_version_id="nightly", priority=1, at=T0)])
    agent = register(store)
    lease = claim(store, agent, at=T0).batch.lease.lease_id  # type: ignore[union-attr]
    start(store, nightly.job_id, lease, T0 + 1)
    store.insert_jobs([new_job(app_version_id="hotfix", priority=5, at=T0 + 2)])
    off = FairAffinityPolicy()
    assert store.preempt_for_urgent_work(T0 + 3, off, RULES) == []
    on = FairAffinityPolicy(preemption=True)
    assert store.preempt_for_urgent_work(T0 + 3, on, RULES) == [nightly.job_id]
    assert store.preempt_for_urgent_work(T0 + 4, on, RULES) == []  # asked once
    ack = store.heartbeat(agent, [], T0 + 5, 30.0)
    assert ack.preempt_job_ids == (nightly.job_id,) and ack.cancel_job_ids == ()
    after = finish(store, nightly.job_id, lease, 1, Outcome.PREEMPTED, T0 + 6).after
    assert after.state is S.QUEUED and after.charged_attempts == 0 and after.preemptions == 1
