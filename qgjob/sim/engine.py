"""The discrete-event simulator: devices claim batches through the policy, install when they
hold another app, run attempts whose durations and outcomes come from the trace, retry with
the server's backoff, and learn durations as the server does. Deterministic for a given trace,
policy and seed."""

from __future__ import annotations

import bisect
import heapq
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from qgjob.domain.attempts import RetryPolicy
from qgjob.domain.models import group_key_for
from qgjob.scheduler.durations import DurationKey, DurationModel
from qgjob.scheduler.policy import FairAffinityPolicy, Policy
from qgjob.scheduler.views import (
    ClaimContext,
    DeviceView,
    FleetRules,
    GroupWork,
    JobView,
    LaneChoice,
    LaneView,
    RunningJob,
)
from qgjob.sim.trace import Trace, TraceJob

CANDIDATES = 64
"""How many of a lane's next jobs the policy sees when it picks a batch (the store's limit)."""
POLL_SECONDS = 2.0
"""A device the policy left idle while work waits asks again this often (the server's claim
poll), besides whenever something happens."""


class PolicyError(RuntimeError):
    """The policy answered something the simulator cannot apply."""


@dataclass
class _Job:
    spec: TraceJob
    group_key: str
    expected: float
    attempts: int = 0
    last_device: str | None = None

    @property
    def order(self) -> tuple[int, float, str]:
        return (-self.spec.priority, self.spec.submit_at, self.spec.job_id)

    def view(self) -> JobView:
        return JobView(self.spec.job_id, self.spec.priority, self.spec.submit_at, self.expected,
                       self.attempts, self.last_device)


@dataclass
class _Lane:
    group_key: str
    org_id: str
    app_version_id: str
    target: str
    by_order: list[tuple[tuple[int, float, str], str]] = field(default_factory=list)
    by_age: list[tuple[float, str]] = field(default_factory=list)
    counts: list[int] = field(default_factory=lambda: [0] * 5)
    expected: float = 0.0

    def add(self, job: _Job) -> None:
        bisect.insort(self.by_order, (job.order, job.spec.job_id))
        bisect.insort(self.by_age, (job.spec.submit_at, job.spec.job_id))
        self.counts[job.spec.priority - 1] += 1
        self.expected += job.expected

    def remove(self, job: _Job) -> None:
        del self.by_order[bisect.bisect_left(self.by_order, (job.order, job.spec.job_id))]
        del self.by_age[bisect.bisect_left(self.by_age, (job.spec.submit_at, job.spec.job_id))]
        self.counts[job.spec.priority - 1] -= 1
        self.expected -= job.expected

    def view(self, jobs: dict[str, _Job]) -> LaneView:
        head = jobs[self.by_order[0][1]].spec
        return LaneView(self.group_key, self.org_id, self.app_version_id, self.target,
                        tuple(self.counts), head.submit_at, self.by_age[0][0],
                        max(self.expected, 0.0))


@dataclass
class _Device:
    device_id: str
    target: str
    holds: str | None = None
    batch: deque[str] = field(default_factory=deque)
    lane: tuple[str, str] | None = None
    busy: bool = False
    test: dict[str, Any] | None = None
    """The schedule event of the attempt it runs (or is about to, after an install)."""
    generation: int = 0
    """Bumped on preemption, so the stopped attempt's completion is ignored."""


@dataclass
class SimulationResult:
    trace: str
    policy: str
    events: list[dict[str, Any]]
    decisions: int


