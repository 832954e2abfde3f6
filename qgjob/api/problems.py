"""The one shape of every error answer, declared in the OpenAPI schema so clients (and the
schema fuzzer) know what a 4xx looks like: `{"detail": "one readable line", ...}`."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel, Field


class ProblemItem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    detail: str = Field(description="one readable line")
    errors: list[ProblemItem] | None = Field(
        default=None, description="for 422: each invalid field and why (the first 20)")
    error_count: int | None = Field(
        default=None, description="for 422: how many invalid fields there were in all")
    next_offset: int | None = Field(
        default=None, description="for 409 `output_gap`: the characters of output the "
                                  "server holds, the offset to send again from")
    code: str | None = Field(default=None, description=(
        "`lease_lost`, `yield`, `agent_name_in_use` or `queue_full` on some 409s; "
        "`idempotency_key_reused` (409) when a job's or run's idempotency key already named "
        "one made from another request; `output_gap` (409) when an output chunk's `offset` "
        "is past what the server holds (`next_offset` says where to send from); "
        "`job_finished` (409) when cancelling a job that has "
        "finished; "
        "`header_repeated` (400) when Authorization, Content-Type or Idempotency-Key comes "
        "twice; "
        "`register_again` on a 404 that tells an agent its session is gone; `writes_refused` "
        "on a 503 while the database refuses writes; `unknown_agent`, `unknown_device` (404), "
        "`agent_online`, `device_ambiguous` (409) from the fleet operations; `invalid_input` on "
        "every 422 of a body, path or query that breaks its schema; `bad_cursor` (422) on a "
        "`cursor` of `GET /jobs` or `GET /runs` this server did not give out (or of the other "
        "order); from the runs endpoints `unknown_run` (404), `run_mismatch` (422), "
        "`run_finished`, "
        "`run_not_finished`, `nothing_failed` (409); from the evidence endpoints "
        "`bad_artifact_name` (400), `artifact_type` (415), `artifact_over_cap` (413), "
        "`unknown_artifact` (404), `artifact_storage_full` (507) and "
        "`artifact_storage_unavailable` (503) when the server cannot write evidence; "
        "`cross_site_request` (403) on a change a browser sent from "
        "another site's page; `host_not_allowed` (421) on a request naming a host other "
        "than a loopback one, the machine's own name or one of QGJOB_ALLOWED_HOSTS while "
        "reading needs no token (`/health`, `/docs` and `/openapi.json` answer any name)"))


class CodedProblem(HTTPException):
    """An HTTP error with its machine-readable `code` (clients branch on it, never on the
    message)."""

    def __init__(self, status: int, detail: str, code: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status, detail, headers)
        self.code = code


_ERRORS: dict[int, tuple[str, dict[str, Any] | None]] = {
    400: ("a request the server cannot take as sent (`bad_artifact_name`; "
          "`header_repeated`: Authorization, Content-Type or Idempotency-Key given twice); "
          "a body that is not JSON is a 422", None),
    401: ("no valid API token (once tokens exist)", {
        "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}),
    403: ("the token's role or org does not allow this; or a browser sent a change from "
          "another site's page (`cross_site_request`)", None),
    404: ("unknown, or not visible to this token", None),
    409: ("the request does not fit the current state", None),
    413: ("the body is over the size cap", None),
    415: ("the body is not JSON", None),
    421: ("a Host the server does not answer to while reading needs no token "
          "(`host_not_allowed`)", None),
    422: ("invalid input", None),
    429: ("over this token's rate limit", {
        "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}),
    503: ("the database is unreachable, busy or refuses writes (a full disk); nothing was "
          "stored", {
        "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}),
}


def _responses(body: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    return {status: {**body, "description": description, **({"headers": headers} if headers
                                                              else {})}
            for status, (description, headers) in _ERRORS.items()}


ERROR_RESPONSES = _responses({"model": Problem})
"""The error answers of a JSON route."""
TEXT_ROUTE_ERROR_RESPONSES = _responses(
    {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
"""The same for a route whose success is not JSON (FastAPI would file a `model` under the
route's own media type); Problem is in the schema through the JSON routes."""
