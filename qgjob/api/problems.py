"""The one shape of every error answer, declared in the OpenAPI schema so clients (and the
schema fuzzer) know what a 4xx looks like: `{"detail": "one readable line", ...}`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ProblemItem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    detail: str = Field(description="one readable line")
    errors: list[ProblemItem] | None = Field(
        default=None, description="for 422: each invalid field and why")
    code: str | None = Field(default=None, description="`lease_lost` or `yield` on some 409s")


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"model": Problem, "description": description}
    if headers:
        answer["headers"] = headers
    return answer


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem("the body could not be parsed"),
    401: _problem("no valid API token (once tokens exist)", {
        "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}),
    403: _problem("the token's role or org does not allow this"),
    404: _problem("unknown, or not visible to this token"),
    409: _problem("the request does not fit the current state"),
    413: _problem("the body is over the size cap"),
    415: _problem("the body is not JSON"),
    422: _problem("invalid input"),
    429: _problem("over this token's rate limit", {
        "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}),
}
