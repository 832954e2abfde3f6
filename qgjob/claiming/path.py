"""The claim path, written once: each call opens one write transaction on a driver
(`driver.py`), builds the policy's view from what it reads, asks the policy, and applies the
decision before the transaction ends, so a decision is never made on stale state. The one
exception: claims and starts may see their target's device counts as they were up to
`DEVICE_COUNTS_MAX_AGE` seconds ago (a store keeps them that long; the simulator counts
afresh each time).

The server runs it over SQLite or PostgreSQL; `qgjob simulate` runs it over the in-memory
driver in virtual time. Both call the domain's own transitions and retry verdicts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from qgjob.claiming.driver import (
    ClaimDriver,
    DeviceRow,
    HeldJob,
    LaneSeconds,
    Transactions,
    estimate,
)
from qgjob.domain import transitions
from qgjob.domain.attempts import Outcome, Verdict
from qgjob.domain.models import Batch, Job, Lease
from qgjob.domain.states import JobState
from qgjob.ids import new_id
from qgjob.scheduler.durations import DEFAULT_SECONDS, learn, price, unseen_reprice
from qgjob.scheduler.outlook import left_of
from qgjob.scheduler.protocol import Policy
from qgjob.scheduler.views import (
    RATE_COUNTED,
    RECENT_SECONDS,
    SPREAD_COUNTED,
    TOGETHER_COUNTED,
    ClaimContext,
    DeviceView,
    FleetRules,
    GroupWork,
    JobView,
    LaneView,
    OrgShare,
    RecentBuild,
)
from qgjob.store.base import (
    ClaimResult,
    DecideAttempt,
    LeaseLost,
    NotFound,
    RegisterAgain,
    Transitioned,
    WrongTarget,
    Yielded,
)

CANDIDATES = 64
"""How many of the chosen lane's next jobs the policy sees when it picks a batch."""
PROMOTE_BATCH = 200
DEVICE_COUNTS_MAX_AGE = 2.0
"""How old the target's online and idle device counts a claim or a start decides with may be,
in seconds. They size batches, divide the target by fair share and tell whether an idle device
could take urgent work; a count this old serves those as well as an exact one (see
`store/sql/device_counts.py`), and counting a large fleet on every claim does not scale.
Preemption, which stops running work, counts afresh."""

AttemptExtras = Callable[[ClaimDriver], None]
"""What else a finished attempt records in its transaction (output, per-test results)."""


