"""Dependencies, declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from qgjob.api.auth import dashboard_reader, require
from qgjob.api.events import ChangeFeed
from qgjob.api.params import AgentIdPath
from qgjob.auth.principal import AGENTS, SUBMITTERS, Principal
from qgjob.auth.tokens import Role
from qgjob.evidence import EvidenceService
from qgjob.runs import RunService
from qgjob.service import JobService


def get_service(request: Request) -> JobService:
    service: JobService = request.app.state.service
    return service


ServiceDep = Annotated[JobService, Depends(get_service)]


def get_runs(request: Request) -> RunService:
    runs: RunService = request.app.state.runs
    return runs


RunServiceDep = Annotated[RunService, Depends(get_runs)]


def get_feed(request: Request) -> ChangeFeed:
    feed: ChangeFeed = request.app.state.events
    return feed


FeedDep = Annotated[ChangeFeed, Depends(get_feed)]


def get_evidence(request: Request) -> EvidenceService:
    evidence: EvidenceService = request.app.state.evidence
    return evidence


EvidenceDep = Annotated[EvidenceService, Depends(get_evidence)]

Caller = Annotated[Principal, Depends(require(SUBMITTERS))]
"""Submitters (within their org) and admins: the jobs and cluster endpoints."""
AgentCaller = Annotated[Principal, Depends(require(AGENTS, budget="agent"))]
"""Agent tokens and admins: the agent protocol, with its own rate budget."""
DashboardReader = Annotated[Principal | None, Depends(dashboard_reader)]
"""`/metrics` and `/timeline` (every org's work): admins, or anyone with
QGJOB_PUBLIC_DASHBOARD=true. The dashboard page itself needs no token."""


async def own_agent_session(
    agent_id: AgentIdPath,
    caller: AgentCaller, service: ServiceDep,
) -> str:
    """An agent token acts only on the agent sessions it registered."""
    if caller.role is Role.AGENT:
        owner = await service.agent_owner(agent_id)
        if owner is not None and owner.token_id != caller.token_id:
            raise HTTPException(403, f"agent session {agent_id!r} was registered with "
                                     "another token")
    return agent_id


OwnAgentId = Annotated[str, Depends(own_agent_session)]
