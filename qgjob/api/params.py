"""Bounds for path and query values: every one has a length and a character set, so a bad
value is a 422 (or a 404), never a 500 or an echo of megabytes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import StringConstraints

from qgjob.domain import values

ID_MAX = values.NAME_MAX
ID_PATTERN = f"^{values.NAME_PATTERN}$"
"""Job, agent and lease ids (ours are 26 lower-case base32 characters)."""

JobIdPath = Annotated[str, Path(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)]
LeaseIdPath = Annotated[str, Path(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)]
JobIdValue = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX,
                                              pattern=ID_PATTERN)]
FILE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
FileNamePath = Annotated[str, Path(min_length=1, max_length=100, pattern=FILE_NAME_PATTERN)]