class ClaimPath:
    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions

    # claiming -------------------------------------------------------------------------------

    def claim_batch(
        self, agent_id: str, device_name: str, holds_app_version_id: str | None,
        now: float, lease_seconds: float, policy: Policy, rules: FleetRules,
        target: str | None = None,
    ) -> ClaimResult:
        with self._tx.write() as driver:
            device = _device(driver, agent_id, device_name)
            if target is not None and device.target != target:
                raise WrongTarget(device_name, device.target, target)
            driver.set_device(device, "idle", holds_app_version_id, now)
            driver.expire_device_leases(device.device_id, now)
            if device.resting is not None:
                return ClaimResult(None)  # drained or out of rotation: no new work
            ready = driver.ready_lanes(device.target)
            if not ready:
                # Nothing queued: no decision to make. Idle devices' waiting claims look
                # again every few seconds, so this answer must stay cheap.
                return ClaimResult(None)
            context = target_view(driver, device.device_id, device.target,
                                  holds_app_version_id, now, rules, DEVICE_COUNTS_MAX_AGE,
                                  ready, policy)
            seen = context
            while True:
                choice = policy.choose_lane(seen) if seen.lanes else None
                lane = next((lane for lane in seen.lanes if choice is not None
                             and lane.key == (choice.group_key, choice.org_id)), None)
                if lane is None:
                    return ClaimResult(None, context, choice, policy.looks_again_at(seen))
                candidates = driver.lane_candidates(lane.group_key, lane.org_id, CANDIDATES)
                picked = policy.choose_jobs(context, lane, candidates)
                lease = Lease(new_id(now), agent_id, device.device_id, lane.group_key,
                              lane.org_id, now + lease_seconds)
                jobs = driver.assign(picked, lease.lease_id, device, now) if picked else []
                if jobs:
                    break
                # Concurrent claims (other replicas) hold this lane's jobs: look at the rest.
                seen = replace(seen, lanes=tuple(other for other in seen.lanes
                                                 if other is not lane))
            driver.insert_lease(lease, lane.target, now)
            if lane.app_version_id != holds_app_version_id:
                driver.set_device(device, "installing", holds_app_version_id, now)
        by_id = {job.job_id: job for job in jobs}
        ordered = tuple(by_id[job_id] for job_id in picked if job_id in by_id)
        batch = Batch(lease, ordered[0].app_version_id, ordered[0].target, ordered)
        return ClaimResult(batch, context, choice)

    def start_attempt(
        self, job_id: str, lease_id: str, now: float, policy: Policy, rules: FleetRules
    ) -> Job:
        """Raises Yielded when more urgent work should take the device: the rest of its
        batch is back in the queue."""
        with self._tx.write() as driver:
            job = _job(driver, job_id)
            if job.state is JobState.RUNNING and job.lease_id == lease_id:
                return job  # the same start, sent again after its answer was lost
            if job.state is not JobState.ASSIGNED or job.lease_id != lease_id:
                raise LeaseLost(lost_reason(job))
            lease = driver.lease(lease_id)
            if lease is None or lease.expires_at <= now:
                raise LeaseLost(f"the lease of job {job_id} expired; it will be rescued")
            yielded = lease.jobs_started > 0 and _should_yield(
                driver, job, lease.device_id, now, policy, rules)
            if yielded:
                for queued in driver.jobs_of_lease(lease_id, running_too=False):
                    _requeue(driver, queued, now)
                driver.drop_lease_if_done(lease_id)
            else:
                started = transitions.start(job, now)
                # Rows in the order every write takes them: job, device, group, lease.
                assert job.device_id is not None
                driver.device_running(job.device_id, job, now)
                driver.save_job(started)
                driver.start_attempt(started, now)
                driver.count_lease_start(lease_id)
        if yielded:
            raise Yielded("more urgent work waits; the rest of the batch went back to the queue")
        return started

    def finish_attempt(
        self, job_id: str, lease_id: str, attempt: int, outcome: Outcome, error: str | None,
        now: float, decide: DecideAttempt, extras: AttemptExtras | None = None,
    ) -> Transitioned:
        """Apply the verdict, record `extras` in the same transaction, and teach the duration
        model (passed and failed attempts). A report delivered again changes nothing."""
        with self._tx.write() as driver:
            job = _job(driver, job_id)
            current = (job.state is JobState.RUNNING and job.lease_id == lease_id
                       and job.attempts == attempt)
            if not current:
                recorded = driver.attempt_outcome(job_id, attempt)
                if recorded is not None and recorded[0] == outcome.value:
                    return Transitioned(job, job)  # the same report, delivered again
                raise LeaseLost(lost_reason(job, lease_id, attempt))
            if extras is not None:
                extras(driver)
            after = transitions.apply_verdict(job, decide(job), now)
            assert job.device_id is not None
            driver.device_done(job.device_id, job_id, now)
            driver.save_job(after)
            driver.finish_attempt(job_id, attempt, outcome.value, error, now)
            began = driver.attempt_outcome(job_id, attempt)
            seconds = now - began[1] if began is not None else 0.0
            if outcome in (Outcome.PASSED, Outcome.FAILED):
                learn_duration(driver, job, seconds)
            driver.drop_lease_if_done(lease_id)
        return Transitioned(job, after, attempt_seconds=seconds)

    def release_jobs(self, lease_id: str, job_ids: Sequence[str], now: float) -> list[Job]:
        """Put the lease's unstarted jobs among `job_ids` back in the queue. A lease that
        ended (its jobs done or rescued) or never was holds nothing to hand back: LeaseLost,
        as for another agent's lease, rather than an answer that some were handed back."""
        released = []
        with self._tx.write() as driver:
            if driver.lease(lease_id) is None:
                raise LeaseLost(f"lease {lease_id} is not held: it ended or never existed")
            for job in driver.jobs_of_lease(lease_id, running_too=False):
                if job.job_id in job_ids:
                    released.append(_requeue(driver, job, now))
            driver.drop_lease_if_done(lease_id)
        return released

    # maintenance ----------------------------------------------------------------------------

    def promote_due_retries(self, now: float) -> list[Job]:
        with self._tx.write() as driver:
            return driver.promote_due_retries(now, PROMOTE_BATCH)

    def preempt_for_urgent_work(
        self, now: float, policy: Policy, rules: FleetRules
    ) -> list[str]:
        chosen: list[str] = []
        with self._tx.write() as driver:
            for target in driver.targets_with_work():
                view = target_view(driver, "", target, None, now, rules, counts_max_age=0.0)
                victim = policy.choose_preemption(view, driver.running_jobs(target))
                if victim is not None and driver.request_preemption(victim, now):
                    chosen.append(victim)
        return chosen

    def queue_views(self, now: float, rules: FleetRules, target: str | None = None,
                    policy: Policy | None = None) -> list[ClaimContext]:
        """The policy's view of every target with queued work (or of `target` alone), as an
        idle newcomer would see it: for explaining the queue, not for claiming. With `policy`,
        read as that newcomer's claim would read it (whether a batch arrives, the install
        record its price follows, the targets' drains), so the explanation tells what the
        policy would do; without, the lanes and the work in progress only."""
        with self._tx.read() as driver:
            return [target_view(driver, "", each, None, now, rules, counts_max_age=0.0,
                                policy=policy)
                    for each in driver.targets_with_work() if target in (None, each)]


