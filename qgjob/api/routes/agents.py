"""The agent protocol: register, long-poll for a batch, start and report each job,
heartbeat, hand back unstarted work, record installs."""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Request, Response, status

from qgjob import __version__
from qgjob.api.deps import AgentCaller, OwnAgentId, ServiceDep
from qgjob.api.errors import invalid_input, report_limit
from qgjob.api.params import JobIdPath, LeaseIdPath
from qgjob.api.problems import ERROR_RESPONSES
from qgjob.auth.tokens import Role
from qgjob.domain.models import AttemptFile, CaseResult, DeviceSpec
from qgjob.protocol.agents import (
    AgentRegistered,
    AgentRegistration,
    AttemptReport,
    BatchPublic,
    ClaimRequest,
    FileUpload,
    Heartbeat,
    HeartbeatReply,
    InstallReport,
    OutputChunk,
    ReleaseRequest,
    StartRequest,
)
from qgjob.protocol.cluster import AgentPublic
from qgjob.protocol.fields import iso
from qgjob.protocol.jobs import JobList, JobPublic
from qgjob.store.base import AgentNameInUse, AgentOwner, DeviceReport

router = APIRouter(prefix="/agents", tags=["agent protocol"], responses=ERROR_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AgentRegistered)
async def register(body: AgentRegistration, service: ServiceDep,
                   caller: AgentCaller) -> AgentRegistered:
    """An agent process announces itself and its devices. A name is one agent's: while a
    session under it is live (heard from within a lease), registering under it again is
    refused (409, `agent_name_in_use`), unless it comes from that session's own process
    after a restart (`replaces_agent_id`). A stale session is taken over: its unfinished
    batches are rescued at once. The session belongs to the token it registered with."""
    def holder_check(running: AgentOwner | None) -> None:
        """In the registration's transaction: two registrations at once must not both
        find the name free. The time is read here, once the name is this registration's
        to check: the holder may have registered while it waited."""
        if running is None:
            return
        if caller.role is Role.AGENT and running.token_id != caller.token_id:
            raise AgentNameInUse(f"agent name {body.name!r} is in use by an online session "
                                 "of another token")
        if running.agent_id != body.replaces_agent_id:
            check_name_free(body.name, running, service.clock(),
                            service.settings.lease_seconds)

    devices = [DeviceSpec(d.name, d.target, d.holds_app_version_id) for d in body.devices]
    agent = await service.register_agent(
        body.name, body.version or __version__, body.executor or "unknown", devices,
        token_id=caller.token_id, holder_check=holder_check,
    )
    settings = service.settings
    return AgentRegistered(
        agent=AgentPublic.of(agent),
        heartbeat_seconds=settings.heartbeat_seconds,
        lease_seconds=settings.lease_seconds,
        claim_wait_seconds=settings.claim_wait_seconds,
        report_max_bytes=report_limit(settings.max_body_bytes),
    )


def check_name_free(name: str, running: AgentOwner, now: float, lease_seconds: float) -> None:
    """Two processes under one name would take each other's devices and batches in turn."""
    quiet = max(now - (running.last_seen_at or 0.0), 0.0)
    if quiet < lease_seconds:
        raise AgentNameInUse(
            f"another live agent holds the name {name!r} (heard from {quiet:.0f} s ago); "
            f"give this one another --name, or stop that one (a name is free again "
            f"{lease_seconds:g} s after its agent's last heartbeat)")


@router.post("/{agent_id}/claim", response_model=BatchPublic,
             responses={204: {"description": "no work within wait_seconds"}})
async def claim(
    agent_id: OwnAgentId, body: ClaimRequest, request: Request, service: ServiceDep
) -> BatchPublic | Response:
    """Long-poll: answered the moment a batch for this device exists, or 204 after
    `wait_seconds`."""
    batch = await service.claim(
        agent_id, body.device, body.target, body.holds_app_version_id, body.wait_seconds,
        gone=request.is_disconnected,
    )
    if batch is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return BatchPublic.of(batch)


@router.post("/{agent_id}/jobs/{job_id}/start", response_model=JobPublic,
             responses={409: {"description": "the job left this lease (cancelled, rescued)"}})
async def start(agent_id: OwnAgentId, job_id: JobIdPath, body: StartRequest,
                service: ServiceDep) -> JobPublic:
    return JobPublic.of(await service.start(agent_id, job_id, body.lease_id))


