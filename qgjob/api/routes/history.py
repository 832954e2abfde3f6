"""What happened: a job's attempts, and what each device did over a recent window."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from qgjob.api.deps import Caller, DashboardReader, ServiceDep
from qgjob.api.params import JobIdPath
from qgjob.api.problems import ERROR_RESPONSES
from qgjob.api.visibility import visible_job
from qgjob.protocol.history import AttemptList, AttemptPublic, TimelinePublic

router = APIRouter(tags=["history"])

TIMELINE_MAX_SECONDS = 86400


@router.get("/jobs/{job_id}/attempts", response_model=AttemptList,
            responses=ERROR_RESPONSES)
async def job_attempts(job_id: JobIdPath, service: ServiceDep, caller: Caller) -> AttemptList:
    """Every attempt of the job, first first: device, times, outcome and error."""
    await visible_job(service, caller, job_id)
    attempts = await service.job_attempts(job_id)
    return AttemptList(job_id=job_id, attempts=[AttemptPublic.of(a) for a in attempts])


@router.get("/timeline", response_model=TimelinePublic, responses=ERROR_RESPONSES)
async def timeline(
    service: ServiceDep,
    _: DashboardReader,
    since: Annotated[float, Query(allow_inf_nan=False, gt=0, le=TIMELINE_MAX_SECONDS,
                                  description="how many seconds back to look")] = 3600,
    limit: Annotated[int, Query(ge=1, le=10000,
                                description="most installs and most attempts returned")] = 2000,
) -> TimelinePublic:
    """Installs and test attempts per device over the last `since` seconds (one hour by
    default, a day at most): the data of the dashboard's Gantt chart. Every org's work shows,
    so it takes an admin token (or QGJOB_PUBLIC_DASHBOARD=true)."""
    return TimelinePublic.of(await service.timeline(since, limit))
