"""Submitting, reading and cancelling jobs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse

from qgjob.api.auth import gatekeeper
from qgjob.api.deps import Caller, RunServiceDep, ServiceDep
from qgjob.api.downloads import UNTRUSTED_CONTENT, file_answer
from qgjob.api.errors import invalid_input
from qgjob.api.params import FileNamePath, JobIdPath, JobIdValue, RunIdQuery
from qgjob.api.problems import ERROR_RESPONSES, TEXT_ROUTE_ERROR_RESPONSES, CodedProblem
from qgjob.api.visibility import (
    check_joins_run,
    check_may_submit,
    scoped_filter,
    visible_job,
    visible_run,
)
from qgjob.auth.principal import Principal
from qgjob.domain.listing import JobOrder
from qgjob.domain.states import states_for_public
from qgjob.protocol import limits
from qgjob.protocol.fields import (
    AppVersionId,
    IdempotencyKey,
    OrgId,
    PublicStatus,
    TargetName,
    iso,
)
from qgjob.protocol.jobs import (
    CasePublic,
    FileInfo,
    FileList,
    JobBatchCreate,
    JobCreate,
    JobIdList,
    JobList,
    JobPage,
    JobPlace,
    JobPublic,
    decode_job_cursor,
    encode_job_cursor,
)
from qgjob.runs import RunService, check_takes_jobs
from qgjob.store.base import JobFilter

router = APIRouter(tags=["jobs"], responses=ERROR_RESPONSES)



@router.post("/jobs", status_code=status.HTTP_201_CREATED, response_model=JobPublic,
             responses={200: {"description": "replayed: the Idempotency-Key was seen before"},
                        409: {"description": "the Idempotency-Key belongs to another job, "
                                              "or the run was cancelled"}})
async def submit_job(
    body: JobCreate,
    service: ServiceDep,
    caller: Caller,
    request: Request,
    response: Response,
    runs: RunServiceDep,
    idempotency_key: Annotated[IdempotencyKey | None, Header()] = None,
    run_id: RunIdQuery = None,
) -> JobPublic:
    """Queue one job. With an `Idempotency-Key` header (or body field), submitting again with
    the same key returns the same job (200, `Idempotent-Replayed: true`) instead of a second
    one: a retried CI step does not queue twice. With `run_id`, the job joins that run (of
    its org and build, not cancelled: 409 `run_finished`; a job an idempotency key finds
    stays in its own run)."""
    if idempotency_key and body.idempotency_key and idempotency_key != body.idempotency_key:
        raise invalid_input("idempotency_key", "the header and the body disagree")
    check_may_submit(caller, {body.org_id})
    await _check_run(runs, caller, run_id, [body])
    gatekeeper(request).spend_jobs(request, caller, 1)
    if idempotency_key:
        body = body.model_copy(update={"idempotency_key": idempotency_key})
    [submitted] = await service.submit([body], run_id)
    if submitted.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return JobPublic.of(submitted.job)


MINIMAL = re.compile(r"(^|[,;\s])return\s*=\s*minimal\b", re.IGNORECASE)


@router.post("/jobs/batch", status_code=status.HTTP_201_CREATED,
             response_model=JobList | JobIdList,
             responses={201: {"description": "the jobs, in the order sent; with `Prefer: "
                                             "return=minimal`, only their ids"}})
async def submit_jobs(
    body: JobBatchCreate,
    service: ServiceDep,
    caller: Caller,
    request: Request,
    runs: RunServiceDep,
    prefer: Annotated[str | None, Header()] = None,
    run_id: RunIdQuery = None,
) -> Response:
    """Submit several jobs at once: all are stored, or none (one transaction). Each job may
    carry its own `idempotency_key`; an `Idempotency-Key` header is refused (422), as it
    would name several jobs. A client that needs only the ids (the CLI) sends
    `Prefer: return=minimal` (RFC 7240) and gets `{"job_ids": [...], "count": n}`, a tenth
    of the bytes. With `run_id`, the jobs join that run as with `POST /jobs` (see `POST
    /runs`)."""
    if "idempotency-key" in request.headers:
        # Ignored, a retried batch would queue every job again; keys name one job each.
        raise RequestValidationError([{
            "type": "value_error", "loc": ("header", "idempotency-key"),
            "msg": "a batch takes no Idempotency-Key header: give each job its own "
                   "idempotency_key in the body"}])
    check_may_submit(caller, {job.org_id for job in body.jobs})
    await _check_run(runs, caller, run_id, body.jobs)
    gatekeeper(request).spend_jobs(request, caller, len(body.jobs))
    submitted = await service.submit(body.jobs, run_id)
    jobs = [s.job for s in submitted]
    if prefer is not None and MINIMAL.search(prefer):
        replayed = sum(s.replayed for s in submitted)
        return Response(JobIdList.json_of(jobs, replayed), status_code=status.HTTP_201_CREATED,
                        media_type="application/json",
                        headers={"Preference-Applied": "return=minimal"})
    return Response(JobList.json_of(jobs), status_code=status.HTTP_201_CREATED,
                    media_type="application/json")


async def _check_run(runs: RunService, caller: Principal, run_id: str | None,
                     jobs: Sequence[JobCreate]) -> None:
    """Early, for a clear answer before any work: the run may change before the submit's
    transaction, whose own check (the store's) is the one that holds against a cancel."""
    if run_id is not None:
        run = await visible_run(runs, caller, run_id)
        check_joins_run(run, {job.org_id for job in jobs},
                        {job.app_version_id for job in jobs})
        check_takes_jobs(run)


@router.get("/jobs/{job_id}", response_model=JobPublic)
async def get_job(job_id: JobIdPath, service: ServiceDep, caller: Caller) -> JobPublic:
    """The job, with the per-test results of its last attempt."""
    job = await visible_job(service, caller, job_id)
    public = JobPublic.of(job)
    public.tests = [CasePublic(**case.__dict__) for case in await service.last_cases(job_id)]
    return public


@router.get("/jobs/{job_id}/place", response_model=JobPlace)
async def get_place(job_id: JobIdPath, service: ServiceDep, caller: Caller) -> JobPlace:
    """Why the job waits, while it has not started: its build's place in line on its
    target and the reason (as `GET /queue` explains it), its own place within its build,
    and a rough start estimate. `waiting` is false once it started or ended."""
    job = await visible_job(service, caller, job_id)
    place = await service.queue_place(job)
    return JobPlace(job_id=job_id, waiting=place.waiting, reason=place.reason,
                    build_position=place.build_position, builds_waiting=place.builds_waiting,
                    devices_working=place.devices_working, ahead_in_build=place.ahead_in_build,
                    build_queued=place.build_queued,
                    estimated_start_at=iso(place.estimated_start))


@router.get("/jobs/{job_id}/logs", response_class=PlainTextResponse,
            responses={**TEXT_ROUTE_ERROR_RESPONSES,
                       200: {"content": {"text/plain": {}},
                             "description": "the output from `offset` on"}})
async def get_logs(
    job_id: JobIdPath,
    service: ServiceDep,
    caller: Caller,
    attempt: Annotated[int | None, Query(ge=1, le=limits.MAX_ATTEMPT_NUMBER,
                                         description="default: the last")]
    = None,
    offset: Annotated[int, Query(ge=0, le=2**53,
                                 description="continue from X-Qgjob-Next-Offset")] = 0,
) -> PlainTextResponse:
    """An attempt's stdout and stderr (the last 1 MiB), live while it runs. Headers:
    `X-Qgjob-Attempt`, `X-Qgjob-Next-Offset` (ask again from there), `X-Qgjob-Finished`
    (`true` once the attempt ended) and `X-Qgjob-Dropped` (characters dropped from the front)."""
    await visible_job(service, caller, job_id)
    part = await service.read_output(job_id, attempt, offset)
    if part is None:
        if attempt is not None:
            raise HTTPException(404, f"job {job_id!r} has no attempt {attempt}")
        return PlainTextResponse("", headers={**UNTRUSTED_CONTENT, "X-Qgjob-Attempt": "0",
                                              "X-Qgjob-Next-Offset": "0",
                                              "X-Qgjob-Finished": "false",
                                              "X-Qgjob-Dropped": "0"})
    return PlainTextResponse(part.text, headers={
        **UNTRUSTED_CONTENT,
        "X-Qgjob-Attempt": str(part.attempt), "X-Qgjob-Next-Offset": str(part.next_offset),
        "X-Qgjob-Finished": "true" if part.finished else "false",
        "X-Qgjob-Dropped": str(part.dropped)})


@router.get("/jobs/{job_id}/files", response_model=FileList)
async def list_files(job_id: JobIdPath, service: ServiceDep, caller: Caller) -> FileList:
    """Report files its attempts produced (Playwright JSON, JUnit XML, …)."""
    await visible_job(service, caller, job_id)
    files = await service.list_files(job_id)
    return FileList(files=[FileInfo(attempt=a, name=n, media_type=m, size=z)
                           for a, n, m, z in files])


@router.get("/jobs/{job_id}/files/{attempt}/{name}", response_class=Response,
            responses={**TEXT_ROUTE_ERROR_RESPONSES,
                       200: {"content": {"application/octet-stream": {}}}})
async def get_file(job_id: JobIdPath,
                   attempt: Annotated[int, Path(ge=1, le=limits.MAX_ATTEMPT_NUMBER)],
                   name: FileNamePath, service: ServiceDep, caller: Caller) -> Response:
    """The file as its agent uploaded it. Images, video, JSON and plain text show inline;
    any other type (HTML, SVG, XML…) is a download (`application/octet-stream`), so a
    report file never runs as a page of the API."""
    await visible_job(service, caller, job_id)
    file = await service.read_file(job_id, attempt, name)
    if file is None:
        raise HTTPException(404, f"job {job_id!r} has no file {name!r} in attempt {attempt}")
    media_type, headers = file_answer(name, file.media_type)
    return Response(file.content, media_type=media_type, headers=headers)


@router.get("/jobs", response_model=JobPage)
async def list_jobs(
    service: ServiceDep,
    caller: Caller,
    org_id: Annotated[OrgId | None, Query()] = None,
    status: Annotated[PublicStatus | None, Query()] = None,
    app_version_id: Annotated[AppVersionId | None, Query()] = None,
    target: Annotated[TargetName | None, Query()] = None,
    job_id: Annotated[list[JobIdValue] | None, Query(max_length=limits.MAX_LIST_LIMIT)] = None,
    limit: Annotated[int, Query(ge=1, le=limits.MAX_LIST_LIMIT)] = 50,
    app_version_id_contains: Annotated[str | None, Query(
        min_length=1, max_length=200, pattern=limits.ONE_LINE_PATTERN,
        description="builds whose id holds this text, any case")] = None,
    search: Annotated[str | None, Query(
        min_length=1, max_length=200, pattern=limits.ONE_LINE_PATTERN,
        description="jobs whose build id or test path holds this text, any case")] = None,
    order: Annotated[JobOrder, Query(description=(
        "`newest`: submitted last first; `claim`: the order claims take queued jobs in "
        "(higher priority, then older, then lower id)"))] = "newest",
    cursor: Annotated[str | None, Query(min_length=1, max_length=200, description=(
        "`next_cursor` of the page before (same filters and order)"))] = None,
) -> JobPage:
    """Jobs, newest first (or in claim order), a page at a time: `next_cursor` says more
    match. Repeat `job_id` to fetch several jobs by id. A submitter token sees its own org's
    jobs only (another org's filter gives an empty list)."""
    try:
        after = decode_job_cursor(cursor, order) if cursor is not None else None
    except ValueError as bad:
        raise CodedProblem(422, str(bad), "bad_cursor") from None
    query = scoped_filter(caller, JobFilter(
        org_id=org_id,
        states=states_for_public(status) if status else None,
        app_version_id=app_version_id,
        target=target,
        job_ids=tuple(job_id) if job_id else None,
        limit=limit + 1,
        app_version_id_contains=app_version_id_contains,
        search=search,
        order=order,
        after=after,
    ))
    jobs = await service.list_jobs(query) if query is not None else []
    more = len(jobs) > limit
    return JobPage.page_of(jobs[:limit], encode_job_cursor(order, jobs[limit - 1])
                           if more else None)


@router.post("/jobs/{job_id}/cancel", response_model=JobPublic)
async def cancel_job(job_id: JobIdPath, service: ServiceDep, caller: Caller) -> JobPublic:
    """Cancel a job: a queued one at once; a running one is stopped by its agent within one
    heartbeat (`cancel_requested` is true until then). 409 `job_finished` if the job already
    finished."""
    await visible_job(service, caller, job_id)
    change = await service.cancel(job_id)
    return JobPublic.of(change.after)
