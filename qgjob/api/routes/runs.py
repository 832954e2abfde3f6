"""Runs: the jobs of one `qgjob run` (or one batch submit) as one thing. Create one, submit
jobs into it (`POST /jobs/batch?run_id=…`), list and read them, cancel one, re-run its
failed tests. Access as for jobs: a submitter token sees and changes its own org's runs (any
other is a 404), agent tokens none."""

from __future__ import annotations

from typing import Annotated, Literal, cast

from fastapi import APIRouter, Header, Query, Response, status

from qgjob.api.deps import Caller, RunServiceDep
from qgjob.api.errors import invalid_input
from qgjob.api.params import RunIdPath
from qgjob.api.problems import ERROR_RESPONSES, CodedProblem
from qgjob.api.visibility import check_may_submit, run_actions, visible_run
from qgjob.auth.principal import Principal
from qgjob.domain.runs import Run, RunSource, RunStatus
from qgjob.protocol import limits
from qgjob.protocol.fields import AppVersionId, IdempotencyKey, OrgId
from qgjob.protocol.runs import (
    RunCreate,
    RunDetail,
    RunList,
    RunPublic,
    RunTest,
    decode_cursor,
    encode_cursor,
)
from qgjob.runs import RunRequest, RunService
from qgjob.store.base import RunFilter, RunFinished

router = APIRouter(tags=["runs"], responses=ERROR_RESPONSES)
Action = Literal["cancel", "rerun-failed"]


@router.post("/runs", status_code=status.HTTP_201_CREATED, response_model=RunPublic,
             responses={200: {"description": "replayed: the idempotency key was seen before"},
                        409: {"description": "the idempotency key belongs to another run"}})
async def create_run(
    body: RunCreate, runs: RunServiceDep, caller: Caller, response: Response,
    idempotency_key: Annotated[IdempotencyKey | None, Header()] = None,
) -> RunPublic:
    """A run to submit jobs into (`POST /jobs/batch?run_id=…`). With an idempotency key
    (header or body), the same key of the same org gives back the same run (200,
    `Idempotent-Replayed: true`): a retried CI step finds its run. The key's run must be
    of the same build and name, else 409 `idempotency_key_reused`."""
    if idempotency_key and body.idempotency_key and idempotency_key != body.idempotency_key:
        raise invalid_input("idempotency_key", "the header and the body disagree")
    check_may_submit(caller, {body.org_id})
    run, created = await runs.create(RunRequest(
        body.org_id, body.app_version_id, body.name,
        body.source.domain() if body.source else RunSource(),
        idempotency_key or body.idempotency_key))
    if not created:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return RunPublic.of(run, runs.jobs.clock())


@router.get("/runs", response_model=RunList)
async def list_runs(
    runs: RunServiceDep,
    caller: Caller,
    org_id: Annotated[OrgId | None, Query()] = None,
    status: Annotated[RunStatus | None, Query()] = None,
    app_version_id: Annotated[AppVersionId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=limits.MAX_LIST_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(min_length=1, max_length=200,
                                        description="`next_cursor` of the page before")] = None,
) -> RunList:
    """Runs, newest first, a page at a time. A submitter token sees its own org's runs only
    (another org's filter gives an empty list). With `status`, a page may hold fewer than
    `limit` runs and still have a `next_cursor`: the status is derived from the jobs, so
    the server stops after looking at a few thousand runs."""
    try:
        after = decode_cursor(cursor) if cursor is not None else None
    except ValueError as bad:
        raise CodedProblem(422, str(bad), "bad_cursor") from None
    scoped = _scoped_org(caller, org_id)
    if scoped is False:
        return RunList(runs=[], count=0, next_cursor=None)
    page = await runs.page(RunFilter(org_id=scoped or None, app_version_id=app_version_id,
                                     status=status, limit=limit, after=after))
    now = runs.jobs.clock()
    return RunList(runs=[RunPublic.of(run, now) for run in page.runs], count=len(page.runs),
                   next_cursor=encode_cursor(page.next_after))


def _scoped_org(caller: Principal, asked: str | None) -> str | Literal[False] | None:
    """The org to list: the caller's own whatever it asked for (False: it asked for
    another's)."""
    if caller.sees_every_org:
        return asked
    if asked is not None and asked != caller.org_id:
        return False
    return caller.org_id


@router.get("/runs/{run_id}", response_model=RunDetail)
async def get_run(run_id: RunIdPath, runs: RunServiceDep, caller: Caller) -> RunDetail:
    """The run with every test, failures first: one row per test case its jobs' reports
    named, or per job (spec file) without them; and what this caller may do to it."""
    return await _detail(runs, caller, await visible_run(runs, caller, run_id))


@router.post("/runs/{run_id}/cancel", response_model=RunDetail)
async def cancel_run(run_id: RunIdPath, runs: RunServiceDep, caller: Caller) -> RunDetail:
    """Cancel every job of the run that has not finished: queued ones at once, running ones
    within a heartbeat. 409 `run_finished` when nothing is left to cancel: every job has
    finished, or none was ever submitted into it."""
    run = await visible_run(runs, caller, run_id)
    if run.counts.total == 0:  # its status reads `queued`: "has finished" would be untrue
        raise RunFinished(f"run {run.run_id!r} has no jobs: nothing to cancel")
    return await _detail(runs, caller, await runs.cancel(run))


@router.post("/runs/{run_id}/rerun-failed", status_code=status.HTTP_201_CREATED,
             response_model=RunDetail,
             responses={200: {"description": "replayed: the Idempotency-Key was seen before"}})
async def rerun_failed(
    run_id: RunIdPath, runs: RunServiceDep, caller: Caller, response: Response,
    idempotency_key: Annotated[IdempotencyKey | None, Header()] = None,
) -> RunDetail:
    """A new run of the run's failed tests only (attempt + 1, `rerun_of` the run). 409
    `run_not_finished` while it runs, `nothing_failed` when none failed."""
    run = await visible_run(runs, caller, run_id)
    again, _, created = await runs.rerun_failed(run, idempotency_key)
    if not created:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return await _detail(runs, caller, again)


async def _detail(runs: RunService, caller: Principal, run: Run) -> RunDetail:
    rows = await runs.rows(run.run_id)
    now = runs.jobs.clock()
    public = RunPublic.of(run, now)
    return RunDetail(**dict(public), tests=[RunTest.of(row, now) for row in rows],
                     job_ids=list(dict.fromkeys(row.job.job_id for row in rows)),
                     actions=cast(list[Action], run_actions(caller, run)))
