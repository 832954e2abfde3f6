"""What a caller may see. Admins (and everyone, when no tokens are configured) see it all; a
submitter sees its own org's jobs, and of the shared views (groups, queue, agents) only the
parts about its own jobs, so another org's job ids and org ids never leak. Another org's job
is answered like an unknown one: 404."""

from __future__ import annotations

from dataclasses import replace

from fastapi import HTTPException

from qgjob.api.problems import CodedProblem
from qgjob.auth.principal import VIEWER, Principal
from qgjob.domain.models import Agent, GroupSummary, Job
from qgjob.domain.runs import Run
from qgjob.runs import RunService
from qgjob.scheduler.explain import LaneStanding
from qgjob.service import JobService
from qgjob.store.base import JobFilter, QueueCount


async def visible_job(service: JobService, caller: Principal, job_id: str) -> Job:
    job = await service.get_job(job_id)
    if job is None or not caller.sees_org(job.org_id):
        raise HTTPException(404, f"no job with id {job_id!r}")
    return job


async def visible_run(runs: RunService, caller: Principal, run_id: str) -> Run:
    run = await runs.get(run_id)
    if run is None or not caller.sees_org(run.org_id):
        raise CodedProblem(404, f"no run with id {run_id!r}", "unknown_run")
    return run


def check_joins_run(run: Run, org_ids: set[str], app_version_ids: set[str]) -> None:
    """Jobs submitted into a run are of its org and its build (422 otherwise)."""
    other_org = sorted(org_ids - {run.org_id})
    other_build = sorted(app_version_ids - {run.app_version_id})
    if other_org or other_build:
        what = (f"org {other_org[0]!r}" if other_org else f"build {other_build[0]!r}")
        raise CodedProblem(422, f"run {run.run_id!r} is of org {run.org_id!r} and build "
                                f"{run.app_version_id!r}; it cannot take jobs of {what}",
                           "run_mismatch")


def run_actions(caller: Principal, run: Run) -> list[str]:
    """What the caller may do to the run now: a reader of a public dashboard nothing. A
    cancelled run's unfinished jobs are already asked to stop: no second cancel."""
    if caller is VIEWER:
        return []
    if run.counts.unfinished:
        return [] if run.was_cancelled else ["cancel"]
    return ["rerun-failed"] if run.counts.failed else []


def check_may_submit(caller: Principal, org_ids: set[str]) -> None:
    """Submitting for another org is refused (403): it is the caller's own request."""
    others = sorted(org for org in org_ids if not caller.sees_org(org))
    if others:
        raise HTTPException(403, f"this token submits for org {caller.org_id!r} only, "
                                 f"not {others[0]!r}")


def scoped_filter(caller: Principal, query: JobFilter) -> JobFilter | None:
    """The caller's own org whatever it asked for; None when it asked for another org."""
    if caller.sees_every_org:
        return query
    if query.org_id is not None and query.org_id != caller.org_id:
        return None
    return replace(query, org_id=caller.org_id)


async def visible_groups(service: JobService, caller: Principal, include_finished: bool,
                         limit: int) -> list[GroupSummary]:
    if caller.sees_every_org:
        return await service.groups(include_finished=include_finished, limit=limit)
    assert caller.org_id is not None
    return await service.org_groups(caller.org_id, include_finished, limit)


async def visible_agents(service: JobService, caller: Principal) -> list[Agent]:
    """Every agent and device, but what a device holds and runs only when it runs one of
    the caller's jobs."""
    agents = await service.list_agents()
    if caller.sees_every_org:
        return agents
    running = [d.current_job_id for a in agents for d in a.devices if d.current_job_id]
    own = await service.list_jobs(JobFilter(org_id=caller.org_id, job_ids=tuple(running),
                                            limit=max(len(running), 1))) if running else []
    own_ids = {job.job_id for job in own}
    return [replace(agent, devices=tuple(
        device if device.current_job_id in own_ids
        else replace(device, current_job_id=None, holds_app_version_id=None)
        for device in agent.devices)) for agent in agents]


def visible_counts(caller: Principal, rows: list[QueueCount]) -> list[QueueCount]:
    return rows if caller.sees_every_org else [r for r in rows if r.org_id == caller.org_id]


def visible_standings(caller: Principal, standings: list[LaneStanding]) -> list[LaneStanding]:
    """A submitter's own waiting builds, with their place in line among all builds."""
    if caller.sees_every_org:
        return standings
    return [s for s in standings if s.lane.org_id == caller.org_id]
