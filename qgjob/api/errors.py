"""Clear 4xx answers for bad input, never a traceback: validation errors in one readable
line, a body size cap, JSON only, and store errors mapped to 404/409."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qgjob.queue_cap import QueueFull
from qgjob.store.base import (
    AgentNameInUse,
    Conflict,
    LeaseLost,
    NotFound,
    OutputGap,
    StoreUnavailable,
    WritesRefused,
    Yielded,
)
from qgjob.store.sql.database import TransientConflict

log = logging.getLogger("qgjob.server")
WRITES_REFUSED_RETRY_SECONDS = 5
"""A full disk is seldom freed within a second; clients back off a little longer."""


MAX_LISTED_ERRORS = 20
"""A body may break its schema in thousands of places (one per unknown field): an answer
names the first ones and counts the rest, so it stays one line, not a copy of the body."""
MAX_FIELD_CHARS = 100
"""A field's name as an answer shows it: an unknown key may be as long as the body."""


def describe_validation_errors(errors: list[Any]) -> tuple[str, list[dict[str, str]]]:
    """One line for people, a list for programs: both name the first `MAX_LISTED_ERRORS`
    errors, and the line ends saying how many more there were."""
    described = [_described(error) for error in errors[:MAX_LISTED_ERRORS]]
    items = [item for item, _ in described]
    line = "; ".join(said for _, said in described)
    more = len(errors) - len(items)
    return (f"{line}; … and {more} more" if more else line), items


def _described(error: Any) -> tuple[dict[str, str], str]:
    """The error for programs, and as the one line says it."""
    loc = tuple(error.get("loc", ()))
    location = [str(part) for part in loc if part not in ("body", "query")]
    field = ".".join(location) or "body"
    if len(field) > MAX_FIELD_CHARS:
        field = field[:MAX_FIELD_CHARS - 1] + "…"
    parameter = str(loc[1]) if len(loc) > 1 and loc[0] in ("path", "query") else field
    message = str(error.get("msg", "is invalid"))
    message = message.removeprefix("Value error, ")
    if error.get("type") == "json_invalid":
        field, message = "body", "is not valid JSON"
    elif error.get("type") == "missing":
        message = "is required"
    elif error.get("type") == "extra_forbidden":
        message = "is not a known field"
    # A message that names its parameter ("job_id '-x' must start with …") is said as it is,
    # without "path." or a repeated query parameter's index before it. In a body the whole
    # location stays: it says which of a batch's jobs is meant.
    says_field = message.startswith((field, f"{parameter} "))
    return {"field": field, "message": message}, (message if says_field
                                                  else f"{field}: {message}")


