"""The one place that combines the pure core, the scheduling policy and the store.

Store calls are blocking (sqlite3, and later a PostgreSQL pool), so they run in worker
threads; everything else, including the wake-ups of waiting claims, runs on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import ParamSpec, Protocol, TypeVar

from anyio import to_thread

from qgjob import __version__
from qgjob.domain.attempts import Outcome, RetryPolicy, Verdict, after_attempt, after_lost_device
from qgjob.domain.health import Quarantined, TestHealthRow, TestQuery
from qgjob.domain.history import Recording, Timeline
from qgjob.domain.models import (
    Agent,
    Attempt,
    AttemptFile,
    Batch,
    CaseResult,
    Device,
    DeviceSpec,
    GroupKey,
    GroupSummary,
    Job,
    NewJob,
    OutputSlice,
    group_key_for,
)
from qgjob.domain.repeats import FailureEvidence, RepeatRule
from qgjob.domain.runs import NewRun, Run
from qgjob.domain.states import JobState
from qgjob.domain.stats import OrgStats
from qgjob.group_commit import GroupCommit
from qgjob.ids import new_id, new_ids
from qgjob.metrics import Metrics
from qgjob.queue_cap import QueueCap
from qgjob.scheduler.explain import LaneStanding, explain
from qgjob.scheduler.protocol import Policy
from qgjob.settings import ServerSettings
from qgjob.store.base import (
    AgentOwner,
    ClaimResult,
    DeviceNameAmbiguous,
    DeviceReport,
    HeartbeatAck,
    HolderCheck,
    JobFilter,
    LeaseLost,
    NotFound,
    QueueCount,
    Store,
    Transitioned,
    UnknownDevice,
    WriteRefusal,
    WritesRefused,
    Yielded,
)
from qgjob.waiting import QueuePlace, place_of
from qgjob.wakeups import ClaimWaiters

log = logging.getLogger("qgjob.server")
LEASE_OWNERS_KEPT = 10_000
COUNTED_STEPS = 5.0
"""Device time is counted each maintenance pass; a gap of more than this many passes (the
server was down or stalled) counts as this many, not as what the devices did unseen."""
"""Leases whose agent the service remembers (the oldest are forgotten first)."""
PRUNE_EVERY_SECONDS = 3600.0
HOURLY_STATS_SECONDS = 2 * 86400.0
"""Per-org statistics are kept per hour this far back, per day before."""
P = ParamSpec("P")
T = TypeVar("T")


class JobRequest(Protocol):
    """A validated submission (the API checked every value; its `JobCreate` is one)."""

    @property
    def org_id(self) -> str: ...
    @property
    def app_version_id(self) -> str: ...
    @property
    def test_path(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def max_attempts(self) -> int | None: ...
    @property
    def idempotency_key(self) -> str | None: ...


@dataclass(frozen=True)
class Health:
    version: str
    database: str
    schema_version: int
    writes_refused: WriteRefusal | None
    """Set while the database refuses writes (writes answer 503 meanwhile)."""


@dataclass(frozen=True)
class Submitted:
    job: Job
    replayed: bool
    """True when an idempotency key matched a job submitted before."""


class JobService:
    def __init__(
        self,
        settings: ServerSettings,
        store: Store,
        *,
        policy: Policy | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.store = store
        self.policy = policy or settings.scheduling_policy()
        self.rules = settings.fleet_rules()
        self.clock = clock
        self.waiters = ClaimWaiters()
        self.retry_policy = RetryPolicy(
            base_seconds=settings.retry_base_seconds,
            max_seconds=settings.retry_max_seconds,
            max_infra_failures=settings.max_infra_failures,
            repeat_rule=RepeatRule(settings.retry_stop_on_repeat),
        )
        self._pruned_at = -math.inf
        self._usage_counted_at = -math.inf
        self._rng = rng or random.Random()
        self._draining = False
        self._submits = GroupCommit(lambda jobs: self._run(self.store.insert_jobs, jobs))
        self.queue_cap = QueueCap(settings.max_queued_jobs_per_org,
                                  lambda org: self._run(self.store.queued_jobs_of_org, org))
        self._lease_owners: dict[str, str] = {}
        self.maintenance_hooks: list[Callable[[float], Awaitable[None]]] = []
        """Called with `now` at the end of each maintenance pass (evidence retention)."""
        self._store_calls = 0
        self._store_calls_lock = threading.Lock()

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn` on a worker thread. A cancelled caller stops waiting, but a call its thread
        began runs on: it is counted from its start to its return, so `settle` can wait for
        it (one cancelled before a thread took it never starts)."""
        def counted() -> T:
            with self._store_calls_lock:
                self._store_calls += 1
            try:
                return fn(*args, **kwargs)
            finally:
                with self._store_calls_lock:
                    self._store_calls -= 1

        return await to_thread.run_sync(counted)

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until no store call is under way (before the store is closed: closing
        SQLite under a running call crashes the process)."""
        deadline = time.monotonic() + timeout
        while self._store_calls and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    # jobs -----------------------------------------------------------------------------------

    async def submit(self, requests: Sequence[JobRequest], run_id: str | None = None
                     ) -> list[Submitted]:
        """Store the jobs (all or none), in run `run_id` if given (the caller checked it may
        join it). With idempotency keys, a request seen before gives back the job it created
        then (`replayed`). QueueFull when an org's queue has no room for its jobs (nothing is
        stored then)."""
        now = self.clock()
        await self.queue_cap.admit(Counter(r.org_id for r in requests), now)
        new_jobs = self._new_jobs(requests, now, run_id)
        jobs = await self._submits.submit(new_jobs)
        self._wake_for(jobs)
        return [Submitted(job, replayed=job.job_id != new.job_id)
                for job, new in zip(jobs, new_jobs, strict=True)]

    async def submit_run(self, run: NewRun, requests: Sequence[JobRequest]
                         ) -> tuple[Run, list[Job], bool]:
        """Store a run with its jobs, all or none (see `RunStore.insert_run`)."""
        await self.queue_cap.admit(Counter(r.org_id for r in requests), run.created_at)
        new_jobs = self._new_jobs(requests, run.created_at, run.run_id)
        stored, jobs, created = await self._run(self.store.insert_run, run, new_jobs)
        if created:
            self._wake_for(jobs)
        return stored, jobs, created

    async def store_call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A store call on a worker thread, counted like the service's own (for the services
        built on this one: qgjob/runs.py)."""
        return await self._run(fn, *args, **kwargs)

    def _new_jobs(self, requests: Sequence[JobRequest], now: float, run_id: str | None
                  ) -> list[NewJob]:
        ids = new_ids(len(requests), now)
        groups: dict[tuple[str, str, str], GroupKey] = {}  # a batch has few: build each once
        new_jobs = []
        for job_id, r in zip(ids, requests, strict=True):
            work = (r.org_id, r.app_version_id, r.target)
            group = groups.get(work)
            if group is None:
                group = groups[work] = group_key_for(*work, per_org=self.settings.group_by_org)
            new_jobs.append(NewJob(
                job_id=job_id, org_id=r.org_id, app_version_id=r.app_version_id,
                test_path=r.test_path, target=r.target, priority=r.priority,
                max_attempts=r.max_attempts or self.settings.max_attempts, group=group,
                created_at=now, idempotency_key=r.idempotency_key, run_id=run_id,
                max_attempts_asked=r.max_attempts is not None))
        return new_jobs

    async def get_job(self, job_id: str) -> Job | None:
        return await self._run(self.store.get_job, job_id)

    async def list_jobs(self, query: JobFilter) -> list[Job]:
        return await self._run(self.store.list_jobs, query)

    async def cancel(self, job_id: str) -> Transitioned:
        change = await self._run(self.store.cancel_job, job_id, self.clock())
        log.info("job %s cancel: %s -> %s", job_id, change.before.state, change.after.state)
        return change

    async def groups(self, include_finished: bool = False, limit: int = 500) -> list[GroupSummary]:
        return await self._run(self.store.groups, include_finished, limit)

    async def org_groups(self, org_id: str, include_finished: bool = False, limit: int = 500
                         ) -> list[GroupSummary]:
        """The groups as one org may see them: only its own jobs in each."""
        return await self._run(self.store.org_groups, org_id, include_finished, limit)

    async def queue_counts(self) -> list[QueueCount]:
        return await self._run(self.store.queue_counts)

    async def queue_standings(self, target: str | None = None) -> list[LaneStanding]:
        """Every queued lane (of `target`, if given) with its place in line and a start
        estimate."""
        views = await self._run(self.store.queue_views, self.clock(), self.rules, target,
                                   self.policy)
        return [standing for view in views for standing in explain(view, self.policy)]

    async def queue_place(self, job: Job) -> QueuePlace:
        """Why the job waits, if it does: its build's standing and its place in the build
        (only its target's lanes are explained)."""
        queued = job.state is JobState.QUEUED
        standings = await self.queue_standings(job.target) if queued else []
        ahead = await self._run(self.store.jobs_ahead_in_lane, job) if queued else None
        return place_of(job, standings, ahead, self.clock())

    async def health(self) -> Health:
        await self._run(self.store.ping)
        return Health(
            version=__version__,
            database=getattr(self.store, "dialect", "unknown"),
            schema_version=await self._run(self.store.schema_version),
            writes_refused=await self._run(self.store.write_refusal),
        )

    # history --------------------------------------------------------------------------------

    async def job_attempts(self, job_id: str) -> list[Attempt]:
        return await self._run(self.store.job_attempts, job_id)

    async def timeline(self, seconds: float, limit: int) -> Timeline:
        """What every device did in the last `seconds`."""
        now = self.clock()
        return await self._run(self.store.timeline, now - seconds, now, limit)

    async def change_marker(self) -> tuple[object, ...]:
        return await self._run(self.store.change_marker)

    # test health ----------------------------------------------------------------------------

    async def test_health(self, query: TestQuery) -> list[TestHealthRow]:
        return await self._run(self.store.test_health, query)

    async def quarantine(self, org_id: str, test_path: str, reason: str | None,
                         added_by: str | None) -> tuple[Quarantined, bool]:
        return await self._run(self.store.quarantine_test, org_id, test_path, reason,
                               added_by, self.clock())

    async def unquarantine(self, org_id: str, test_path: str) -> bool:
        return await self._run(self.store.unquarantine_test, org_id, test_path)

    async def quarantined(self, org_id: str | None, limit: int = 1000) -> list[Quarantined]:
        return await self._run(self.store.quarantined_tests, org_id, limit)

    async def org_stats(self, org_id: str | None, days: float) -> list[OrgStats]:
        return await self._run(self.store.org_stats, org_id, self.clock() - days * 86400)

    async def prune_test_history(self) -> None:
        """Forget tests not seen within the retention, and keep older per-org statistics
        per day instead of per hour; at most once an hour."""
        now = self.clock()
        if now - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = now
        before = now - self.settings.test_history_days * 86400
        if gone := await self._run(self.store.prune_test_history, before):
            log.info("test history: forgot %d rows not seen for %g days", gone,
                     self.settings.test_history_days)
        await self._run(self.store.roll_up_org_hours, now - HOURLY_STATS_SECONDS)

    # agents ---------------------------------------------------------------------------------

    async def register_agent(
        self, name: str, version: str, executor: str, devices: Sequence[DeviceSpec],
        token_id: str | None = None,
        holder_check: HolderCheck | None = None,
    ) -> Agent:
        agent = await self._run(
            self.store.register_agent, new_id(), name, version, executor, devices, self.clock(),
            token_id, holder_check,
        )
        log.info("agent %s registered (%s) with %d devices", name, agent.agent_id,
                 len(agent.devices))
        return agent

    async def sign_off(self, agent_id: str) -> None:
        if await self._run(self.store.sign_off, agent_id):
            log.info("agent session %s signed off", agent_id)
        else:
            log.debug("sign-off of agent session %s: no session to end (ended before, or "
                      "never was)", agent_id)

    async def list_agents(self) -> list[Agent]:
        return await self._run(self.store.list_agents)

    async def agent_owner(self, agent_id: str) -> AgentOwner | None:
        return await self._run(self.store.agent_owner, agent_id)

    async def heartbeat(self, agent_id: str, devices: Sequence[DeviceReport]) -> HeartbeatAck:
        return await self._run(
            self.store.heartbeat, agent_id, devices, self.clock(), self.settings.lease_seconds
        )

    async def record_install(
        self, agent_id: str, device: str, app_version_id: str, target: str,
        seconds: float, ok: bool,
    ) -> None:
        now = self.clock()
        resting = await self._run(self.store.record_install, agent_id, device, app_version_id,
                                  target, now - seconds, now, ok,
                                  self.settings.device_failure_limit)
        self.metrics.install_recorded(target, ok, seconds)
        if resting is not None:
            log.warning("device %s of agent session %s is out of rotation: %s", device,
                        agent_id, resting)

    # the claim path -------------------------------------------------------------------------

    async def claim(
        self,
        agent_id: str,
        device: str,
        target: str,
        holds_app_version_id: str | None,
        wait_seconds: float,
        gone: Callable[[], Awaitable[bool]] | None = None,
    ) -> Batch | None:
        """Hand the device a batch, waiting up to `wait_seconds` for one to appear."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(wait_seconds, self.settings.claim_wait_seconds)
        while not self._draining:
            with self.waiters.waiting(target, holds_app_version_id) as woken:
                result = await self.claim_now(agent_id, device, target, holds_app_version_id)
                if result.batch is not None:
                    return result.batch
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                try:
                    timeout = min(remaining, self.settings.claim_poll_seconds)
                    if result.look_again_at is not None:  # a wait the policy set ends then
                        timeout = min(timeout, max(result.look_again_at - self.clock(), 0.0))
                    await asyncio.wait_for(woken.wait(), timeout)
                except TimeoutError:
                    pass
            if gone is not None and await gone():
                return None
        return None

    async def claim_now(self, agent_id: str, device: str, target: str,
                        holds_app_version_id: str | None) -> ClaimResult:
        """One claim decision, without waiting: the batch, or why none and when to ask again."""
        began = time.perf_counter()
        result = await self._run(
            self.store.claim_batch, agent_id, device, holds_app_version_id,
            self.clock(), self.settings.lease_seconds, self.policy, self.rules, target,
        )
        self.metrics.claimed(target, time.perf_counter() - began, result.batch is not None)
        if result.batch is not None:
            self._log_batch(device, result.batch)
        return result

    async def _check_lease(self, agent_id: str, lease_id: str) -> None:
        """A lease's agent never changes, so it is read once per lease, not on every start,
        report and log line of its jobs. A lease the store no longer has is left to the
        store call that follows (it says why)."""
        owner = self._lease_owners.get(lease_id)
        if owner is None:
            owner = await self._run(self.store.lease_agent, lease_id)
            if owner is None:
                return
            self._lease_owners[lease_id] = owner
            if len(self._lease_owners) > LEASE_OWNERS_KEPT:
                del self._lease_owners[next(iter(self._lease_owners))]
        if owner != agent_id:
            raise LeaseLost(f"lease {lease_id} belongs to another agent")

    async def start(self, agent_id: str, job_id: str, lease_id: str) -> Job:
        """Raises Yielded when urgent work should take this device: the rest of its batch
        is back in the queue."""
        await self._check_lease(agent_id, lease_id)
        try:
            return await self._run(self.store.start_attempt, job_id, lease_id, self.clock(),
                                   self.policy, self.rules)
        except Yielded:
            job = await self.get_job(job_id)
            if job is not None:
                self._wake_for([job])
            raise

    async def report(
        self, agent_id: str, job_id: str, lease_id: str, attempt: int, outcome: Outcome,
        error: str | None, cases: Sequence[CaseResult] = (), last_output: str = "",
        output_offset: int | None = None,
    ) -> Job:
        await self._check_lease(agent_id, lease_id)
        now = self.clock()
        draw = self._rng.random()
        # Earlier attempts are finished and do not change: read outside the transaction.
        evidence: FailureEvidence | None = None
        if outcome is Outcome.FAILED:
            evidence = await self._run(self.store.failure_evidence, job_id,
                                       self.settings.flaky_threshold)

        def decide(job: Job) -> Verdict:
            return after_attempt(job, outcome, error, now, self.retry_policy, draw, evidence)

        change = await self._run(
            self.store.finish_attempt, job_id, lease_id, attempt, outcome, error, now, decide,
            cases, last_output, output_offset,
        )
        if change.before is not change.after:
            log.info("job %s attempt %d %s -> %s", job_id, attempt, outcome.value,
                     change.after.state.value)
            if change.attempt_seconds is not None:
                self.metrics.attempt_finished(change.after.target, outcome.value,
                                              change.attempt_seconds)
        self._wake_for([change.after])
        return change.after

    async def append_output(
        self, agent_id: str, job_id: str, lease_id: str, attempt: int, text: str,
        offset: int | None = None,
    ) -> None:
        await self._check_lease(agent_id, lease_id)
        await self._run(self.store.append_output, job_id, lease_id, attempt, text, offset)

    async def save_file(
        self, agent_id: str, job_id: str, lease_id: str, attempt: int, file: AttemptFile
    ) -> None:
        await self._check_lease(agent_id, lease_id)
        await self._run(self.store.save_file, job_id, lease_id, attempt, file)

    async def check_running_attempt(self, agent_id: str, job_id: str, lease_id: str,
                                    attempt: int) -> None:
        """LeaseLost unless `attempt` is the job's running attempt under this agent's lease."""
        await self._check_lease(agent_id, lease_id)
        job = await self.get_job(job_id)
        if job is None:
            raise NotFound(f"job {job_id!r} not found")
        if job.state is not JobState.RUNNING or job.lease_id != lease_id \
                or job.attempts != attempt:
            raise LeaseLost(f"job {job_id} is {job.state.value}, attempt {job.attempts}: "
                            f"attempt {attempt} under lease {lease_id} is over")

    async def read_output(self, job_id: str, attempt: int | None, offset: int
                          ) -> OutputSlice | None:
        return await self._run(self.store.read_output, job_id, attempt, offset)

    async def last_cases(self, job_id: str) -> list[CaseResult]:
        return await self._run(self.store.last_cases, job_id)

    async def list_files(self, job_id: str) -> list[tuple[int, str, str, int]]:
        return await self._run(self.store.list_files, job_id)

    async def read_file(self, job_id: str, attempt: int, name: str) -> AttemptFile | None:
        return await self._run(self.store.read_file, job_id, attempt, name)

    async def release(self, agent_id: str, lease_id: str, job_ids: Sequence[str]) -> list[Job]:
        await self._check_lease(agent_id, lease_id)
        released = await self._run(self.store.release_jobs, lease_id, job_ids, self.clock())
        self._wake_for(released)
        return released

    # maintenance ----------------------------------------------------------------------------

    async def maintain_once(self) -> None:
        """Rescue expired leases, requeue due retries, mark silent agents offline."""
        now = self.clock()

        def decide(job: Job) -> Verdict:
            reason = f"lost its device {job.device_id} (the agent stopped heartbeating)"
            return after_lost_device(job, reason, self.retry_policy)

        rescued = await self._run(self.store.rescue_expired_leases, now, decide,
                                  self.settings.device_failure_limit)
        for change in rescued:
            log.warning("job %s rescued from an expired lease: %s -> %s", change.after.job_id,
                        change.before.state.value, change.after.state.value)
        promoted = await self._run(self.store.promote_due_retries, now)
        offline = await self._run(
            self.store.mark_agents_offline, now - self.settings.agent_offline_seconds, now
        )
        if self.policy.preempts:
            for job_id in await self._run(self.store.preempt_for_urgent_work, now,
                                          self.policy, self.rules):
                log.warning("job %s will be preempted for more urgent work", job_id)
        for agent_id in offline:
            log.warning("agent %s is offline (no heartbeat)", agent_id)
        await self.prune_test_history()
        await self.count_device_time(now)
        self._wake_for([c.after for c in rescued] + promoted)
        for hook in self.maintenance_hooks:
            await hook(now)

    async def count_device_time(self, now: float) -> None:
        """Every `usage_count_seconds` (or maintenance pass, if rarer); a step longer than
        a few of them is time the server did not watch (it was down), not counted."""
        every = max(self.settings.usage_count_seconds, self.settings.maintenance_seconds)
        if now - self._usage_counted_at >= every:
            self._usage_counted_at = now
            await self._run(self.store.count_device_time, now, COUNTED_STEPS * every)

    # fleet operations -----------------------------------------------------------------------

    async def drain_agent(self, name: str) -> list[Job]:
        """The agent finishes what it runs and takes no new work; the unstarted jobs of its
        batches go back to the queue at once (returned)."""
        released = await self._run(self.store.drain_agent, name, self.clock())
        log.info("agent %s is draining; %d unstarted job(s) of its batches went back to the "
                 "queue", name, len(released))
        self._wake_for(released)
        return released

    async def undrain_agent(self, name: str) -> bool:
        was = await self._run(self.store.undrain_agent, name)
        log.info("agent %s takes work again", name)
        self.waiters.wake_all()  # its devices' waiting claims look again now
        return was

    async def remove_agent(self, name: str) -> None:
        await self._run(self.store.remove_agent, name, self.clock(),
                        self.settings.agent_offline_seconds)
        log.info("agent %s was removed", name)

    async def enable_device(self, name: str) -> tuple[Agent, Device]:
        """`name`: a device id (`AGENT/DEVICE`) or a device name no other agent uses. The
        device as it is now, with its agent."""
        _, device = find_device(await self.list_agents(), name)
        await self._run(self.store.enable_device, device.device_id)
        log.info("device %s %s, its failure count reset", device.device_id,
                 "is back in rotation" if device.disabled_reason else "was in rotation already")
        self.waiters.wake_all()
        return find_device(await self.list_agents(), device.device_id)

    async def recording(self, seconds: float) -> Recording:
        now = self.clock()
        return await self._run(self.store.recording, now - seconds, now)

    def drain(self) -> None:
        """The server is shutting down: answer waiting claims now (no work), take no more."""
        self._draining = True
        self.waiters.wake_all()

    async def start_up(self) -> None:
        """Runs once when the server starts, before maintenance."""
        loop = asyncio.get_running_loop()

        def wake(target: str, app_version_id: str, count: int) -> None:
            loop.call_soon_threadsafe(self.waiters.notify, target, app_version_id, count)

        self.store.watch_work(wake)
        extended = await self._run(self.store.grant_restart_grace, self.clock(),
                                   self.settings.lease_seconds,
                                   2 * self.settings.heartbeat_seconds)
        if extended:
            log.info("gave %d batch lease(s) one more term for their agents to reconnect",
                     extended)

    async def maintain_forever(self) -> None:
        """Maintenance passes, on the one server (of those sharing a database) that leads."""
        while True:
            try:
                if await self._run(self.store.leads_maintenance):
                    await self.maintain_once()
            except WritesRefused:
                pass  # the store said so once; the next pass tries again
            except Exception:
                log.exception("maintenance pass failed; trying again")
            await asyncio.sleep(self.settings.maintenance_seconds)

    # helpers --------------------------------------------------------------------------------

    def _wake_for(self, jobs: Iterable[Job]) -> None:
        counts: dict[tuple[str, str], int] = {}
        for job in jobs:
            if job.state is JobState.QUEUED:
                key = (job.target, job.app_version_id)
                counts[key] = counts.get(key, 0) + 1
        for (target, app_version_id), count in counts.items():
            self.waiters.notify(target, app_version_id, count)

    def _log_batch(self, device: str, batch: Batch) -> None:
        log.info("device %s got %d job(s) of %s/%s under lease %s", device, len(batch.jobs),
                 batch.target, batch.app_version_id, batch.lease.lease_id)


def find_device(agents: Sequence[Agent], name: str) -> tuple[Agent, Device]:
    """The device with id `name`, or the one device called `name`, and its agent."""
    devices = [(agent, d) for agent in agents for d in agent.devices]
    exact = [pair for pair in devices if pair[1].device_id == name]
    named = exact or [pair for pair in devices if pair[1].name == name]
    if not named:
        raise UnknownDevice(f"no device {name!r} (see `qgjob devices`)")
    if len(named) > 1:
        raise DeviceNameAmbiguous(
            f"{len(named)} agents have a device {name!r}: say which, e.g. "
            f"{named[0][1].device_id!r}")
    return named[0]