# the policy's view ----------------------------------------------------------------------------

def target_view(
    driver: ClaimDriver, device_id: str, target: str, holds: str | None, now: float,
    rules: FleetRules, counts_max_age: float, ready: Sequence[LaneView] | None = None,
    policy: Policy | None = None,
) -> ClaimContext:
    """What the policy sees when `device_id` asks for work (its own batches excluded), its
    device counts at most `counts_max_age` seconds old (`ready`: the target's lanes, if just
    read). Lanes and work come in one order whatever the store, so every store decides
    alike. When `policy` weighs when each target drains, the view says so (`drains`), read
    from every target with queued work; otherwise those reads are spared."""
    if ready is None:
        ready = driver.ready_lanes(target)
    lanes = tuple(sorted(ready, key=lambda lane: lane.key))
    prior = driver.target_prior(target).mean(DEFAULT_SECONDS)
    install = _install_estimate(driver, rules, target)
    work, per_org = _work_in_progress(driver.held_jobs(target, device_id, now), prior, install,
                                      now)
    orgs: dict[str, OrgShare] = {org: rules.share(org, n) for org, n in sorted(per_org.items())}
    for lane in lanes:
        if lane.org_id not in orgs:
            orgs[lane.org_id] = rules.share(lane.org_id, 0)
    online, idle = driver.device_counts(target, now, counts_max_age)
    last_submit = driver.last_submit_at()
    beside = 0 if policy is None else _builds_beside_oldest(driver, target, lanes, prior)
    view = ClaimContext(
        device=DeviceView(device_id, target, holds),
        lanes=lanes,
        devices_per_group={group: item.devices for group, item in work.items()},
        orgs=orgs,
        target_devices=online,
        idle_devices=idle,
        install_seconds=install,
        now=now,
        default_weight=rules.default_weight,
        work=work,
        retry_due=driver.retries_due(target),
        idle_holds=frozenset(driver.idle_holds(target, device_id)),
        typical_test_seconds=prior,
        last_submit_at=last_submit,
        # Only a policy weighs batches (deciding a claim, or explaining the queue as one would
        # decide): views for preemption are spared the reads.
        builds_together=0 if policy is None or last_submit is None
        else driver.builds_submitted_since(last_submit - prior, TOGETHER_COUNTED),
        builds_beside_oldest=beside,
        target_builds_recent=0 if beside < 2
        else driver.builds_submitted_between(target, now - RECENT_SECONDS, now, RATE_COUNTED),
        builds_recent=None if policy is None
        else driver.builds_submitted_since(now - RECENT_SECONDS, RATE_COUNTED),
    )
    if policy is not None and policy.weighs_installs(view):
        view = _with_install_record(driver, view, counts_max_age)
    if policy is None or not policy.weighs_drains(view):
        return view
    # This target's work leaves out the asking device's own batch: a claiming device holds
    # none (its leases were just expired), but one about to start its next job
    # (`_should_yield`) has the rest of its batch left out of its target's drain.
    drains = {target: _drain([(lane.group_key, lane.org_id, lane.expected_seconds)
                              for lane in lanes], work, online)}
    for other in driver.targets_with_work():
        if other != target:
            held = driver.held_jobs(other, "", now)
            # Its install time is read only when one of its devices is installing.
            install = _install_estimate(driver, rules, other) \
                if any(job.installing_since is not None for job in held) else 0.0
            other_work, _ = _work_in_progress(
                held, driver.target_prior(other).mean(DEFAULT_SECONDS), install, now)
            drains[other] = _drain(driver.queued_lane_seconds(other), other_work,
                                   driver.device_counts(other, now, counts_max_age)[0])
    return replace(view, drains=drains)


