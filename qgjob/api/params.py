"""Bounds for path and query values: every one has a length and a character set, so a bad
value is a 422 (or a 404), never a 500 or an echo of megabytes."""

from __future__ import annotations

import functools
from typing import Annotated, Any, get_args, get_origin

from fastapi import Path, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, StringConstraints, WithJsonSchema

from qgjob.domain import values
from qgjob.protocol import limits

ID_MAX = values.NAME_MAX
ID_PATTERN = f"^{values.NAME_PATTERN}$"
"""Job, agent and lease ids (ours are 26 lower-case base32 characters)."""


def _checked_as(field: str) -> AfterValidator:
    """An id in a path or query, checked by qgjob.domain.values: its refusal names the rule
    broken, where a pattern's would quote the regex."""
    return AfterValidator(functools.partial(values.check_name, what=field))


_ID_SCHEMA = WithJsonSchema({"type": "string", "minLength": 1, "maxLength": ID_MAX,
                             "pattern": ID_PATTERN})
_ID_CAP = ID_MAX * 4
"""Only bounds the work before the check, which refuses past ID_MAX in its own words."""

JobIdPath = Annotated[str, Path(max_length=_ID_CAP), _checked_as("job_id"), _ID_SCHEMA]
LeaseIdPath = Annotated[str, Path(max_length=_ID_CAP), _checked_as("lease_id"), _ID_SCHEMA]
AgentIdPath = Annotated[str, Path(max_length=_ID_CAP), _checked_as("agent_id"), _ID_SCHEMA]
AgentNamePath = Annotated[str, Path(max_length=_ID_CAP), _checked_as("name"), _ID_SCHEMA]
RunIdPath = Annotated[str, Path(max_length=_ID_CAP), _checked_as("run_id"), _ID_SCHEMA]
LeaseIdQuery = Annotated[str, Query(max_length=_ID_CAP), _checked_as("lease_id"), _ID_SCHEMA]
JobIdValue = Annotated[str, StringConstraints(max_length=_ID_CAP), _checked_as("job_id"),
                       _ID_SCHEMA]
_RunId = Annotated[str, StringConstraints(max_length=_ID_CAP), _checked_as("run_id"),
                  _ID_SCHEMA]
RunIdQuery = Annotated[_RunId | None, Query(description="submit into this run (POST /runs)")]
FileNamePath = Annotated[str, Path(min_length=1, max_length=limits.FILE_NAME_MAX,
                                   pattern=limits.FILE_NAME_PATTERN)]


_SINGLE: dict[int, tuple[str, ...]] = {}
_KNOWN: dict[int, frozenset[str]] = {}
MAX_NAMED_PARAMETERS = 12
"""An unknown parameter's refusal lists the route's own up to this many."""


def _takes_many(annotation: Any) -> bool:
    if get_origin(annotation) in (list, tuple, set, frozenset):
        return True
    return any(_takes_many(arg) for arg in get_args(annotation) if arg is not type(None))


def _known(dependant: Dependant) -> frozenset[str]:
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _known(sub)
    return frozenset(names)


def _single_valued(dependant: Dependant) -> tuple[str, ...]:
    names = [field.alias for field in dependant.query_params
             if not _takes_many(field.field_info.annotation)]
    for sub in dependant.dependencies:
        names += _single_valued(sub)
    return tuple(names)


async def single_query_values(request: Request) -> None:
    """A query parameter that takes one value, given more than once, is a 422 (FastAPI would
    silently keep the last one); so is one the route does not take, on a route that takes
    query parameters (`GET /jobs?stat=failed` would list every job, unfiltered, as if the
    filter held). Routes that take none (the dashboard's pages and files among them: a
    cache buster stays harmless) ignore what they are given, and so does the agent protocol
    (`/agents/...`): an agent newer than its server may send a parameter the server does
    not know yet, as it leaves out body fields the server need not know."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = _KNOWN.get(id(route))
    if known is None:
        lenient = str(getattr(route, "path", "")).startswith("/agents/")
        known = _KNOWN[id(route)] = frozenset() if lenient else _known(dependant)
    if known:
        for name in request.query_params:
            if name not in known:
                takes = ", ".join(sorted(known)[:MAX_NAMED_PARAMETERS])
                raise RequestValidationError([{
                    "type": "unknown", "loc": ("query", name),
                    "msg": f"is not a parameter of this route (it takes {takes})",
                    "input": None}])
    names = _SINGLE.get(id(route))
    if names is None:
        names = _SINGLE[id(route)] = _single_valued(dependant)
    for name in names:
        given = request.query_params.getlist(name)
        if len(given) > 1:
            raise RequestValidationError([{
                "type": "repeated", "loc": ("query", name),
                "msg": f"takes one value, got {len(given)}", "input": given}])