class Simulator:
    def __init__(
        self,
        trace: Trace,
        policy: Policy,
        *,
        seed: int = 0,
        retry: RetryPolicy | None = None,
        org_weights: dict[str, float] | None = None,
        org_caps: dict[str, int] | None = None,
        group_by_org: bool = False,
    ) -> None:
        self.trace = trace
        self.policy = policy
        self.retry = retry or RetryPolicy()
        self.rng = random.Random(seed)
        self.rules = FleetRules(org_weights=org_weights or {}, org_caps=org_caps or {})
        self.group_by_org = group_by_org
        self.durations = DurationModel()
        self.jobs: dict[str, _Job] = {}
        self.lanes: dict[tuple[str, str], _Lane] = {}
        self.devices = [_Device(d.device_id, d.target) for d in trace.devices]
        self.events: list[dict[str, Any]] = []
        self.decisions = 0
        self.preemptions = 0
        self._heap: list[tuple[float, int, int, str, Any]] = []
        self._retries: dict[str, dict[str, float]] = {}
        """Per group: jobs waiting out their retry backoff, and when they come back."""
        self._seq = 0

    # the event loop -------------------------------------------------------------------------

    def run(self) -> SimulationResult:
        for spec in self.trace.jobs:
            self._push(spec.submit_at, 0, "arrive", spec)
        while self._heap:
            now = self._heap[0][0]
            while self._heap and self._heap[0][0] == now:
                _, _, _, kind, data = heapq.heappop(self._heap)
                if kind == "arrive":
                    self._arrive(data, now)
                elif kind == "retry":
                    job = self.jobs[data]
                    self._retries[job.group_key].pop(data, None)
                    self._enqueue(job)
                elif kind == "poll":
                    pass
                else:
                    self._attempt_done(data, now)
            self._dispatch(now)
        stranded = sum(len(lane.by_order) for lane in self.lanes.values())
        if stranded:
            raise PolicyError(f"{self.policy.name}: {stranded} job(s) were never scheduled")
        self.events.sort(key=lambda e: (e["start"], e["device"], e["kind"] == "test"))
        return SimulationResult(self.trace.name, self.policy.name, self.events, self.decisions)

    def _push(self, at: float, order: int, kind: str, data: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, order, self._seq, kind, data))

    def _arrive(self, spec: TraceJob, now: float) -> None:
        group = str(group_key_for(spec.org_id, spec.app_version_id, spec.target,
                                  per_org=self.group_by_org))
        job = _Job(spec, group, self.durations.estimate(_test(spec)))
        self.jobs[spec.job_id] = job
        self._enqueue(job)

    def _enqueue(self, job: _Job) -> None:
        key = (job.group_key, job.spec.org_id)
        lane = self.lanes.get(key)
        if lane is None:
            lane = self.lanes[key] = _Lane(job.group_key, job.spec.org_id,
                                           job.spec.app_version_id, job.spec.target)
        lane.add(job)

    # devices --------------------------------------------------------------------------------

    def _dispatch(self, now: float) -> None:
        """Idle devices ask for work; those holding an app with queued work ask first, as the
        server wakes them first."""
        ready_apps = {lane.app_version_id for lane in self.lanes.values() if lane.by_order}
        idle = [d for d in self.devices if not d.busy]
        idle.sort(key=lambda d: (d.holds not in ready_apps, d.device_id))
        declined = False
        for device in idle:
            if not device.busy:
                declined |= not self._claim(device, now)
        if self._preempt(now):
            self._dispatch(now)
            return
        if declined and not any(kind == "poll" for _, _, _, kind, _ in self._heap):
            self._push(now + POLL_SECONDS, 2, "poll", None)

    def _claim(self, device: _Device, now: float) -> bool:
        """Returns False when work waits but the policy left the device idle."""
        ctx = self._context(device, now)
        if not ctx.lanes:
            return True
        self.decisions += 1
        choice = self.policy.choose_lane(ctx)
        if choice is None:
            return False
        lane = self._chosen_lane(choice, device)
        candidates = [self.jobs[job_id].view() for _, job_id in lane.by_order[:CANDIDATES]]
        picked = self.policy.choose_jobs(ctx, lane.view(self.jobs), candidates)
        allowed = {c.job_id for c in candidates}
        if not picked or not set(picked) <= allowed or len(set(picked)) != len(picked):
            raise PolicyError(f"{self.policy.name}: bad batch {picked!r}")
        for job_id in picked:
            lane.remove(self.jobs[job_id])
        device.batch = deque(picked)
        device.lane = (lane.group_key, lane.org_id)
        self._start_next(device, now)
        return True

    def _chosen_lane(self, choice: LaneChoice, device: _Device) -> _Lane:
        lane = self.lanes.get((choice.group_key, choice.org_id))
        if lane is None or not lane.by_order or lane.target != device.target:
            raise PolicyError(f"{self.policy.name}: chose a lane with no work: {choice}")
        return lane

    def _start_next(self, device: _Device, now: float) -> None:
        job = self.jobs[device.batch[0]]
        spec = job.spec
        if device.holds != spec.app_version_id:
            install = self.trace.install_seconds[spec.target]
            self.events.append({"device": device.device_id, "kind": "install",
                                "app_version_id": spec.app_version_id, "target": spec.target,
                                "start": now, "end": now + install})
            device.holds = spec.app_version_id
            now += install
        job.attempts += 1
        outcome = spec.outcome(job.attempts)
        end = now + spec.duration
        device.test = {"device": device.device_id, "kind": "test", "job_id": spec.job_id,
                       "attempt": job.attempts, "start": now, "end": end, "outcome": outcome}
        self.events.append(device.test)
        device.busy = True
        self._push(end, 1, "done", (device, job, outcome, device.generation))

    def _attempt_done(self, data: tuple[_Device, _Job, str, int], now: float) -> None:
        device, job, outcome, generation = data
        if generation != device.generation:
            return  # the attempt was stopped by a preemption
        device.test = None
        spec = job.spec
        reprice = self.durations.observe(_test(spec), spec.duration)
        if reprice is not None:
            self._reprice(_test(spec), reprice)
        if outcome == "fail" and job.attempts < self.trace.max_attempts:
            job.last_device = device.device_id
            delay = self.retry.delay(job.attempts, self.rng.random())
            self._push(now + delay, 0, "retry", spec.job_id)
            self._retries.setdefault(job.group_key, {})[spec.job_id] = now + delay
        device.batch.popleft()
        device.busy = False
        if device.batch and self._should_yield(device, now):
            for job_id in device.batch:
                self._enqueue(self.jobs[job_id])
            device.batch.clear()
        if device.batch:
            self._start_next(device, now)
        else:
            device.lane = None

    def _should_yield(self, device: _Device, now: float) -> bool:
        ctx = self._context(device, now)
        if not ctx.lanes:
            return False
        self.decisions += 1
        return self.policy.should_yield(ctx, self.jobs[device.batch[0]].view())

    def _preempt(self, now: float) -> bool:
        """Hard preemption, when the policy has it on: stop running attempts that urgent work
        needs the devices of; the job and the rest of its batch go back, the attempt is not
        spent. Returns whether anything was stopped."""
        if not isinstance(self.policy, FairAffinityPolicy) or not self.policy.preemption:
            return False
        stopped = False
        for target in sorted({d.target for d in self.devices}):
            running = {d.test["job_id"]: d for d in self.devices
                       if d.target == target and d.test is not None and d.test["start"] <= now}
            view = self._context(_Device("", target), now)
            victim = self.policy.choose_preemption(view, [
                RunningJob(job_id, d.device_id, d.lane[0] if d.lane else "",
                           self.jobs[job_id].spec.priority, d.test["start"])
                for job_id, d in running.items() if d.test is not None])
            if victim is None:
                continue
            device = running[victim]
            assert device.test is not None
            device.test["end"], device.test["outcome"] = now, "preempted"
            device.test, device.busy, device.lane = None, False, None
            device.generation += 1
            self.jobs[victim].attempts -= 1
            for job_id in device.batch:
                self._enqueue(self.jobs[job_id])
            device.batch.clear()
            self.preemptions += 1
            stopped = True
        return stopped

    def _reprice(self, test: DurationKey, seconds: float) -> None:
        for lane in self.lanes.values():
            if lane.target != test[2]:
                continue
            for _, job_id in lane.by_order:
                job = self.jobs[job_id]
                if _test(job.spec) == test:
                    lane.expected += seconds - job.expected
                    job.expected = seconds
        for job in self.jobs.values():
            if _test(job.spec) == test:
                job.expected = seconds

    # the policy's view ----------------------------------------------------------------------

    def _context(self, device: _Device, now: float) -> ClaimContext:
        target = device.target
        lanes = tuple(lane.view(self.jobs) for lane in self.lanes.values()
                      if lane.target == target and lane.by_order)
        per_group: dict[str, int] = {}
        per_org: dict[str, int] = {}
        work: dict[str, GroupWork] = {}
        online = idle = 0
        for other in self.devices:
            if other.target != target:
                continue
            online += 1
            if other.lane is None and not other.busy:
                idle += 1
            if other is device or other.lane is None:
                continue
            per_group[other.lane[0]] = per_group.get(other.lane[0], 0) + 1
            per_org[other.lane[1]] = per_org.get(other.lane[1], 0) + 1
            group = other.lane[0]
            before = work.get(group)
            work[group] = GroupWork(
                self.jobs[other.batch[0]].spec.app_version_id if before is None
                else before.app_version_id,
                (before.devices if before else 0) + 1,
                (before.held_seconds if before else 0.0) + self._held(other, now))
        orgs = {org: self.rules.share(org, count) for org, count in per_org.items()}
        for lane in lanes:
            if lane.org_id not in orgs:
                orgs[lane.org_id] = self.rules.share(lane.org_id, 0)
        return ClaimContext(
            device=DeviceView(device.device_id, target, device.holds),
            lanes=lanes, devices_per_group=per_group, orgs=orgs, target_devices=online,
            idle_devices=idle, install_seconds=self.trace.install_seconds[target], now=now,
            work=work, retry_due=self._retry_due(target),
        )

    def _retry_due(self, target: str) -> dict[str, float]:
        due: dict[str, float] = {}
        for jobs in self._retries.values():
            for job_id, at in jobs.items():
                spec = self.jobs[job_id].spec
                if spec.target == target:
                    due[spec.app_version_id] = min(at, due.get(spec.app_version_id, at))
        return due

    def _held(self, device: _Device, now: float) -> float:
        """Expected seconds of work the device still holds, as the server would estimate it:
        the rest of its running test (from its expected duration) and its unstarted jobs."""
        rest = [self.jobs[job_id].expected for job_id in list(device.batch)[1:]]
        if device.test is None:
            return sum(rest)
        running = self.jobs[device.test["job_id"]].expected
        started: float = device.test["start"]
        if started > now:  # still installing: the job has not started
            return running + sum(rest)
        return max(running - (now - started), 0.0) + sum(rest)


def _test(spec: TraceJob) -> DurationKey:
    return (spec.org_id, spec.test_path, spec.target)
