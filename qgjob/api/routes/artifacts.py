"""Failure evidence: agents upload an attempt's screenshots, videos and traces (raw bytes,
one file per request); whoever may see the job lists and downloads them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from starlette.exceptions import HTTPException

from qgjob.api.deps import Caller, EvidenceDep, OwnAgentId, ServiceDep
from qgjob.api.downloads import RangeNotSatisfiable, byte_range, file_answer
from qgjob.api.params import JobIdPath, LeaseIdQuery
from qgjob.api.problems import ERROR_RESPONSES, TEXT_ROUTE_ERROR_RESPONSES, CodedProblem
from qgjob.api.visibility import visible_job
from qgjob.artifacts import ArtifactRefused, AttemptArtifacts, artifact_type
from qgjob.protocol import limits
from qgjob.protocol.artifacts import (
    ArtifactList,
    ArtifactPublic,
    AttemptArtifactsPublic,
    DroppedPublic,
)
from qgjob.protocol.fields import Text, iso

router = APIRouter(tags=["failure evidence"], responses=ERROR_RESPONSES)

AttemptNumber = Annotated[int, Path(ge=1, le=limits.MAX_ATTEMPT_NUMBER)]
ArtifactName = Annotated[str, Path(min_length=1, max_length=255)]
"""Checked by the store (400 `bad_artifact_name`), so a hostile name gets a clear code."""


STORAGE_RETRY_SECONDS = 5
"""A full or lost evidence folder is seldom back within a second."""


def _refused(problem: ArtifactRefused) -> CodedProblem:
    retry = {"Retry-After": str(STORAGE_RETRY_SECONDS)} if problem.status >= 500 else None
    return CodedProblem(problem.status, str(problem), problem.code, headers=retry)


@router.put("/agents/{agent_id}/jobs/{job_id}/artifacts/{name}",
            status_code=status.HTTP_204_NO_CONTENT,
            openapi_extra={"requestBody": {"content": {"application/octet-stream": {}}}},
            responses={409: {"description": "the job left this lease"},
                       507: {"description": "the evidence folder is full "
                                            "(`artifact_storage_full`); nothing was stored"}})
async def upload_artifact(
    agent_id: OwnAgentId, job_id: JobIdPath, name: ArtifactName, request: Request,
    evidence: EvidenceDep,
    lease_id: LeaseIdQuery,
    attempt: Annotated[int, Query(ge=1, le=limits.MAX_ATTEMPT_NUMBER)],
    test: Annotated[Text | None, Query(max_length=limits.CASE_TITLE_MAX)] = None,
) -> Response:
    """One file of the running attempt's evidence, as raw bytes (`application/octet-stream`).
    The name's extension decides its type (`.png`, `.jpg`, `.webm`, `.mp4`, `.zip`, `.txt`,
    `.log`, `.json`; others 415 `artifact_type`); a name that is not a plain file name is 400
    `bad_artifact_name`. Past the attempt's cap it is 413 `artifact_over_cap`, and the file is
    listed as dropped, whether its length was declared (Content-Length) or not (chunked).
    When the server cannot write the file it is 507 `artifact_storage_full` (out of space)
    or 503 `artifact_storage_unavailable`, with Retry-After."""
    try:
        artifact_type(name)
        room = await evidence.room(agent_id, job_id, lease_id, attempt)
        declared = request.headers.get("content-length")
        size = int(declared) if declared and declared.isdigit() else 0
        body = await _body_within(request, room) if size <= room else size
        if isinstance(body, int):
            await evidence.drop(job_id, attempt, name, body,
                                f"over the attempt's cap ({room} bytes of room left)", test)
            raise ArtifactRefused(f"{name}: over the attempt's cap", "artifact_over_cap", 413)
        await evidence.save(job_id, attempt, name, body, test)
    except ArtifactRefused as problem:
        raise _refused(problem) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _body_within(request: Request, room: int) -> bytes | int:
    """The body, if it fits in `room` bytes; if not, how many bytes came before reading
    stopped (at least room + 1), so that a body sent without a length (chunked) is refused
    and recorded as one that declared too much is."""
    chunks: list[bytes] = []
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > room:
                return received
            chunks.append(chunk)
    except HTTPException as refused:  # the request guard's count passed the whole cap first
        if refused.status_code != 413:
            raise
        return max(received, room + 1)
    return b"".join(chunks)


@router.get("/jobs/{job_id}/artifacts", response_model=ArtifactList)
async def list_artifacts(job_id: JobIdPath, service: ServiceDep, evidence: EvidenceDep,
                         caller: Caller) -> ArtifactList:
    """Each attempt's evidence (screenshots, videos, traces), and what was dropped and why
    (the first 50 dropped files by name, then only how many more)."""
    await visible_job(service, caller, job_id)
    attempts = await evidence.attempts(job_id)
    return ArtifactList(attempts=[_public(job_id, a) for a in attempts],
                        attempt_max_bytes=service.settings.artifact_attempt_max_bytes,
                        retention_days=service.settings.artifact_retention_days)


def _public(job_id: str, stored: AttemptArtifacts) -> AttemptArtifactsPublic:
    return AttemptArtifactsPublic(
        attempt=stored.attempt, created_at=iso(stored.created_at) or "", size=stored.size,
        files=[ArtifactPublic(name=f.name, media_type=f.media_type, kind=f.kind, size=f.size,
                              test=f.test,
                              url=f"/jobs/{job_id}/artifacts/{stored.attempt}/{f.name}")
               for f in stored.files],
        dropped=[DroppedPublic(name=d.name, size=d.size, reason=d.reason, test=d.test)
                 for d in stored.dropped],
        dropped_more=stored.dropped_more)


@router.get("/jobs/{job_id}/artifacts/{attempt}/{name}", response_class=Response,
            responses={**TEXT_ROUTE_ERROR_RESPONSES,
                       200: {"content": {"image/png": {}, "video/webm": {},
                                         "application/zip": {}}},
                       206: {"description": "the part a single `Range` header asked for"},
                       416: {"description": "the range starts past the end of the file"}})
async def get_artifact(job_id: JobIdPath, attempt: AttemptNumber, name: ArtifactName,
                       service: ServiceDep, evidence: EvidenceDep, caller: Caller,
                       request: Request) -> Response:
    """The file with its type: images and video inline, a trace (`application/zip`) as a
    download to open with `npx playwright show-trace FILE`. A single `Range: bytes=…` is
    answered with 206 and that part, so a long video seeks in the player; an empty file is
    sent whole (200) whatever range is asked."""
    await visible_job(service, caller, job_id)
    try:
        found = await evidence.read(job_id, attempt, name)
    except ArtifactRefused as problem:
        raise _refused(problem) from None
    if found is None:
        raise CodedProblem(404, f"job {job_id!r} has no artifact {name!r} in attempt "
                                f"{attempt}", "unknown_artifact")
    entry, content = found
    media_type, headers = file_answer(entry.name, entry.media_type)
    headers["Accept-Ranges"] = "bytes"
    try:
        wanted = byte_range(request.headers.get("range"), len(content))
    except RangeNotSatisfiable as problem:
        raise CodedProblem(416, str(problem), "range_not_satisfiable",
                           headers={"Content-Range": f"bytes */{problem.size}"}) from None
    if wanted is None:
        return Response(content, media_type=media_type, headers=headers)
    first, last = wanted
    headers["Content-Range"] = f"bytes {first}-{last}/{len(content)}"
    return Response(content[first:last + 1], status_code=206, media_type=media_type,
                    headers=headers)
