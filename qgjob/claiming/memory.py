"""The claim path's operations over dictionaries: what `qgjob simulate` runs the claim path on,
in virtual time. Each operation does what the SQL stores' named query of the same purpose does
(their triggers included: a lane's counters follow its jobs' states), so the simulator and the
server decide alike; `tests/sim/test_replay_equivalence.py` holds them to it. Learned durations
are a `DurationModel`, so a queued job is priced by the same rule the unit tests check.

Single-threaded: a transaction is just a block (nothing is rolled back; the claim path raises
before it changes anything it would have to take back).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from qgjob.claiming.driver import DeviceRow, HeldJob, LaneSeconds, LeaseRow, estimate
from qgjob.domain.models import Job, Lease, NewJob
from qgjob.domain.queue_order import ClaimKey, claim_key, counts_by_priority
from qgjob.domain.states import JobState
from qgjob.scheduler.durations import DurationModel, DurationStats, TargetPrior
from qgjob.scheduler.views import JobView, LaneView, RunningJob

INSTALLS_AVERAGED = 20
"""Recent installs a target's install time is averaged over (as the SQL stores do)."""

def _claim_order(job: Job) -> ClaimKey:
    return claim_key(job.priority, job.created_at, job.job_id)


@dataclass
class _Lane:
    group_key: str
    org_id: str
    target: str
    app_version_id: str
    by_priority: dict[int, int] = field(default_factory=dict)
    expected_seconds: float = 0.0
    order: list[tuple[ClaimKey, str]] = field(default_factory=list)
    ages: list[tuple[float, str]] = field(default_factory=list)
    newest_submitted_at: float | None = None
    """Its newest job's submit time, whatever became of the job."""

    def enter(self, job: Job) -> None:
        self.by_priority[job.priority] = self.by_priority.get(job.priority, 0) + 1
        self.expected_seconds = self.expected_seconds + job.expected_seconds
        bisect.insort(self.order, (_claim_order(job), job.job_id))
        bisect.insort(self.ages, (job.created_at, job.job_id))

    def leave(self, job: Job) -> None:
        self.by_priority[job.priority] -= 1
        self.expected_seconds = self.expected_seconds - job.expected_seconds
        del self.order[bisect.bisect_left(self.order, (_claim_order(job), job.job_id))]
        del self.ages[bisect.bisect_left(self.ages, (job.created_at, job.job_id))]

    def view(self, jobs: dict[str, Job]) -> LaneView:
        head = jobs[self.order[0][1]]
        return LaneView(self.group_key, self.org_id, self.app_version_id, self.target,
                        counts_by_priority(self.by_priority), head.created_at, self.ages[0][0],
                        estimate(self.expected_seconds), self.newest_submitted_at)


@dataclass
class _Group:
    """What the claim path reads of a group whatever became of its jobs: its target, how many
    jobs it has and when its newest was submitted."""

    target: str
    jobs: int = 0
    newest_submitted_at: float = float("-inf")


@dataclass
class _Lease:
    row: LeaseRow
    agent_id: str
    group_key: str
    org_id: str
    target: str
    created_at: float


@dataclass
class _Attempt:
    device_id: str
    started_at: float
    finished_at: float | None = None
    outcome: str | None = None
    error: str | None = None


