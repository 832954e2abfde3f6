"""What happened: a job's attempts, and what each device did over a recent window."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from qgjob.api.deps import ServiceDep
from qgjob.api.history_schemas import AttemptList, AttemptPublic, TimelinePublic

router = APIRouter(tags=["history"])

TIMELINE_MAX_SECONDS = 86400


@router.get("/jobs/{job_id}/attempts", response_model=AttemptList,
            responses={404: {"description": "unknown job"}})
async def job_attempts(job_id: str, service: ServiceDep) -> AttemptList:
    """Every attempt of the job, first first: device, times, outcome and error."""
    if await service.get_job(job_id) is None:
        raise HTTPException(404, f"no job with id {job_id!r}")
    attempts = await service.job_attempts(job_id)
    return AttemptList(job_id=job_id, attempts=[AttemptPublic.of(a) for a in attempts])


@router.get("/timeline", response_model=TimelinePublic)
async def timeline(
    service: ServiceDep,
    since: Annotated[float, Query(gt=0, le=TIMELINE_MAX_SECONDS,
                                  description="how many seconds back to look")] = 3600,
    limit: Annotated[int, Query(ge=1, le=10000,
                                description="most installs and most attempts returned")] = 2000,
) -> TimelinePublic:
    """Installs and test attempts per device over the last `since` seconds (one hour by
    default, a day at most): the data of the dashboard's Gantt chart."""
    return TimelinePublic.of(await service.timeline(since, limit))
