"""Looking at the system: groups, agents, the queue, health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from qgjob.api.deps import Caller, ServiceDep
from qgjob.api.problems import ERROR_RESPONSES
from qgjob.api.visibility import (
    visible_agents,
    visible_counts,
    visible_groups,
    visible_standings,
)
from qgjob.protocol import limits
from qgjob.protocol.cluster import (
    AgentList,
    AgentPublic,
    GroupList,
    GroupPublic,
    Health,
    LaneWaiting,
    QueueRow,
    QueueSummary,
)
from qgjob.protocol.fields import iso

router = APIRouter(tags=["cluster"])


@router.get("/groups", response_model=GroupList, responses=ERROR_RESPONSES)
@router.get("/debug/groups", response_model=GroupList, include_in_schema=False)
async def list_groups(
    service: ServiceDep,
    caller: Caller,
    all: Annotated[bool, Query(description="include groups whose jobs all finished")] = False,
    limit: Annotated[int, Query(ge=1, le=limits.MAX_LIST_LIMIT)] = 500,
) -> GroupList:
    """Jobs grouped by (app_version_id, target): one app install serves a whole group.
    Groups with queued or running jobs, oldest first; `?all=true` adds finished ones. A
    submitter token sees the groups holding its org's jobs, and only those jobs in them."""
    groups = await visible_groups(service, caller, all, limit)
    return GroupList(groups=[GroupPublic.of(g) for g in groups])


@router.get("/agents", response_model=AgentList, responses=ERROR_RESPONSES)
async def list_agents(service: ServiceDep, caller: Caller) -> AgentList:
    """Agents, their devices, the app each device holds and the job it runs (for a submitter
    token, only on devices running its org's jobs)."""
    agents = await visible_agents(service, caller)
    return AgentList(agents=[AgentPublic.of(a) for a in agents])


@router.get("/queue", response_model=QueueSummary, responses=ERROR_RESPONSES)
async def queue_summary(service: ServiceDep, caller: Caller) -> QueueSummary:
    """Queued and running jobs by priority, target and org, and each waiting build's place
    in line with a start estimate. A submitter token sees its own org's counts and builds
    (their place in line counts every org's)."""
    rows = visible_counts(caller, await service.queue_counts())
    standings = visible_standings(caller, await service.queue_standings())
    by_priority: dict[str, int] = {}
    by_target: dict[str, int] = {}
    by_org: dict[str, int] = {}
    for row in rows:
        by_priority[str(row.priority)] = by_priority.get(str(row.priority), 0) + row.queued
        by_target[row.target] = by_target.get(row.target, 0) + row.queued
        by_org[row.org_id] = by_org.get(row.org_id, 0) + row.queued
    return QueueSummary(
        queued=sum(r.queued for r in rows),
        running=sum(r.running for r in rows),
        by_priority=by_priority,
        by_target=by_target,
        by_org=by_org,
        rows=[QueueRow(priority=r.priority, target=r.target, org_id=r.org_id,
                       queued=r.queued, running=r.running) for r in rows],
        lanes=[LaneWaiting(
            target=s.lane.target, app_version_id=s.lane.app_version_id, org_id=s.lane.org_id,
            group_key=s.lane.group_key, queued=s.lane.queued, top_priority=s.lane.top_priority,
            band=s.band, position=s.position, devices_working=s.devices_working,
            reason=s.reason, estimated_start_at=iso(s.estimated_start),
            devices_worth=s.devices_worth,
        ) for s in standings],
    )


@router.get("/health", response_model=Health, responses={
    503: {"description": "the database is unreachable (`status: unavailable`), or it refuses "
                         "writes (`status: degraded`, `writes: refused`)"}})
async def health(service: ServiceDep) -> Health | JSONResponse:
    """200 when the server and its database answer and take writes. 503 while the database
    refuses writes (a full disk): the server cannot take submits, claims or reports, so a
    monitor or a readiness probe that reads only the status code notices; reads still work,
    and it turns 200 by itself once a write succeeds."""
    try:
        state = await service.health()
    except Exception as exc:  # the database is down or unreadable
        return JSONResponse({"status": "unavailable", "detail": str(exc)[:200]}, 503)
    health = Health(status="ok", version=state.version, database=state.database,
                    schema_version=state.schema_version)
    refusal = state.writes_refused
    if refusal is None:
        return health
    health = health.model_copy(update={
        "status": "degraded", "writes": "refused", "writes_refused_since": iso(refusal.since),
        "detail": refusal.reason[:200]})
    return JSONResponse(health.model_dump(), 503)
