"""The field types of the wire models: identifiers with their rules, free text, priorities,
and the base of every request body. The rules themselves live in qgjob.domain.values (the CLI
checks the same ones locally); here they become pydantic types with their OpenAPI schema."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)

from qgjob.domain import values
from qgjob.domain.states import PublicStatus
from qgjob.domain.values import TargetName
from qgjob.protocol import limits

__all__ = ["AppVersionId", "FileName", "IdempotencyKey", "Label", "Name", "OrgId", "Priority",
           "PublicStatus", "Strict", "TargetName", "TestPath", "Text", "iso"]


def _documented(pattern: str, max_length: int, description: str = "") -> WithJsonSchema:
    """The rule in the OpenAPI schema; the check itself (with its one-line message) is the
    validator of qgjob.domain.values."""
    schema = {"type": "string", "minLength": 1, "maxLength": max_length,
              "pattern": f"^{pattern}$"}
    return WithJsonSchema({**schema, "description": description} if description else schema)


OrgId = Annotated[str, Field(max_length=values.ORG_ID_MAX * 4),
                  AfterValidator(values.check_org_id),
                  _documented(values.ORG_ID_PATTERN, values.ORG_ID_MAX)]
AppVersionId = Annotated[str, Field(max_length=values.APP_VERSION_ID_MAX * 4),
                         AfterValidator(values.check_app_version_id),
                         _documented(values.APP_VERSION_ID_PATTERN, values.APP_VERSION_ID_MAX,
                                     "an app build id, e.g. 1.4.2+881 or bs://<hash>")]
TestPath = Annotated[str, Field(max_length=values.TEST_PATH_MAX * 4),
                     AfterValidator(values.check_test_path),
                     _documented(values.TEST_PATH_PATTERN, values.TEST_PATH_MAX,
                                 "relative to the test suite: no leading '/', no '..'")]
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=limits.IDEMPOTENCY_KEY_MAX,
                                      pattern=r"^[\x21-\x7e]+$")]
Name = Annotated[str, Field(max_length=values.NAME_MAX * 4), AfterValidator(values.check_name),
                 _documented(values.NAME_PATTERN, values.NAME_MAX)]
Label = Annotated[str, Field(default="", max_length=limits.LABEL_MAX, pattern=r"^[\x20-\x7e]*$")]
"""Free text an agent reports about itself (version, executor): printable ASCII."""
Text = Annotated[str, BeforeValidator(values.storable_text)]
"""Free text a test printed (output, errors, test titles): any character is taken, the few
no store keeps (NUL, lone surrogates) shown as U+FFFD. Every free-text field of a request
is a `Text` (tests/api/test_text_fields.py checks)."""


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return _iso(ts)


@functools.lru_cache(maxsize=4096)  # a batch's jobs share their submit time
def _iso(ts: float) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Strict(BaseModel):
    """A request body. Its numbers and flags are strict too (`StrictInt`, `StrictFloat`,
    `StrictBool`): `true` is no count and `"2"` no number, so a client's mistake is a 422
    rather than a value it did not mean (`max_attempts: true` stored as 1)."""

    model_config = ConfigDict(extra="forbid")


_PRIORITY_RANGE = f"{values.MIN_PRIORITY}-{values.MAX_PRIORITY}"
_PRIORITY_NAMES = ", ".join(values.PRIORITY_NAMES)
_NUMBER_TEXT = re.compile(r"\s*[+-]?[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?\s*")
_ECHO_MAX = 20
"""Longest value a message repeats (a priority is a digit or a short name)."""


def _priority(raw: object) -> int:
    """A JSON integer 1-5 or a name (any case), strictly as every number of a body is taken:
    `2.0`, `3e0` and `"2"` are no integer, `true` none either. `parse_priority` also reads
    digits in a string, as the CLI's `--priority 2` must; a JSON body has integers for
    that. Each refusal is the one-line reason, repeating the value only when it is short."""
    if type(raw) is int:
        if abs(raw) < 10 ** _ECHO_MAX:
            return values.parse_priority(raw)  # or "priority 7 is out of range 1-5"
        raise ValueError(f"priority is out of range {_PRIORITY_RANGE}")
    if isinstance(raw, str):
        if _NUMBER_TEXT.fullmatch(raw):
            said = f" {raw!r}" if len(raw) <= _ECHO_MAX else ""
            raise ValueError(f"priority{said} is a string: give a number as a JSON integer "
                             f"({_PRIORITY_RANGE}), or one of: {_PRIORITY_NAMES}")
        if len(raw) > _ECHO_MAX:
            raise ValueError(f"priority is not {_PRIORITY_RANGE} or one of: {_PRIORITY_NAMES}")
        return values.parse_priority(raw)  # a name, or "priority 'asap' is not 1-5 or ..."
    if isinstance(raw, float):
        said = f" {raw!r}" if len(repr(raw)) <= _ECHO_MAX else ""
        raise ValueError(f"priority{said} is no integer: give {_PRIORITY_RANGE} (written "
                         f"without a point or exponent) or one of: {_PRIORITY_NAMES}")
    raise ValueError(f"priority must be an integer {_PRIORITY_RANGE} or one of: "
                     f"{_PRIORITY_NAMES}")


Priority = Annotated[int, BeforeValidator(_priority),
                     WithJsonSchema({"anyOf": [
                         {"type": "integer", "minimum": values.MIN_PRIORITY,
                          "maximum": values.MAX_PRIORITY},
                         {"type": "string", "description": "a name, any case"}]})]


FileName = Annotated[str, Field(min_length=1, max_length=limits.FILE_NAME_MAX,
                                pattern=limits.FILE_NAME_PATTERN)]