@router.post("/{agent_id}/jobs/{job_id}/report", response_model=JobPublic,
             responses={409: {"description": "the job left this lease; the report is refused"}})
async def report(
    agent_id: OwnAgentId, job_id: JobIdPath, body: AttemptReport, service: ServiceDep
) -> JobPublic:
    cases = [CaseResult(c.title, c.status, c.duration_seconds, c.error, c.file)
             for c in body.tests]
    job = await service.report(agent_id, job_id, body.lease_id, body.attempt, body.outcome,
                               body.error, cases, last_output=body.output,
                               output_offset=body.output_offset)
    return JobPublic.of(job)


@router.post("/{agent_id}/jobs/{job_id}/output", status_code=status.HTTP_204_NO_CONTENT,
             responses={409: {"description": "the job left this lease; or `output_gap`: the "
                                             "`offset` is past what the server holds"}})
async def append_output(agent_id: OwnAgentId, job_id: JobIdPath, body: OutputChunk,
                        service: ServiceDep) -> Response:
    """A chunk of the running attempt's stdout/stderr (the last 1 MiB is kept). With
    `offset`, a chunk the server partly holds adds only its new part, and one that starts
    past the end is refused (409 `output_gap`, with `next_offset`) rather than stored after a
    hole."""
    await service.append_output(agent_id, job_id, body.lease_id, body.attempt, body.text,
                                body.offset)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{agent_id}/jobs/{job_id}/files", status_code=status.HTTP_204_NO_CONTENT,
             responses={409: {"description": "the job left this lease"}})
async def save_file(agent_id: OwnAgentId, job_id: JobIdPath, body: FileUpload,
                    service: ServiceDep) -> Response:
    """A report file of the running attempt (JSON, JUnit XML…), base64-encoded; up to 6 MiB."""
    try:
        content = base64.b64decode(body.content_base64, validate=True)
    except (binascii.Error, ValueError):  # ValueError: characters beyond ASCII
        raise invalid_input("content_base64", "is not valid base64") from None
    await service.save_file(agent_id, job_id, body.lease_id, body.attempt,
                            AttemptFile(body.name, body.media_type, content))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{agent_id}/leases/{lease_id}/release", response_model=JobList)
async def release(
    agent_id: OwnAgentId, lease_id: LeaseIdPath, body: ReleaseRequest, service: ServiceDep
) -> JobList:
    """Hand back jobs of a batch that were not started (e.g. the agent is shutting down)."""
    jobs = await service.release(agent_id, lease_id, body.job_ids)
    return JobList.of(jobs)


@router.post("/{agent_id}/sign-off", status_code=status.HTTP_204_NO_CONTENT)
async def sign_off(agent_id: OwnAgentId, service: ServiceDep) -> Response:
    """The agent stopped, its work handed back: the session goes offline and its name is
    free for another process at once (otherwise only once it misses a lease of
    heartbeats). The session has ended, as one taken over has: its claims and installs
    answer 404 (`register_again`), its heartbeats `known: false`. Leases it still holds are
    left to their own rules: not extended, they run out and are rescued."""
    await service.sign_off(agent_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{agent_id}/heartbeat", response_model=HeartbeatReply)
async def heartbeat(agent_id: OwnAgentId, body: Heartbeat, service: ServiceDep) -> HeartbeatReply:
    """Extends the leases of devices that report working on them; answers with the running
    jobs a user cancelled. `known: false` tells the agent to register again."""
    reports = [
        DeviceReport(d.name, d.state, d.holds_app_version_id, d.current_job_id, d.lease_id)
        for d in body.devices
    ]
    ack = await service.heartbeat(agent_id, reports)
    return HeartbeatReply(known=ack.known, cancel_job_ids=list(ack.cancel_job_ids),
                          preempt_job_ids=list(ack.preempt_job_ids),
                          lease_expires_at=iso(ack.lease_expires_at))


@router.post("/{agent_id}/installs", status_code=status.HTTP_204_NO_CONTENT,
             responses={409: {"description": "the device is registered for another target"}})
async def record_install(agent_id: OwnAgentId, body: InstallReport,
                         service: ServiceDep) -> Response:
    """An install on a device, for its registered target (409 for another, as a claim)."""
    await service.record_install(agent_id, body.device, body.app_version_id, body.target,
                                 body.seconds, body.ok)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