def invalid_input(field: str, message: str) -> RequestValidationError:
    """A 422 a route finds itself (past the schema), in the shape of every other 422:
    `detail`, `errors` naming the body field, and `code` invalid_input."""
    return RequestValidationError([{"type": "value_error", "loc": ("body", field),
                                    "msg": message}])


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        detail, items = describe_validation_errors(errors)
        # `error_count`: how many there were in all, `errors` listing the first ones.
        return JSONResponse({"detail": detail, "errors": items, "error_count": len(errors),
                             "code": "invalid_input"}, status_code=422)

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        code = getattr(exc, "code", None)  # e.g. UnknownAgent's
        return JSONResponse({"detail": str(exc), **({"code": code} if code else {})},
                            status_code=404)

    @app.exception_handler(LeaseLost)
    async def _lease_lost(_: Request, exc: LeaseLost) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "code": "lease_lost"}, status_code=409)

    @app.exception_handler(OutputGap)
    async def _output_gap(_: Request, exc: OutputGap) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "code": exc.code, "next_offset": exc.held},
                            status_code=409)

    @app.exception_handler(Yielded)
    async def _yielded(_: Request, exc: Yielded) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "code": "yield"}, status_code=409)

    @app.exception_handler(AgentNameInUse)
    async def _name_in_use(_: Request, exc: AgentNameInUse) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "code": "agent_name_in_use"}, status_code=409)

    @app.exception_handler(QueueFull)
    async def _queue_full(_: Request, exc: QueueFull) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "code": "queue_full"}, status_code=409)

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        code = getattr(exc, "code", None)  # e.g. AgentOnline's
        return JSONResponse({"detail": str(exc), **({"code": code} if code else {})},
                            status_code=409)

    @app.exception_handler(WritesRefused)
    async def _writes_refused(_: Request, exc: WritesRefused) -> JSONResponse:
        # logged once per episode by the store, not per request
        return JSONResponse({"detail": f"the database refuses writes: {exc}",
                             "code": "writes_refused"},
                            status_code=503,
                            headers={"Retry-After": str(WRITES_REFUSED_RETRY_SECONDS)})

    @app.exception_handler(StoreUnavailable)
    async def _unavailable(_: Request, exc: StoreUnavailable) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return JSONResponse({"detail": f"the database is unavailable: {exc}"},
                            status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(TransientConflict)
    async def _contended(_: Request, exc: TransientConflict) -> JSONResponse:
        log.warning("gave up after repeated transaction conflicts: %s", exc)
        return JSONResponse({"detail": "the database is busy; try again"},
                            status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        unparsed = unparsed_body(exc)
        if unparsed is not None:
            return JSONResponse({"detail": f"body: {unparsed}",
                                 "errors": [{"field": "body", "message": unparsed}],
                                 "code": "invalid_input"}, status_code=422)
        code = getattr(exc, "code", None)  # a CodedProblem's
        return JSONResponse({"detail": exc.detail, **({"code": code} if code else {})},
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, _: ClientDisconnect) -> JSONResponse:
        # The client hung up, or the connection guard cut off its stalled body (408), while a
        # route streamed the body itself: no server fault, and nobody to read the answer.
        log.info("%s %s: the client went away before the whole body came", request.method,
                 request.url.path)
        return JSONResponse({"detail": "the request body ended early (the client went away)"},
                            status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal server error"}, status_code=500)


FASTAPI_PARSE_FAILURE = "There was an error parsing the body"
"""What FastAPI answers (a 400) when reading a JSON body fails other than with a
JSONDecodeError; the error it failed with is the exception's cause."""


def unparsed_body(exc: HTTPException) -> str | None:
    """Why a body FastAPI could not parse is no JSON, in the words of the invalid-JSON 422;
    None for any other HTTP error. The cases: bytes that are not UTF-8, an integer literal
    over Python's 4,300 digits, arrays or objects nested past the recursion limit."""
    if exc.status_code != 400 or exc.detail != FASTAPI_PARSE_FAILURE \
            or getattr(exc, "code", None) is not None:
        return None
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return "is not valid JSON (not UTF-8 text)"
    if isinstance(cause, RecursionError):
        return "is not valid JSON (nested too deeply)"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return "is not valid JSON (a number has too many digits)"
    return "is not valid JSON"


FILE_UPLOAD_BYTES = 9 * 1024 * 1024
"""Agents upload report files (base64 in JSON): their one endpoint takes bigger bodies."""
BATCH_BYTES = 2 * 1024 * 1024
"""`POST /jobs/batch` takes up to 1,000 jobs, each up to about 1 KiB of fields."""
REPORT_BYTES = 1024 * 1024
"""An attempt's report carries its test cases (a big suite has hundreds, with errors)."""


def body_limit(path: str, max_body_bytes: int) -> int:
    """The largest request body `path` takes: `max_body_bytes`, or more for the endpoints
    whose bodies are big by nature."""
    if path.startswith("/agents/") and path.endswith("/files"):
        return FILE_UPLOAD_BYTES
    if path == "/jobs/batch":
        return max(BATCH_BYTES, max_body_bytes)
    if path.startswith("/agents/") and path.endswith("/report"):
        return report_limit(max_body_bytes)
    return max_body_bytes


def report_limit(max_body_bytes: int) -> int:
    """The largest attempt report taken (agents learn it when they register)."""
    return max(REPORT_BYTES, max_body_bytes)


ONE_VALUE_HEADERS = (b"authorization", b"content-type", b"idempotency-key")
"""Headers a request gives once. Sent twice, which copy counts is a guess: the credentials
checked and the key stored would be the first, the body read by the last; so the request is
refused (400) rather than served on either."""


class RequestGuard:
    """Refuses a header of `ONE_VALUE_HEADERS` given twice (400), bodies over the cap (413) and
    non-JSON bodies (415) before any route reads them; counts streamed bytes too, since
    Content-Length may be absent or wrong."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, artifact_bytes: int = 0) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.artifact_bytes = artifact_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (twice := _repeated_header(scope["headers"])):
            await _reject(send, 400, f"the {twice} header is given more than once: send it once",
                          "header_repeated")
            return
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        artifact = scope["method"] == "PUT" and _ARTIFACT_UPLOAD.fullmatch(scope["path"])
        limit = max(self.artifact_bytes, 1) if artifact else body_limit(scope["path"],
                                                                        self.max_body_bytes)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length")
        digits = _DIGITS.fullmatch(length) if length is not None else None
        declared = int(digits[1]) if digits is not None else None
        # An evidence upload's declared size is the route's to judge: it records the drop.
        if length is not None and (declared is None or (not artifact and declared > limit)):
            await _reject(send, 413, f"request body is larger than {limit} bytes")
            return
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        has_body = bool(declared) or "transfer-encoding" in headers
        if has_body and not artifact and content_type != "application/json" \
                and not content_type.endswith("+json"):
            await _reject(send, 415, "request body must be JSON (Content-Type: application/json)")
            return
        await self.app(scope, _counting(receive, limit), send)


def _repeated_header(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The first of `ONE_VALUE_HEADERS` that the request gives more than once (ASGI header
    names are lower case), as HTTP spells it; None when each comes at most once."""
    seen: set[bytes] = set()
    for name, _ in headers:
        if name in ONE_VALUE_HEADERS:
            if name in seen:
                return "-".join(part.capitalize() for part in name.decode().split("-"))
            seen.add(name)
    return None


_DIGITS = re.compile(r"0*([0-9]{1,12})")
"""A Content-Length: HTTP allows leading zeros (h11 takes them); past 12 significant digits
it is over every cap, and int() is never asked to read thousands of digits."""
_ARTIFACT_UPLOAD = re.compile(r"/agents/[^/]+/jobs/[^/]+/artifacts/.+", re.DOTALL)
"""Evidence uploads are raw bytes (a video is no JSON), up to the attempt's cap. Any name
counts, a newline in it too: judging it is the route's (400 `bad_artifact_name`)."""


def _counting(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, f"request body is larger than {limit} bytes")
        return message

    return counted


async def _reject(send: Send, status: int, detail: str, code: str | None = None) -> None:
    body = JSONResponse({"detail": detail, **({"code": code} if code else {})}).body
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
