"""The agent process: registers its devices, runs one worker per device (long-poll a batch,
install the app when the device does not hold it, start, run and report each job) and a
heartbeat that keeps leases alive and carries cancellations.

Stopping is graceful: the first stop request ends claiming, finishes running jobs and hands
back the unstarted rest of each batch; `interrupt=True` also stops running jobs and hands
them back without spending their attempts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from qgjob.agent.client import (
    AgentClient,
    AgentUnknown,
    Assignment,
    DeviceStatus,
    LeaseLost,
    NameInUse,
    Rejected,
    ServerUnavailable,
    YieldToUrgentWork,
)
from qgjob.agent.executors.base import Executor, InstallFailed, JobTicket, Output, RunResult
from qgjob.agent.identity import AgentIdentity
from qgjob.agent.output import OutputStream, refusing
from qgjob.domain.attempts import Outcome
from qgjob.domain.models import DeviceSpec
from qgjob.protocol import limits
from qgjob.protocol.agents import DeviceActivity

log = logging.getLogger("qgjob.agent")
T = TypeVar("T")
_BACKOFF_MAX = 10.0
_REPORT_GIVE_UP_SECONDS = 600.0
_UNAVAILABLE_WARN_EVERY = 60.0
REPORT_OUTPUT_CHARS = limits.REPORT_OUTPUT_MAX // 2
"""At most this much of an attempt's last output rides with its report (half what the server
takes: JSON may escape a character into six bytes, and the body's cap is 64 KiB)."""


@dataclass
class _Device:
    spec: DeviceSpec
    holds: str | None = None
    state: DeviceActivity = "idle"
    lease_id: str | None = None
    job_id: str | None = None
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    interrupted: bool = False
    preempted: bool = False
    install_output: list[str] = field(default_factory=list)
    """What the last install printed; it heads the next job's output."""

    def write(self, text: str) -> None:
        self.install_output.append(text)

    def status(self) -> DeviceStatus:
        return DeviceStatus(name=self.spec.name, state=self.state,
                            holds_app_version_id=self.holds, current_job_id=self.job_id,
                            lease_id=self.lease_id)


