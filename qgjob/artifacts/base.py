"""The artifact store interface, and how names are checked (the allow-list of types is
part of the protocol: qgjob/protocol/artifacts.py).

Names come from agents, which run whatever a test suite does: a name is a single path
segment of safe characters, never a path, and its extension decides its type (what the agent
claims about the type is not trusted)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Protocol

from qgjob.domain.values import NAME_MAX, NAME_PATTERN
from qgjob.protocol.artifacts import ARTIFACT_TYPES as TYPES
from qgjob.protocol.limits import FILE_NAME_MAX, FILE_NAME_PATTERN

DROPS_LISTED = 50
"""Dropped files an attempt lists by name; later ones are only counted. A drop costs the
agent nothing (a request head declaring a huge size is enough), so without a bound the
manifest, rewritten whole on every upload, and the listing would grow with every request."""
FILES_KEPT = 1000
"""Files an attempt keeps, however small: each is a line of the manifest, which is rewritten
whole on every upload (a suite that fails a thousand tests says what it needs to in fewer)."""
DROP_TEST_MAX = 200
"""Characters of a dropped file's test title that are kept, for the same reason."""

_NAME = re.compile(FILE_NAME_PATTERN)
_ID = re.compile(NAME_PATTERN)


class ArtifactRefused(Exception):
    """An upload the store does not take; `code` is what the API answers with."""

    def __init__(self, detail: str, code: str, status: int = 422) -> None:
        super().__init__(detail)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class ArtifactEntry:
    name: str
    media_type: str
    kind: str
    size: int
    test: str | None = None
    """The title of the test that left it, when the agent knows."""


@dataclass(frozen=True)
class DroppedArtifact:
    name: str
    size: int
    reason: str
    test: str | None = None


@dataclass(frozen=True)
class AttemptArtifacts:
    attempt: int
    created_at: float
    files: tuple[ArtifactEntry, ...] = ()
    dropped: tuple[DroppedArtifact, ...] = ()
    dropped_more: int = 0
    """Drops after `dropped` held DROPS_LISTED files: counted, not listed (a name refused
    twice counts twice)."""

    @property
    def size(self) -> int:
        return sum(entry.size for entry in self.files)

    def with_drop(self, dropped: DroppedArtifact) -> AttemptArtifacts:
        """This attempt with one more file not kept: listed (in place of an earlier drop of
        its name) while the list has room, counted once it is full; its test title cut."""
        if dropped.test is not None and len(dropped.test) > DROP_TEST_MAX:
            dropped = replace(dropped, test=dropped.test[:DROP_TEST_MAX - 1] + "…")
        others = tuple(d for d in self.dropped if d.name != dropped.name)
        if len(others) >= DROPS_LISTED:
            return replace(self, dropped_more=self.dropped_more + 1)
        return replace(self, dropped=(*others, dropped))


def artifact_type(name: str) -> tuple[str, str]:
    """(content type, kind) of a file name; ArtifactRefused if the name is unsafe or its
    extension is not on the allow-list."""
    if len(name) > FILE_NAME_MAX or not _NAME.fullmatch(name) or ".." in name:
        raise ArtifactRefused(f"artifact name {name[:120]!r} is not a plain file name "
                              "(letters, digits, '.', '_', '-')", "bad_artifact_name", 400)
    extension = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in TYPES:
        raise ArtifactRefused(f"artifact type {extension or '(none)'!r} is not kept; "
                              f"allowed: {', '.join(sorted(TYPES))}", "artifact_type", 415)
    return TYPES[extension]


def check_place(job_id: str, attempt: int) -> None:
    """The job id and attempt become directory names: plain ids and positive numbers only."""
    if len(job_id) > NAME_MAX or not _ID.fullmatch(job_id) or not 0 < attempt < 1_000_000:
        raise ArtifactRefused("not a job id and attempt number", "bad_artifact_name", 400)


class ArtifactStore(Protocol):
    """Where evidence lives. Methods are blocking (file or network I/O): the API runs them in
    a worker thread. `now` is passed in, never read."""

    def save(self, job_id: str, attempt: int, name: str, content: bytes, *,
             test: str | None, now: float) -> ArtifactEntry:
        """Keep a file (a second upload of a name replaces the first). Over the attempt's
        cap (of bytes, or of FILES_KEPT files), the file is recorded as dropped and
        ArtifactRefused (`artifact_over_cap`, 413) raised."""
        ...

    def drop(self, job_id: str, attempt: int, name: str, size: int, reason: str, *,
             test: str | None, now: float) -> None:
        """Record a file that was not kept, and why."""
        ...

    def room(self, job_id: str, attempt: int) -> int:
        """Bytes the attempt may still store."""
        ...

    def attempts(self, job_id: str) -> list[AttemptArtifacts]:
        """Every attempt's manifest, oldest attempt first."""
        ...

    def read(self, job_id: str, attempt: int, name: str) -> tuple[ArtifactEntry, bytes] | None:
        ...

    def sweep(self, before: float) -> int:
        """Remove attempts stored before `before`; how many were removed."""
        ...
