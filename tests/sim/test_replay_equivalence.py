"""What the simulator measures is what the server runs: generated traces of every kind replayed
through the simulator (the claim path over the in-memory driver) and through `JobService` on
a real SQLite store with a virtual clock give the same schedule, event by event.

Both replays drive the same simulated devices; only the server behind them differs. Jobs are
put in through the store (to keep the trace's ids, which break ties between jobs submitted
at the same moment); claims, starts, reports, installs, releases and maintenance go through
the service.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from qgjob.domain.attempts import Outcome, RetryPolicy
from qgjob.domain.models import DeviceSpec, Job, NewJob
from qgjob.domain.states import JobState
from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.scheduler.protocol import Policy
from qgjob.scheduler.registry import policy_named
from qgjob.scheduler.views import FleetRules
from qgjob.service import JobService
from qgjob.settings import ServerSettings
from qgjob.sim.engine import AGENT, Simulator
from qgjob.sim.generate import KINDS, generate
from qgjob.sim.trace import Trace, parse_trace
from qgjob.store import open_store
from qgjob.store.base import ClaimResult, JobFilter, Yielded

JOBS_PER_TRACE = 160
"""Each generated trace is cut to its first jobs: enough for builds to overlap, retry, cut in
and share devices, few enough for a real database in CI."""
FOREVER = 1e9


class ServiceBackend:
    """The server as the simulated devices see it: `JobService` over SQLite."""

    def __init__(self, path: Path, trace: Trace, policy: Policy, seed: int) -> None:
        settings = ServerSettings(
            database_url=f"sqlite:///{path}?synchronous=normal", lease_seconds=FOREVER,
            agent_offline_seconds=FOREVER, max_attempts=trace.max_attempts)
        self.store = open_store(settings.database_url)
        self.store.migrate()
        self.now = 0.0
        self.loop = asyncio.new_event_loop()
        self.service = JobService(settings, self.store, policy=policy,
                                  clock=lambda: self.now, rng=random.Random(seed))
        self.service.rules = FleetRules(install_seconds=dict(trace.install_seconds))
        self.service.retry_policy = RetryPolicy()
        self.targets = {d.device_id: d.target for d in trace.devices}
        agent = self._call(self.service.register_agent(
            AGENT, "test", "simulate", [DeviceSpec(d.device_id, d.target) for d in trace.devices]))
        self.agent_id = agent.agent_id

    def _call(self, coroutine):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        self.loop.close()
        self.store.close()

    def submit(self, jobs: Sequence[NewJob], now: float) -> None:
        self.now = now
        self.store.insert_jobs(jobs)

    def claim(self, device: str, holds: str | None, now: float) -> ClaimResult:
        self.now = now
        result: ClaimResult = self._call(self.service.claim_now(
            self.agent_id, device, self.targets[device], holds))
        return result

    def start(self, job_id: str, lease_id: str, now: float) -> Job | None:
        self.now = now
        try:
            job: Job = self._call(self.service.start(self.agent_id, job_id, lease_id))
        except Yielded:
            return None
        return job

    def report(self, job_id: str, lease_id: str, attempt: int, outcome: Outcome,
               now: float) -> Job:
        self.now = now
        job: Job = self._call(self.service.report(self.agent_id, job_id, lease_id, attempt,
                                                  outcome, None))
        return job

    def installed(self, device: str, app_version_id: str, target: str, seconds: float,
                  now: float) -> None:
        self.now = now
        self._call(self.service.record_install(self.agent_id, device, app_version_id, target,
                                               seconds, True))

    def maintain(self, now: float) -> list[str]:
        self.now = now
        self._call(self.service.maintain_once())
        running = self.store.list_jobs(JobFilter(states=frozenset({JobState.RUNNING}),
                                                 limit=10_000))
        return sorted(job.job_id for job in running if job.preempt_requested)

    def release(self, lease_id: str, job_ids: Sequence[str], now: float) -> None:
        self.now = now
        self._call(self.service.release(self.agent_id, lease_id, job_ids))


def trimmed(kind: str, seed: int) -> Trace:
    trace = parse_trace(generate(kind, seed))
    return replace(trace, jobs=trace.jobs[:JOBS_PER_TRACE])


@pytest.mark.parametrize(("kind", "policy"), [
    *[(kind, policy_named("qgjob")) for kind in KINDS],
    ("priority", FairAffinityPolicy(preemption=True)),
], ids=[*KINDS, "priority-preemption"])
def test_the_simulator_and_the_server_make_the_same_schedule(
        kind: str, policy: Policy, tmp_path: Path) -> None:
    trace = trimmed(kind, seed=11)
    simulated = Simulator(trace, policy, seed=5).run().events
    backend = ServiceBackend(tmp_path / "replay.db", trace, policy, seed=5)
    try:
        served = Simulator(trace, policy, seed=5, backend=backend).run().events
    finally:
        backend.close()
    assert len(served) == len(simulated)
    for index, (mine, theirs) in enumerate(zip(simulated, served, strict=True)):
        assert mine == theirs, f"event {index} differs"


def test_a_cut_trace_still_exercises_the_claim_path() -> None:
    """The cut traces keep what the replay is for: several builds per target, retries and
    more than one device per build."""
    for kind in KINDS:
        trace = trimmed(kind, seed=11)
        events = Simulator(trace, policy_named("qgjob"), seed=5).run().events
        tests = [e for e in events if e["kind"] == "test"]
        assert len({e["job_id"] for e in tests}) == len(trace.jobs) > 100
        assert len({(j.app_version_id, j.target) for j in trace.jobs}) > 1, kind
    assert any(e["outcome"] == "fail" for e in tests)