class MemoryQueue:
    """Jobs, devices, leases, attempts, installs and learned durations, in memory; its
    `write()` and `read()` blocks hand out itself as the claim path's driver."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.devices: dict[str, DeviceRow] = {}
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self._leases: dict[str, _Lease] = {}
        self._attempts: dict[tuple[str, int], _Attempt] = {}
        self._installs: dict[str, list[float]] = {}
        self._installs_ended: list[float] = []
        """When each install ended, in time order."""
        self._groups: dict[str, _Group] = {}
        self._durations = DurationModel()
        self._retrying: dict[str, Job] = {}
        self._named: dict[tuple[str, str], str] = {}
        self._of_lease: dict[str, list[str]] = {}
        """Job ids of each lease, in the order they were assigned."""
        self._running_on: dict[str, str] = {}

    @contextmanager
    def write(self) -> Iterator[MemoryQueue]:
        yield self

    @contextmanager
    def read(self) -> Iterator[MemoryQueue]:
        yield self

    # what a store does outside the claim path ---------------------------------------------

    def add_device(self, name: str, device: DeviceRow) -> None:
        self.devices[device.device_id] = device
        self._named[(device.agent_id, name)] = device.device_id

    def insert_jobs(self, jobs: Sequence[NewJob]) -> list[Job]:
        """Queue new jobs, priced as the SQL stores price them (their test's learned mean,
        else their target's mean, else the default)."""
        made = [self._priced(job) for job in jobs]
        for job in made:
            self.jobs[job.job_id] = job
            group = self._groups.setdefault(job.group_key, _Group(job.target))
            group.jobs += 1
            group.newest_submitted_at = max(group.newest_submitted_at, job.created_at)
        lanes: dict[tuple[str, str], list[Job]] = {}
        for job in made:
            lanes.setdefault((job.group_key, job.org_id), []).append(job)
        for key in sorted(lanes):
            lane = self._lane(lanes[key][0])
            # One counter update per lane, adding the batch's sum, as a submit does.
            total = sum(job.expected_seconds for job in lanes[key])
            for job in lanes[key]:
                lane.enter(replace(job, expected_seconds=0.0))
            lane.expected_seconds = lane.expected_seconds + total
            newest = max(job.created_at for job in lanes[key])
            if lane.newest_submitted_at is None or newest > lane.newest_submitted_at:
                lane.newest_submitted_at = newest
        return made

    def record_install(self, target: str, seconds: float, ended_at: float) -> None:
        self._installs.setdefault(target, []).append(seconds)
        bisect.insort(self._installs_ended, ended_at)

    def _priced(self, new: NewJob) -> Job:
        expected = self._durations.estimate((new.org_id, new.test_path, new.target))
        return Job(job_id=new.job_id, org_id=new.org_id, app_version_id=new.app_version_id,
                   test_path=new.test_path, target=new.target, priority=new.priority,
                   group_key=new.group_key, state=JobState.QUEUED, attempts=0,
                   max_attempts=new.max_attempts, infra_failures=0, created_at=new.created_at,
                   updated_at=new.created_at, expected_seconds=expected)

    def _lane(self, job: Job) -> _Lane:
        key = (job.group_key, job.org_id)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane(job.group_key, job.org_id, job.target,
                                            job.app_version_id)
        return lane

    # devices ----------------------------------------------------------------------------------

    def device(self, agent_id: str, name: str) -> DeviceRow | None:
        device_id = self._named.get((agent_id, name))
        return None if device_id is None else self.devices[device_id]

    def device_by_id(self, device_id: str) -> DeviceRow | None:
        return self.devices.get(device_id)

    def set_device(self, device: DeviceRow, state: str, holds: str | None, now: float) -> None:
        self.devices[device.device_id] = replace(device, state=state,
                                                 holds_app_version_id=holds)
        self._running_on.pop(device.device_id, None)

    def device_running(self, device_id: str, job: Job, now: float) -> None:
        device = self.devices[device_id]
        self.devices[device_id] = replace(device, state="running",
                                          holds_app_version_id=job.app_version_id)
        self._running_on[device_id] = job.job_id

    def device_done(self, device_id: str, job_id: str, now: float) -> None:
        if self._running_on.get(device_id) == job_id:
            self.devices[device_id] = replace(self.devices[device_id], state="idle")
            del self._running_on[device_id]

    # what the policy sees ---------------------------------------------------------------------

    def ready_lanes(self, target: str) -> list[LaneView]:
        return [lane.view(self.jobs) for lane in self._lanes.values()
                if lane.target == target and lane.order]

    def queued_lane_seconds(self, target: str) -> list[LaneSeconds]:
        return [(lane.group_key, lane.org_id, estimate(lane.expected_seconds))
                for lane in self._lanes.values() if lane.target == target and lane.order]

    def held_jobs(self, target: str, device_id: str, now: float) -> list[HeldJob]:
        held = []
        for lease in self._leases.values():
            row = lease.row
            if lease.target != target or row.expires_at <= now or row.device_id == device_id:
                continue
            device = self.devices.get(row.device_id)
            installing = lease.created_at if device is not None \
                and device.state == "installing" and row.jobs_started == 0 else None
            for job in self._jobs_of(row.lease_id, running_too=True):
                attempt = self._attempts.get((job.job_id, job.attempts))
                started = attempt.started_at if attempt is not None and \
                    job.state is JobState.RUNNING else None
                learned = self.test_duration(job.org_id, job.test_path, job.target)
                held.append(HeldJob(row.lease_id, lease.group_key, lease.org_id,
                                    job.app_version_id, job.job_id, job.state,
                                    job.expected_seconds, started,
                                    learned.mean_seconds if learned is not None else None,
                                    installing))
        return held

    def device_counts(self, target: str, now: float, max_age: float) -> tuple[int, int]:
        devices = [d for d in self.devices.values() if d.target == target]
        return len(devices), sum(1 for d in devices if d.state == "idle")

    def idle_holds(self, target: str, device_id: str) -> set[str]:
        return {d.holds_app_version_id for d in self.devices.values()
                if d.target == target and d.state == "idle" and d.device_id != device_id
                and d.holds_app_version_id is not None}

    def install_seconds(self, target: str) -> float | None:
        recent = self._installs.get(target, [])[-INSTALLS_AVERAGED:]
        return sum(recent) / len(recent) if recent else None

    def retries_due(self, target: str) -> dict[str, float]:
        due: dict[str, float] = {}
        for job in self._retrying.values():
            if job.target == target and job.retry_at is not None:
                app = job.app_version_id
                due[app] = min(job.retry_at, due.get(app, job.retry_at))
        return due

    def lane_candidates(self, group_key: str, org_id: str, limit: int) -> list[JobView]:
        lane = self._lanes.get((group_key, org_id))
        if lane is None:
            return []
        views = []
        for _, job_id in lane.order[:limit]:
            job = self.jobs[job_id]
            views.append(JobView(job.job_id, job.priority, job.created_at, job.expected_seconds,
                                 job.attempts, job.last_device_id))
        return views

    def targets_with_work(self) -> list[str]:
        return sorted({lane.target for lane in self._lanes.values() if lane.order})

    def last_submit_at(self) -> float | None:
        return max((lane.newest_submitted_at for lane in self._lanes.values()
                    if lane.newest_submitted_at is not None), default=None)

    def builds_submitted_since(self, since: float, limit: int) -> int:
        return min(sum(1 for group in self._groups.values()
                       if group.newest_submitted_at >= since), limit)

    def builds_submitted_between(self, target: str, start: float, end: float, limit: int
                                 ) -> int:
        return min(sum(1 for group in self._groups.values()
                       if group.target == target
                       and start <= group.newest_submitted_at <= end), limit)

    def builds_since(self, since: float, limit: int) -> list[tuple[str, int]]:
        recent = sorted((-group.newest_submitted_at, key, group)
                        for key, group in self._groups.items()
                        if group.newest_submitted_at >= since)
        return [(group.target, group.jobs) for _, _, group in recent[:limit]]

    def installs_since(self, since: float) -> int:
        return len(self._installs_ended) - bisect.bisect_left(self._installs_ended, since)

    def running_jobs(self, target: str) -> list[RunningJob]:
        running = [job for job in self.jobs.values()
                   if job.target == target and job.state is JobState.RUNNING]
        running.sort(key=lambda job: job.started_at or 0.0, reverse=True)
        return [RunningJob(job.job_id, job.device_id or "", job.group_key, job.priority,
                           job.started_at or 0.0) for job in running]

    # jobs, leases and attempts ----------------------------------------------------------------

    def job(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def save_job(self, job: Job) -> None:
        before = self.jobs[job.job_id]
        after = replace(job, expected_seconds=before.expected_seconds)
        self.jobs[job.job_id] = after
        if after.lease_id is not None and after.lease_id != before.lease_id:
            self._of_lease.setdefault(after.lease_id, []).append(job.job_id)
        if before.state is not after.state:
            if before.state is JobState.QUEUED:
                self._lane(before).leave(before)
            if after.state is JobState.QUEUED:
                self._lane(after).enter(after)
            if before.state is JobState.RETRY_WAIT:
                self._retrying.pop(job.job_id, None)
        if after.state is JobState.RETRY_WAIT:
            self._retrying[job.job_id] = after

    def assign(self, job_ids: Sequence[str], lease_id: str, device: DeviceRow,
               now: float) -> list[Job]:
        assigned = []
        for job_id in sorted(set(job_ids)):
            job = self.jobs.get(job_id)
            if job is None or job.state is not JobState.QUEUED:
                continue
            after = replace(job, state=JobState.ASSIGNED, lease_id=lease_id,
                            agent_name=device.agent_name, device_id=device.device_id,
                            updated_at=now)
            self.save_job(after)
            assigned.append(self.jobs[job_id])
        return assigned

    def insert_lease(self, lease: Lease, target: str, now: float) -> None:
        self._leases[lease.lease_id] = _Lease(
            LeaseRow(lease.lease_id, lease.device_id, lease.expires_at, 0), lease.agent_id,
            lease.group_key, lease.org_id, target, now)

    def lease(self, lease_id: str) -> LeaseRow | None:
        lease = self._leases.get(lease_id)
        return None if lease is None else lease.row

    def expire_device_leases(self, device_id: str, now: float) -> None:
        for lease in self._leases.values():
            if lease.row.device_id == device_id and lease.row.expires_at > now:
                lease.row = replace(lease.row, expires_at=now)

    def jobs_of_lease(self, lease_id: str, running_too: bool) -> list[Job]:
        return list(self._jobs_of(lease_id, running_too))

    def _jobs_of(self, lease_id: str, running_too: bool) -> Iterator[Job]:
        states = {JobState.ASSIGNED, JobState.RUNNING} if running_too else {JobState.ASSIGNED}
        for job_id in self._of_lease.get(lease_id, ()):
            job = self.jobs[job_id]
            if job.lease_id == lease_id and job.state in states:
                yield job

    def count_lease_start(self, lease_id: str) -> None:
        lease = self._leases[lease_id]
        lease.row = replace(lease.row, jobs_started=lease.row.jobs_started + 1)

    def drop_lease_if_done(self, lease_id: str) -> None:
        if lease_id in self._leases and not any(self._jobs_of(lease_id, running_too=True)):
            del self._leases[lease_id]
            self._of_lease.pop(lease_id, None)

    def request_preemption(self, job_id: str, now: float) -> bool:
        job = self.jobs[job_id]
        if job.state is not JobState.RUNNING or job.preempt_requested:
            return False
        self.jobs[job_id] = replace(job, preempt_requested=True, updated_at=now)
        return True

    def promote_due_retries(self, now: float, limit: int) -> list[Job]:
        due = sorted((job for job in self._retrying.values()
                      if job.retry_at is not None and job.retry_at <= now),
                     key=lambda job: (job.retry_at or 0.0, job.job_id))[:limit]
        promoted = []
        for job in due:
            self.save_job(replace(job, state=JobState.QUEUED, retry_at=None, updated_at=now))
            promoted.append(self.jobs[job.job_id])
        return promoted

    def start_attempt(self, job: Job, now: float) -> None:
        self._attempts[(job.job_id, job.attempts)] = _Attempt(job.device_id or "", now)

    def attempt_outcome(self, job_id: str, attempt: int) -> tuple[str | None, float] | None:
        row = self._attempts.get((job_id, attempt))
        return None if row is None else (row.outcome, row.started_at)

    def finish_attempt(self, job_id: str, attempt: int, outcome: str, error: str | None,
                       now: float) -> None:
        row = self._attempts.get((job_id, attempt))
        if row is not None and row.finished_at is None:
            row.finished_at, row.outcome, row.error = now, outcome, error

    # durations --------------------------------------------------------------------------------

    def test_duration(self, org_id: str, test_path: str, target: str) -> DurationStats | None:
        return self._durations.tests.get((org_id, test_path, target))

    def test_elsewhere(self, org_id: str, test_path: str, target: str) -> list[float]:
        return self._durations.elsewhere((org_id, test_path, target))

    def target_prior(self, target: str) -> TargetPrior:
        return self._durations.prior(target)

    def save_durations(self, org_id: str, test_path: str, target: str, stats: DurationStats,
                       prior: TargetPrior) -> None:
        self._durations.save((org_id, test_path, target), stats, prior)

    def reprice_unseen(self, target: str, seconds: float) -> None:
        self._reprice([lane for lane in self._lanes.values() if lane.target == target],
                      lambda job: job.expected_seconds < seconds
                      and not self._durations.seen(job.org_id, job.test_path), seconds)

    def reprice_queued(self, org_id: str, test_path: str, target: str, seconds: float) -> None:
        self._reprice([lane for lane in self._lanes.values()
                       if lane.org_id == org_id and lane.target == target],
                      lambda job: job.test_path == test_path, seconds)

    def _reprice(self, lanes: list[_Lane], which: Callable[[Job], bool],
                 seconds: float) -> None:
        """The lanes' queued jobs that `which` picks are priced with `seconds`; each lane's
        expected work follows, as the SQL stores' triggers keep theirs."""
        for lane in lanes:
            for _, job_id in lane.order:
                job = self.jobs[job_id]
                if job.expected_seconds != seconds and which(job):
                    lane.expected_seconds = lane.expected_seconds + seconds - \
                        job.expected_seconds
                    self.jobs[job_id] = replace(job, expected_seconds=seconds)
