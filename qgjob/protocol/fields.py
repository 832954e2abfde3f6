"""The field types of the wire models: identifiers with their rules, free text, priorities,
and the base of every request body. The rules themselves live in qgjob.domain.values (the CLI
checks the same ones locally); here they become pydantic types with their OpenAPI schema."""

from __future__ import annotations

import functools
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


def _priority(raw: object) -> object:
    """Numbers and names become 1-5, or fail with the one-line reason; anything else goes on
    to the integer check (which refuses it)."""
    if isinstance(raw, str | int):
        return values.parse_priority(raw)
    return raw


Priority = Annotated[int, BeforeValidator(_priority),
                     WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string"}]})]


FileName = Annotated[str, Field(min_length=1, max_length=limits.FILE_NAME_MAX,
                                pattern=limits.FILE_NAME_PATTERN)]