def _builds_beside_oldest(driver: ClaimDriver, target: str, lanes: Sequence[LaneView],
                          typical: float) -> int:
    """`ClaimContext.builds_beside_oldest`: the target's builds submitted within a typical test
    of its oldest queued job (one read through an index; none with nothing queued)."""
    if not lanes:
        return 0
    oldest = min(lane.oldest_submitted_at for lane in lanes)
    return driver.builds_submitted_between(target, oldest - typical, oldest + typical,
                                           TOGETHER_COUNTED)


def _with_install_record(driver: ClaimDriver, view: ClaimContext, counts_max_age: float
                   ) -> ClaimContext:
    """The view with the installs of the last `RECENT_SECONDS` and the builds they were spent
    on (`ClaimContext.recent_builds`: each build's work at its target's typical test, and the
    devices it could use)."""
    since = view.now - RECENT_SECONDS
    online: dict[str, int] = {view.device.target: view.target_devices}
    typical: dict[str, float] = {view.device.target: view.typical_test_seconds}
    builds = []
    for target, jobs in driver.builds_since(since, SPREAD_COUNTED):
        if target not in online:
            online[target] = driver.device_counts(target, view.now, counts_max_age)[0]
            typical[target] = driver.target_prior(target).mean(DEFAULT_SECONDS)
        builds.append(RecentBuild(jobs * typical[target], min(jobs, online[target])))
    return replace(view, installs_recent=driver.installs_since(since),
                   recent_builds=tuple(builds))


def _drain(lanes: list[LaneSeconds], work: dict[str, GroupWork], online: int) -> float:
    """In how many seconds a target's devices are expected to run out of work: its queued
    work (each lane's group, org and expected seconds) and what its devices hold, over its
    online devices (summed in one order, so every store gives the same figure)."""
    seconds = sum(expected for _, _, expected in sorted(lanes))
    seconds += sum(work[group].held_seconds for group in sorted(work))
    return estimate(seconds / max(online, 1))


def _install_estimate(driver: ClaimDriver, rules: FleetRules, target: str) -> float:
    """Seconds an install takes on the target: as measured lately, else the operator's
    setting."""
    measured = driver.install_seconds(target)
    return estimate(measured) if measured is not None \
        else rules.install_seconds.get(target, 30.0)


