"""The discrete-event simulator: the trace's devices act as an agent's devices do (claim a
batch, install when they hold another app, start each job, report it), against the server's
own claim path (`qgjob/claiming/path.py`) over the in-memory driver, in virtual time. Retries
follow the domain's verdicts with the server's retry policy (at once by default); durations
are learned as the server learns them. Deterministic for a given trace, policy and seed.

What is idealised: every call answers at once, maintenance (retries coming back, hard
preemption) runs the moment something is due rather than once a second, and a device the
policy left idle asks again whenever anything happens, when a wait the policy set ends
(`Policy.looks_again_at`), and at least every `poll_seconds` (the server's claim poll).
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from qgjob.claiming.driver import DeviceRow
from qgjob.claiming.memory import MemoryQueue
from qgjob.claiming.path import ClaimPath
from qgjob.domain.attempts import Outcome, RetryPolicy, after_attempt
from qgjob.domain.models import Job, NewJob, group_key_for
from qgjob.domain.states import JobState
from qgjob.scheduler.protocol import Policy
from qgjob.scheduler.views import FleetRules
from qgjob.sim.trace import Trace, TraceJob
from qgjob.store.base import ClaimResult, Yielded

AGENT = "sim"
POLL_SECONDS = 2.0
"""A device the policy left idle while work waits asks again this often (the server's claim
poll, `claim_poll_seconds`), besides whenever something happens."""
PROGRESS_STEPS = 2048
"""`Simulator.run` tells its progress once per this many moments of virtual time."""
LEASE_SECONDS = math.inf
"""Leases never expire in virtual time: no device is ever lost (1e9 s ran out on a trace's
own times: twenty tests of 1e8 s on one device)."""


def first_beat(now: float, target: float, step: float) -> float:
    """The first of `now + step`, `(now + step) + step`, ... at or after `target`, as those
    float additions give it: a poll skipped to must fall on the very beat polling would have
    reached, since a policy's time thresholds decide differently an ulp apart. For a step that
    is a power of two the additions are exact within a binade, so each binade is crossed at
    once; any other step is added up."""
    at = now + step
    power_of_two = math.frexp(step)[0] == 0.5
    while at < target:
        inside = math.ceil((2.0 ** math.frexp(at)[1] - at) / step) - 1 if power_of_two else 0
        beats = min(inside, math.ceil((target - at) / step) - 1)
        at += beats * step if beats > 0 else step
    return at


class PolicyError(RuntimeError):
    """The policy left work unscheduled or answered something the claim path refused."""


class Backend(Protocol):
    """The server as the simulated devices see it."""

    def submit(self, jobs: Sequence[NewJob], now: float) -> None: ...
    def claim(self, device: str, holds: str | None, now: float) -> ClaimResult: ...
    def start(self, job_id: str, lease_id: str, now: float) -> Job | None:
        """The started job, or None when the device should yield its batch."""
    def report(self, job_id: str, lease_id: str, attempt: int, outcome: Outcome,
               now: float) -> Job: ...
    def installed(self, device: str, app_version_id: str, target: str, seconds: float,
                  now: float) -> None: ...
    def maintain(self, now: float) -> list[str]:
        """Requeue due retries; returns the running jobs hard preemption stops."""
    def release(self, lease_id: str, job_ids: Sequence[str], now: float) -> None: ...


class MemoryBackend:
    """The claim path over the in-memory driver, deciding as `JobService` does."""

    def __init__(self, policy: Policy, rules: FleetRules, retry: RetryPolicy, seed: int,
                 devices: Sequence[tuple[str, str]]) -> None:
        self.policy, self.rules, self.retry = policy, rules, retry
        self.rng = random.Random(seed)
        self.queue = MemoryQueue()
        self.claims = ClaimPath(self.queue)
        for name, target in devices:
            self.queue.add_device(name, DeviceRow(f"{AGENT}/{name}", AGENT, AGENT, target,
                                                  "idle", None))

    def submit(self, jobs: Sequence[NewJob], now: float) -> None:
        self.queue.insert_jobs(jobs)

    def claim(self, device: str, holds: str | None, now: float) -> ClaimResult:
        return self.claims.claim_batch(AGENT, device, holds, now, LEASE_SECONDS, self.policy,
                                       self.rules)

    def start(self, job_id: str, lease_id: str, now: float) -> Job | None:
        try:
            return self.claims.start_attempt(job_id, lease_id, now, self.policy, self.rules)
        except Yielded:
            return None

    def report(self, job_id: str, lease_id: str, attempt: int, outcome: Outcome,
               now: float) -> Job:
        draw = self.rng.random()
        change = self.claims.finish_attempt(
            job_id, lease_id, attempt, outcome, None, now,
            lambda job: after_attempt(job, outcome, None, now, self.retry, draw))
        return change.after

    def installed(self, device: str, app_version_id: str, target: str, seconds: float,
                  now: float) -> None:
        self.queue.record_install(target, seconds, now)

    def maintain(self, now: float) -> list[str]:
        self.claims.promote_due_retries(now)
        if self.policy.preempts:
            return self.claims.preempt_for_urgent_work(now, self.policy, self.rules)
        return []

    def release(self, lease_id: str, job_ids: Sequence[str], now: float) -> None:
        self.claims.release_jobs(lease_id, job_ids, now)


@dataclass
class _Device:
    name: str
    target: str
    holds: str | None = None
    lease_id: str | None = None
    batch: deque[Job] = field(default_factory=deque)
    busy: bool = False
    test: dict[str, Any] | None = None
    """The schedule event of the attempt it runs."""
    attempt: int = 0
    """The server's number of that attempt (the event numbers charged attempts only)."""
    generation: int = 0
    """Bumped when an attempt is stopped (preemption), so its end is ignored."""


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
        backend: Backend | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.trace = trace
        self.policy = policy
        self.group_by_org = group_by_org
        self.poll_seconds = poll_seconds
        rules = FleetRules(org_weights=org_weights or {}, org_caps=org_caps or {},
                           install_seconds=dict(trace.install_seconds))
        self.backend: Backend = backend or MemoryBackend(
            policy, rules, retry or RetryPolicy(), seed,
            [(d.device_id, d.target) for d in trace.devices])
        self.specs = {job.job_id: job for job in trace.jobs}
        self.devices = [_Device(d.device_id, d.target) for d in trace.devices]
        self.events: list[dict[str, Any]] = []
        self.decisions = 0
        self.preemptions = 0
        self.finished: set[str] = set()
        self._heap: list[tuple[float, int, int, str, Any]] = []
        self._seq = 0
        self._changed: set[str] = set()
        """Targets where something happened since their idle devices last asked."""
        self._poll_at: float | None = None
        self._looks: set[tuple[float, str]] = set()
        """(time, target) of the looks again the policy asked for, pending."""
        self._arrived = 0
        self._retry_at: dict[str, float] = {}
        """Jobs waiting out a retry delay, by job id: their `maintain` event wakes the devices."""

    # the event loop -------------------------------------------------------------------------

    def run(self, progress: Callable[[int, float], None] | None = None) -> SimulationResult:
        """`progress`, if given, hears now and then how many jobs have finished and the
        virtual time (a trace of hundreds of thousands of jobs takes minutes)."""
        arrivals: dict[float, list[TraceJob]] = {}
        for spec in self.trace.jobs:
            arrivals.setdefault(spec.submit_at, []).append(spec)
        for at, specs in arrivals.items():
            self._push(at, 0, "arrive", specs)
        steps = 0
        while self._heap:
            now = self._heap[0][0]
            while self._heap and self._heap[0][0] == now:
                _, _, _, kind, data = heapq.heappop(self._heap)
                self._handle(kind, data, now)
            self._dispatch(now)
            steps += 1
            if progress is not None and steps % PROGRESS_STEPS == 0:
                progress(len(self.finished), now)
        unfinished = len(self.specs) - len(self.finished)
        if unfinished:
            raise PolicyError(f"{self.policy.name}: {unfinished} job(s) were never finished")
        self.events.sort(key=lambda e: (e["start"], e["device"], e["kind"] == "test"))
        return SimulationResult(self.trace.name, self.policy.name, self.events, self.decisions)

    def _push(self, at: float, order: int, kind: str, data: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, order, self._seq, kind, data))

    def _handle(self, kind: str, data: Any, now: float) -> None:
        if kind == "arrive":
            self._arrived += len(data)
            self.backend.submit([self._new_job(spec) for spec in data], now)
            self._changed.update(spec.target for spec in data)
            if self.policy.preempts:
                self._maintain(now)  # new urgent work may stop a running job
        elif kind == "maintain":
            self._maintain(now)
        elif kind == "poll":
            self._poll_at = None
            self._changed.update(d.target for d in self.devices)
        elif kind == "look":
            self._looks.discard(data)
            self._changed.add(data[1])
        elif kind == "installed":
            device, generation = data
            if generation == device.generation:
                job = device.batch[0]
                self.backend.installed(device.name, job.app_version_id, job.target,
                                       self.trace.install_seconds[job.target], now)
                device.holds = job.app_version_id
                self._start(device, now)
        elif kind == "done":
            device, generation = data
            if generation == device.generation:
                self._done(device, now)

    def _new_job(self, spec: TraceJob) -> NewJob:
        group = group_key_for(spec.org_id, spec.app_version_id, spec.target,
                              per_org=self.group_by_org)
        return NewJob(spec.job_id, spec.org_id, spec.app_version_id, spec.test_path,
                      spec.target, spec.priority, self.trace.max_attempts, group, spec.submit_at)

    # devices --------------------------------------------------------------------------------

    def _dispatch(self, now: float) -> None:
        """Idle devices of targets where something happened ask for work (the server wakes
        waiting claims); those holding an app ask first, as the server wakes them first."""
        idle = sorted((d for d in self.devices if not d.busy and d.target in self._changed),
                      key=lambda d: (d.holds is None, d.name))
        self._changed.clear()
        declined = False
        for device in idle:
            self.decisions += 1
            result = self.backend.claim(device.name, device.holds, now)
            batch = result.batch
            if batch is None:
                declined = True
                self._look_again(result.look_again_at, device.target)
                continue
            device.lease_id, device.batch, device.busy = batch.lease.lease_id, \
                deque(batch.jobs), True
            self._next(device, now)
        if declined and len(self.finished) < len(self.specs) and self._poll_at is None:
            self._poll_at = self._next_poll(now)
            self._push(self._poll_at, 2, "poll", None)

    def _look_again(self, at: float | None, target: str) -> None:
        """A device the policy left idle until a wait it set ends asks again then, as the
        server's waiting claim does (`JobService.claim`), not at its next poll."""
        if at is not None and (at, target) not in self._looks:
            self._looks.add((at, target))
            self._push(at, 2, "look", (at, target))

    def _next_poll(self, now: float) -> float:
        """When a device that was declined asks again: a poll from now. While no job waits
        for a device, every poll before the next event finds what this one found (nothing
        changes in between), so the polls skip to the first that comes at or after it, on
        the same beat. Polling through a quiet day in a trace, one poll every two virtual
        seconds, took minutes."""
        at = now + self.poll_seconds
        if self._heap and self._heap[0][0] > at and not self._waiting(now):
            at = first_beat(now, self._heap[0][0], self.poll_seconds)
        return at

    def _waiting(self, now: float) -> bool:
        """Whether a job waits for a device (queued, not on a device, no retry delay)."""
        self._retry_at = {job: at for job, at in self._retry_at.items() if at > now}
        on_devices = sum(len(device.batch) for device in self.devices)
        return self._arrived - len(self.finished) - on_devices - len(self._retry_at) > 0

    def _next(self, device: _Device, now: float) -> None:
        job = device.batch[0]
        if device.holds != job.app_version_id:
            install = self.trace.install_seconds[job.target]
            self.events.append({"device": device.name, "kind": "install",
                                "app_version_id": job.app_version_id, "target": job.target,
                                "start": now, "end": now + install})
            self._push(now + install, 1, "installed", (device, device.generation))
            return
        self._start(device, now)

    def _start(self, device: _Device, now: float) -> None:
        job = device.batch[0]
        assert device.lease_id is not None
        started = self.backend.start(job.job_id, device.lease_id, now)
        if started is None:  # more urgent work waits: the batch went back
            self.decisions += 1
            device.batch.clear()
            device.busy, device.lease_id = False, None
            self._changed.add(device.target)
            return
        spec = self.specs[job.job_id]
        end = now + spec.duration
        charged = started.charged_attempts
        device.attempt = started.attempts
        device.test = {"device": device.name, "kind": "test", "job_id": job.job_id,
                       "attempt": charged, "start": now, "end": end,
                       "outcome": spec.outcome(charged)}
        self.events.append(device.test)
        self._push(end, 1, "done", (device, device.generation))

    def _done(self, device: _Device, now: float) -> None:
        assert device.test is not None and device.lease_id is not None
        test, device.test = device.test, None
        outcome = Outcome.PASSED if test["outcome"] == "pass" else Outcome.FAILED
        after = self.backend.report(test["job_id"], device.lease_id, device.attempt,
                                    outcome, now)
        self._settled(after)
        self._changed.add(device.target)
        device.batch.popleft()
        if device.batch:
            self._next(device, now)
        else:
            device.busy, device.lease_id = False, None

    def _settled(self, job: Job) -> None:
        if job.state.is_final:
            self.finished.add(job.job_id)
        elif job.state is JobState.RETRY_WAIT and job.retry_at is not None:
            self._retry_at[job.job_id] = job.retry_at
            self._push(job.retry_at, 0, "maintain", None)

    def _maintain(self, now: float) -> None:
        self._changed.update(d.target for d in self.devices)
        for job_id in self.backend.maintain(now):
            self._stop(job_id, now)

    def _stop(self, job_id: str, now: float) -> None:
        """Hard preemption reached the device: the attempt stops, is requeued without being
        charged, and the rest of the batch goes back too."""
        device = next(d for d in self.devices if d.test and d.test["job_id"] == job_id)
        assert device.test is not None and device.lease_id is not None
        test, device.test = device.test, None
        test["end"], test["outcome"] = now, "preempted"
        device.generation += 1
        self.preemptions += 1
        self.backend.report(job_id, device.lease_id, device.attempt, Outcome.PREEMPTED, now)
        rest = [job.job_id for job in list(device.batch)[1:]]
        if rest:
            self.backend.release(device.lease_id, rest, now)
        device.batch.clear()
        device.busy, device.lease_id = False, None
