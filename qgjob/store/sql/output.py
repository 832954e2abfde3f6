"""What attempts leave behind: output kept to its last 1 MiB, per-test results and
report files. Functions run inside the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence

from qgjob.domain.models import AttemptFile, CaseResult, OutputSlice
from qgjob.protocol.limits import case_seconds
from qgjob.store.base import OutputGap
from qgjob.store.sql.database import Tx

MAX_OUTPUT_CHARS = 1024 * 1024


def append(conn: Tx, job_id: str, attempt: int, text: str, offset: int | None = None) -> None:
    """With `offset`, only the part of `text` past what the attempt already holds."""
    params = {"job_id": job_id, "attempt": attempt, "text": text, "max": MAX_OUTPUT_CHARS}
    if offset is None:
        conn.run("append_output", params)
    else:
        conn.run("append_output_at", {**params, "offset": offset})


def append_chunk(conn: Tx, job_id: str, attempt: int, text: str, offset: int) -> None:
    """`append` at `offset`, which must not be past what the attempt holds (OutputGap): the
    sender missed nothing it means to send. (A report's end of output is kept even so, by
    `append`: the result matters more than the gap.)"""
    row = conn.run("output_end", {"job_id": job_id, "attempt": attempt}).fetchone()
    held = int(row["held"]) if row is not None else 0
    if offset > held:
        raise OutputGap(offset, held)
    append(conn, job_id, attempt, text, offset)


def read(conn: Tx, job_id: str, attempt: int | None, offset: int
         ) -> OutputSlice | None:
    if attempt is None:
        attempt = conn.run("last_attempt_number", {"job_id": job_id}).fetchone()["attempt"]
        if attempt is None:
            return None
    row = conn.run("attempt_output", {"job_id": job_id, "attempt": attempt}).fetchone()
    if row is None:
        return None
    dropped, text = row["output_dropped"], row["output"]
    total = dropped + len(text)
    start = min(max(offset, dropped), total)
    return OutputSlice(attempt=row["attempt"], text=text[start - dropped:], offset=start,
                       next_offset=total, dropped=dropped,
                       finished=row["finished_at"] is not None)


def save_cases(conn: Tx, job_id: str, attempt: int,
               cases: Sequence[CaseResult]) -> None:
    details = json.dumps([case.__dict__ for case in cases])
    conn.run("save_attempt_details", {"job_id": job_id, "attempt": attempt,
                                             "details": details})


def last_cases(conn: Tx, job_id: str) -> list[CaseResult]:
    row = conn.run("last_attempt_details", {"job_id": job_id}).fetchone()
    return cases_of(row["details"]) if row else []


def cases_of(details: str) -> list[CaseResult]:
    """The per-test results as `save_cases` stored them (a duration stored before the
    server refused non-finite and day-plus ones read within the limit)."""
    return [CaseResult(**{**item, "duration_seconds": case_seconds(item["duration_seconds"])})
            for item in json.loads(details)]


def save_file(conn: Tx, job_id: str, attempt: int, file: AttemptFile) -> None:
    conn.run("save_attempt_file", {"job_id": job_id, "attempt": attempt,
                                          "name": file.name, "media_type": file.media_type,
                                          "content": file.content})


def list_files(conn: Tx, job_id: str) -> list[tuple[int, str, str, int]]:
    return [(r["attempt"], r["name"], r["media_type"], r["size"])
            for r in conn.run("attempt_files", {"job_id": job_id})]


def read_file(conn: Tx, job_id: str, attempt: int, name: str
              ) -> AttemptFile | None:
    row = conn.run("attempt_file", {"job_id": job_id, "attempt": attempt,
                                           "name": name}).fetchone()
    return AttemptFile(name, row["media_type"], bytes(row["content"])) if row else None