def _work_in_progress(held: list[HeldJob], prior: float, install: float, now: float
                      ) -> tuple[dict[str, GroupWork], dict[str, int]]:
    """Per group: its app, devices and expected seconds left (summed in one order); and
    devices per org. A held job is priced with what is known of its test now: its learned
    mean, else the target's mean so far (a job submitted before anything was known was
    priced with a guess). A device still installing the build's app (`install` seconds, as
    a running test is: at least a quarter of the time it has taken so far) holds that much
    more: its jobs start only after it."""
    leases: dict[str, HeldJob] = {}
    seconds: dict[str, float] = {}
    for job in sorted(held, key=lambda job: (job.lease_id, job.job_id)):
        if job.lease_id not in leases:
            leases[job.lease_id] = job
            if job.installing_since is not None:  # once per lease: its device installs
                seconds[job.group_key] = seconds.get(job.group_key, 0.0) + left_of(
                    "running", install, job.installing_since, now)
        expected = job.learned_seconds if job.learned_seconds is not None else prior
        left = left_of(job.state.value, expected, job.started_at, now)
        seconds[job.group_key] = seconds.get(job.group_key, 0.0) + left
    devices: dict[str, int] = {}
    per_org: dict[str, int] = {}
    apps: dict[str, str] = {}
    for first in leases.values():
        devices[first.group_key] = devices.get(first.group_key, 0) + 1
        per_org[first.org_id] = per_org.get(first.org_id, 0) + 1
        apps[first.group_key] = first.app_version_id
    work = {group: GroupWork(apps[group], devices[group], estimate(seconds[group]))
            for group in sorted(devices)}
    return work, per_org


# durations ------------------------------------------------------------------------------------

def learn_duration(driver: ClaimDriver, job: Job, seconds: float) -> None:
    """Fold a finished attempt into the history; re-price the test's queued jobs when its
    estimate moved enough to matter. The first time the test finishes on this target, its
    queued jobs on targets where it never ran are re-priced too (they were priced with its
    time elsewhere, or with their target's prior); and when the target's prior has risen well
    above what tests never run were priced with, their queued jobs are raised to it."""
    stats = driver.test_duration(job.org_id, job.test_path, job.target)
    new_stats, new_prior, reprice = learn(stats, driver.target_prior(job.target), seconds)
    new_prior, raised = unseen_reprice(new_prior)
    driver.save_durations(job.org_id, job.test_path, job.target, new_stats, new_prior)
    if reprice is not None:
        driver.reprice_queued(job.org_id, job.test_path, job.target, reprice)
    if raised is not None:
        driver.reprice_unseen(job.target, raised)
    if stats is not None:
        return
    for other in driver.targets_with_work():
        if other != job.target and driver.test_duration(job.org_id, job.test_path,
                                                        other) is None:
            driver.reprice_queued(job.org_id, job.test_path, other, price(
                None, driver.test_elsewhere(job.org_id, job.test_path, other),
                driver.target_prior(other).mean(DEFAULT_SECONDS)))


# helpers --------------------------------------------------------------------------------------

def _device(driver: ClaimDriver, agent_id: str, device_name: str) -> DeviceRow:
    device = driver.device(agent_id, device_name)
    if device is None:
        raise RegisterAgain(f"agent {agent_id!r} has no device {device_name!r}; register again")
    return device


def _job(driver: ClaimDriver, job_id: str) -> Job:
    job = driver.job(job_id)
    if job is None:
        raise NotFound(f"no job with id {job_id!r}")
    return job


def _should_yield(driver: ClaimDriver, job: Job, device_id: str, now: float, policy: Policy,
                  rules: FleetRules) -> bool:
    device = driver.device_by_id(device_id)
    if device is None:
        return False
    # The device has just run a job of this build: it holds its app.
    context = target_view(driver, device.device_id, device.target, job.app_version_id, now,
                          rules, DEVICE_COUNTS_MAX_AGE, policy=policy)
    if not context.lanes:
        return False
    view = JobView(job.job_id, job.priority, job.created_at, job.expected_seconds,
                   job.attempts, job.last_device_id)
    return bool(policy.should_yield(context, view))


def _requeue(driver: ClaimDriver, job: Job, now: float) -> Job:
    after = transitions.apply_verdict(job, Verdict(JobState.QUEUED), now)
    driver.save_job(after)
    return after


def lost_reason(job: Job, lease_id: str | None = None, attempt: int | None = None) -> str:
    """Why a request about the job under `lease_id` (and its `attempt`) is refused."""
    if job.state.is_final:
        return f"job {job.job_id} is already {job.state.public}"
    if (attempt is not None and job.state is JobState.RUNNING and job.lease_id == lease_id
            and job.attempts != attempt):
        return (f"job {job.job_id} is running attempt {job.attempts} under this lease, "
                f"not attempt {attempt}")
    return f"job {job.job_id} is no longer held under this lease (it is {job.state.value})"