class Agent:
    def __init__(
        self, client: AgentClient, name: str, devices: Sequence[DeviceSpec], executor: Executor,
        identity: AgentIdentity | None = None,
    ) -> None:
        """`identity`: this process's hold on its name, with the session it had last."""
        self.client = client
        self.name = name
        self.identity = identity
        self.refused: NameInUse | None = None
        """Set when another live agent holds the name: this one stops."""
        self.executor = executor
        self.devices = [_Device(spec, holds=spec.holds_app_version_id) for spec in devices]
        self.heartbeat_seconds = 5.0
        self.claim_wait_seconds = 30.0
        self.report_output_chars = 0
        """How much output the server takes with a report (0 until it says it takes any)."""
        self._unavailable_since: float | None = None
        self._unavailable_warned_at: float | None = None
        self._stopping = asyncio.Event()
        self._interrupting = False
        self._interrupted = asyncio.Event()
        """Set with `_interrupting`: installs in progress stop too."""
        self._registering = asyncio.Lock()
        self.jobs_run = 0

    # life cycle -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Register, then work until `stop()`."""
        try:
            await self._register()
        except ServerUnavailable:
            log.warning("stopped before the server could be reached")
            return
        heartbeat = asyncio.create_task(self._heartbeat_forever())
        try:
            await asyncio.gather(*(self._work(device) for device in self.devices))
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            log.info("agent %s stopped after %d job(s)", self.name, self.jobs_run)
        if self.refused is not None:
            raise self.refused
        with contextlib.suppress(ServerUnavailable, Rejected):
            await self.client.sign_off()

    def stop(self, interrupt: bool = False) -> None:
        if interrupt and not self._interrupting:
            self._interrupting = True
            self._interrupted.set()
            for device in self.devices:
                if device.job_id is not None:
                    device.interrupted = True
                    device.cancel.set()
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def _register(self, forgotten: str | None = None) -> None:
        """Register (again). Device workers and the heartbeat may all learn at once that the
        server forgot this agent; only the first of them registers, so they do not replace
        each other's sessions (and rescue each other's batches) in a loop."""
        async with self._registering:
            if forgotten is not None and self.client.agent_id != forgotten:
                return  # another worker registered already
            if self.refused is not None:
                return

            async def register() -> None:
                specs = [DeviceSpec(d.spec.name, d.spec.target, d.holds) for d in self.devices]
                registration = await self.client.register(
                    self.name, self.executor.name, specs, replaces=self._last_session())
                self.heartbeat_seconds = registration.heartbeat_seconds
                self.claim_wait_seconds = registration.claim_wait_seconds
                self.report_output_chars = \
                    REPORT_OUTPUT_CHARS if registration.report_takes_output else 0

            try:
                await self._retrying("register", register)
            except NameInUse as refused:
                log.error("%s", refused)
                self.refused = refused
                self.stop()
                if forgotten is None:
                    raise
                return  # run() raises it once the devices have stopped
            if self.identity is not None:
                self.identity.remember(self.client.agent_id)
        log.info("agent %s registered as %s with %d device(s): %s", self.name,
                 self.client.agent_id, len(self.devices),
                 ", ".join(f"{d.spec.name} ({d.spec.target})" for d in self.devices))

    def _last_session(self) -> str | None:
        """The session this process had (the server forgot it), or its predecessor's."""
        if self.client.agent_id:
            return self.client.agent_id
        return self.identity.last_session() if self.identity is not None else None

    # one worker per device ------------------------------------------------------------------

    async def _work(self, device: _Device) -> None:
        while not self.stopping:
            session = self.client.agent_id
            try:
                assignment = await self._claim(device)
                if assignment is not None:
                    await self._run_batch(device, assignment)
            except AgentUnknown:
                await self._register(forgotten=session)
            except ServerUnavailable:
                continue  # only while stopping: the retries gave up
            except Exception:
                log.exception("%s: unexpected error; continuing", device.spec.name)
                await asyncio.sleep(1.0)

    async def _claim(self, device: _Device) -> Assignment | None:
        claim = asyncio.ensure_future(self._retrying(
            f"{device.spec.name} claim",
            lambda: self.client.claim(device.spec.name, device.spec.target, device.holds,
                                      self.claim_wait_seconds),
        ))
        stop = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({claim, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not claim.done():
            claim.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await claim
            return None
        assignment = claim.result()
        if assignment is not None and self.stopping:
            await self._hand_back(assignment.lease_id, [j.job_id for j in assignment.jobs])
            return None
        return assignment

    async def _run_batch(self, device: _Device, batch: Assignment) -> None:
        device.lease_id = batch.lease_id
        try:
            for index, job in enumerate(batch.jobs):
                if self.stopping:
                    await self._hand_back(batch.lease_id, [j.job_id for j in batch.jobs[index:]])
                    return
                if device.holds != batch.app_version_id:
                    failure = await self._install(device, batch)
                    if failure is None and device.holds != batch.app_version_id:
                        # Interrupted while installing: nothing of the batch has started.
                        await self._hand_back(batch.lease_id,
                                              [j.job_id for j in batch.jobs[index:]])
                        return
                    if failure is not None:
                        # The job's attempt fails with the reason (so a build that cannot be
                        # installed ends failed, and a retry prefers another device); the rest
                        # of the batch goes back to the queue.
                        await self._run_job(device, batch.lease_id, job, failure)
                        await self._hand_back(batch.lease_id,
                                              [j.job_id for j in batch.jobs[index + 1:]])
                        return
                try:
                    outcome = await self._run_job(device, batch.lease_id, job)
                except YieldToUrgentWork:
                    log.info("%s: handing its batch back for more urgent work", device.spec.name)
                    return
                if outcome is Outcome.PREEMPTED:
                    await self._hand_back(batch.lease_id,
                                          [j.job_id for j in batch.jobs[index + 1:]])
                    return
        finally:
            device.state, device.lease_id, device.job_id = "idle", None, None

    async def _install(self, device: _Device, batch: Assignment) -> RunResult | None:
        """Install the batch's app; a RunResult saying why when that failed. An interrupting
        stop (a second Ctrl-C, `qgjob up`'s first) stops the install too: the device then
        holds nothing and None is returned."""
        device.state = "installing"
        log.info("%s: installing %s (%s executor)", device.spec.name, batch.app_version_id,
                 self.executor.name)
        started = time.monotonic()
        failure: RunResult | None = None
        device.install_output.clear()
        device.holds = None  # until it is done: a device interrupted midway holds nothing
        installing = asyncio.ensure_future(self.executor.install(
            batch.app_version_id, batch.target, device.spec.name, device))
        interrupted = asyncio.ensure_future(self._interrupted.wait())
        try:
            await asyncio.wait({installing, interrupted}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the worker itself is cancelled: the install goes too
            installing.cancel()
            raise
        finally:
            interrupted.cancel()
        if not installing.done():
            installing.cancel()  # an install's process group is stopped (run_process)
            await asyncio.wait({installing})  # its own end, whatever it raised
            log.info("%s: install of %s interrupted", device.spec.name, batch.app_version_id)
            return None
        try:
            installing.result()
        except InstallFailed as problem:
            log.error("%s: install of %s failed: %s", device.spec.name, batch.app_version_id,
                      problem)
            failure = RunResult(Outcome.FAILED, f"could not install {batch.app_version_id} on "
                                                f"{device.spec.name}: {problem}")
        ok = failure is None
        device.holds = batch.app_version_id if ok else None
        seconds = time.monotonic() - started
        with contextlib.suppress(ServerUnavailable, Rejected, LeaseLost, AgentUnknown):
            await self.client.record_install(device.spec.name, batch.app_version_id,
                                             batch.target, seconds, ok)
        return failure

    async def _run_job(self, device: _Device, lease_id: str, job: JobTicket,
                       known_result: RunResult | None = None) -> Outcome | None:
        """Start, run and report one job; `known_result` reports without running it.
        Returns the reported outcome (None if the job was not ours to run)."""
        try:
            attempt = await self._retrying(
                f"{job.job_id} start", lambda: self.client.start(job.job_id, lease_id)
            )
        except LeaseLost as lost:
            log.info("%s: skipping %s: %s", device.spec.name, job.job_id, lost)
            return None
        device.state, device.job_id, device.interrupted = "running", job.job_id, False
        device.preempted = False
        device.cancel = asyncio.Event()
        if self._interrupting:  # the stop request raced with this start
            device.interrupted = True
            device.cancel.set()
        log.info("%s: running %s %s (attempt %d)", device.spec.name, job.job_id,
                 job.test_path, attempt)
        output = OutputStream(refusing(
            lambda text, offset: self.client.send_output(job.job_id, lease_id, attempt, text,
                                                         offset),
            (LeaseLost, Rejected, AgentUnknown)))
        output.write("".join(device.install_output))
        device.install_output.clear()
        output.start()
        result = known_result or await self._execute(device, job, output)
        tail, tail_offset = await output.close(carry_chars=self.report_output_chars)
        device.state, device.job_id = "idle", None
        self.jobs_run += 1
        await self._upload_files(job, lease_id, attempt, result)
        await self._upload_evidence(job, lease_id, attempt, result)
        try:
            status = await self._retrying(
                f"{job.job_id} report",
                lambda: self.client.report(job.job_id, lease_id, attempt, result.outcome,
                                           result.error, result.cases, tail, tail_offset),
                give_up_after=_REPORT_GIVE_UP_SECONDS, until_stopped=False,
            )
            log.info("%s: %s %s -> %s", device.spec.name, job.job_id, result.outcome.value,
                     status)
        except LeaseLost as lost:
            log.warning("%s: report of %s refused: %s", device.spec.name, job.job_id, lost)
        return result.outcome

    async def _upload_files(self, job: JobTicket, lease_id: str, attempt: int,
                            result: RunResult) -> None:
        for file in result.files:
            try:
                await self.client.upload_file(job.job_id, lease_id, attempt, file)
            except (ServerUnavailable, Rejected, LeaseLost, AgentUnknown) as problem:
                log.warning("%s: report file %s not kept: %s", job.job_id, file.name, problem)

    async def _upload_evidence(self, job: JobTicket, lease_id: str, attempt: int,
                               result: RunResult) -> None:
        """Screenshots first, then traces, then videos (the executor's order): over the
        server's cap a file is refused and listed as dropped, and the next may still fit."""
        try:
            for evidence in result.evidence:
                try:
                    await self.client.upload_evidence(job.job_id, lease_id, attempt, evidence)
                except (ServerUnavailable, Rejected, OSError) as problem:
                    log.warning("%s: evidence %s not kept: %s", job.job_id, evidence.name,
                                problem)
                except (LeaseLost, AgentUnknown) as problem:
                    log.warning("%s: evidence not kept: %s", job.job_id, problem)
                    return
        finally:
            if result.scratch is not None:
                shutil.rmtree(result.scratch, ignore_errors=True)

    async def _execute(self, device: _Device, job: JobTicket, output: Output) -> RunResult:
        try:
            result = await self.executor.run(job, device.spec.name, device.cancel, output)
        except Exception as exc:
            log.exception("%s: executor crashed on %s", device.spec.name, job.job_id)
            return RunResult(Outcome.FAILED, f"executor error: {type(exc).__name__}: {exc}")
        if result.outcome is Outcome.CANCELLED and device.interrupted:
            return RunResult(Outcome.INTERRUPTED, "the agent was stopped during the test")
        if result.outcome is Outcome.CANCELLED and device.preempted:
            return RunResult(Outcome.PREEMPTED, "stopped to make room for more urgent work")
        return result

    async def _hand_back(self, lease_id: str, job_ids: list[str]) -> None:
        if not job_ids:
            return
        with contextlib.suppress(ServerUnavailable, Rejected, LeaseLost, AgentUnknown):
            await self.client.release(lease_id, job_ids)
            log.info("handed back %d unstarted job(s)", len(job_ids))

    # heartbeats -----------------------------------------------------------------------------

    async def _heartbeat_forever(self) -> None:
        """Never ends on an error: without heartbeats every running job would be rescued and
        run again elsewhere."""
        while self.refused is None:
            await asyncio.sleep(self.heartbeat_seconds)
            session, began = self.client.agent_id, time.monotonic()
            try:
                orders = await self.client.heartbeat([d.status() for d in self.devices])
                self._note_reachable(began)
            except AgentUnknown:
                log.warning("the server forgot this agent; registering again")
                with contextlib.suppress(ServerUnavailable):
                    await self._register(forgotten=session)
                continue
            except ServerUnavailable as problem:
                self._note_unavailable("heartbeat", problem)
                continue
            except Rejected as problem:
                log.warning("heartbeat failed: %s", problem)
                continue
            except Exception:
                log.exception("heartbeat failed unexpectedly; trying again")
                continue
            for device in self.devices:
                if device.cancel.is_set() or device.job_id is None:
                    continue
                if device.job_id in orders.cancel:
                    log.info("%s: stopping %s (cancelled by a user)", device.spec.name,
                             device.job_id)
                    device.cancel.set()
                elif device.job_id in orders.preempt:
                    log.info("%s: stopping %s for more urgent work", device.spec.name,
                             device.job_id)
                    device.preempted = True
                    device.cancel.set()

    # retrying -------------------------------------------------------------------------------

    async def _retrying(
        self, what: str, call: Callable[[], Awaitable[T]], *,
        give_up_after: float | None = None, until_stopped: bool = True,
    ) -> T:
        """Call until the server answers; back off while it is unreachable."""
        delay, started = 0.25, time.monotonic()
        while True:
            began = time.monotonic()
            try:
                answer = await call()
            except ServerUnavailable as problem:
                if give_up_after is not None and time.monotonic() - started > give_up_after:
                    raise
                if until_stopped and self.stopping:
                    raise
                self._note_unavailable(what, problem, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)
                continue
            self._note_reachable(began)
            return answer

    def _note_reachable(self, began: float) -> None:
        """A call sent after the server went away got through: it is back. (A long-poll
        sent before the outage may still come back from it.)"""
        if self._unavailable_since is not None and began >= self._unavailable_since:
            log.warning("server reachable again after %.0fs",
                        time.monotonic() - self._unavailable_since)
            self._unavailable_since = self._unavailable_warned_at = None

    def _note_unavailable(self, what: str, problem: Exception,
                          delay: float | None = None) -> None:
        """One warning when the server goes away, and one a minute while it stays away: not
        one per device and retry (50 devices made 15 lines a second). The rest at debug."""
        now = time.monotonic()
        if self._unavailable_since is None:
            self._unavailable_since = now
        if self._unavailable_warned_at is None \
                or now - self._unavailable_warned_at >= _UNAVAILABLE_WARN_EVERY:
            log.warning("server unavailable (%s); every call retries with backoff "
                        "(%s first)", problem, what)
            self._unavailable_warned_at = now
        elif delay is not None:
            log.debug("%s: server unavailable (%s); retrying in %.1fs", what, problem, delay)
        else:
            log.debug("%s: server unavailable (%s)", what, problem)
