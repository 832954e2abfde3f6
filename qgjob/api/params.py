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


def _takes_many(annotation: Any) -> bool:
    if get_origin(annotation) in (list, tuple, set, frozenset):
        return True
    return any(_takes_many(arg) for arg in get_args(annotation) if arg is not type(None))


def _single_valued(dependant: Dependant) -> tuple[str, ...]:
    names = [field.alias for field in dependant.query_params
             if not _takes_many(field.field_info.annotation)]
    for sub in dependant.dependencies:
        names += _single_valued(sub)
    return tuple(names)


async def single_query_values(request: Request) -> None:
    """A query parameter that takes one value, given more than once, is a 422 (FastAPI would
    silently keep the last one)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    names = _SINGLE.get(id(route))
    if names is None:
        names = _SINGLE[id(route)] = _single_valued(dependant)
    for name in names:
        given = request.query_params.getlist(name)
        if len(given) > 1:
            raise RequestValidationError([{
                "type": "repeated", "loc": ("query", name),
                "msg": f"takes one value, got {len(given)}", "input": given}])
