"""Waiting for jobs to finish, with a live progress display on a terminal and plain progress
lines in CI logs. Exit codes: 0 all completed, 1 any failed or cancelled, 3 timed out."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qgjob.cli import render
from qgjob.cli.errors import EXIT_JOB_FAILED, EXIT_OK, EXIT_TIMEOUT, EXIT_USAGE, CliError
from qgjob.cli.http import ApiClient
from qgjob.cli.outcomes import is_forgiven
from qgjob.cli.quarantine import mark_quarantined

FINISHED = ("completed", "failed", "cancelled")
POLL_SECONDS = 0.5
PLAIN_PROGRESS_SECONDS = 10.0
SERVER_PATIENCE_SECONDS = 60.0
"""How long waiting rides out a server that cannot be reached (a restart under a CI job that
waits on it); never past the deadline of --timeout."""
_CHUNK = 200  # keeps the query string well under 16 KiB


@dataclass(frozen=True)
class Waited:
    """Where the jobs stood when waiting ended."""

    jobs: list[dict[str, Any]]
    """In the order they were asked for, each once."""
    timed_out: bool
    timeout: float | None


def wait_for_jobs(
    client: ApiClient, job_ids: Sequence[str], timeout: float | None, as_json: bool
) -> int:
    return show_outcome(watch_jobs(client, job_ids, timeout, quiet=as_json), as_json)


def watch_jobs(
    client: ApiClient, job_ids: Sequence[str], timeout: float | None, *, quiet: bool
) -> Waited:
    """Poll until every job is finished or `timeout` passes: a progress bar on a terminal,
    a plain line every 10 s in CI logs, nothing when `quiet`."""
    ids = list(dict.fromkeys(job_ids))
    deadline = None if timeout is None else time.monotonic() + timeout
    jobs = _fetch(client, ids, deadline)
    if sys.stderr.isatty() and not quiet:
        jobs, timed_out = _wait_live(client, ids, jobs, deadline)
    else:
        jobs, timed_out = _wait_plain(client, ids, jobs, deadline, quiet=quiet)
    return Waited(mark_quarantined(client, [jobs[i] for i in ids]), timed_out, timeout)


def show_outcome(waited: Waited, as_json: bool) -> int:
    """Print the jobs (a table, or JSON lines) and return the contract's exit code."""
    ordered = waited.jobs
    if as_json:
        render.json_lines(ordered)
    else:
        render.stdout.print(render.jobs_table(ordered))
        render.stderr.print(_summary(ordered))
    if waited.timed_out:
        render.stderr.print(f"timed out after {waited.timeout:g}s with {_unfinished(ordered)} "
                            "job(s) unfinished")
        return EXIT_TIMEOUT
    forgiven = [j for j in ordered if is_forgiven(j)]
    for job in forgiven if not as_json else ():
        render.stderr.print(f"{job['test_path']} failed but is quarantined: it does not fail "
                            "this run")
    if any(j["status"] != "completed" and not is_forgiven(j) for j in ordered):
        return EXIT_JOB_FAILED
    return EXIT_OK


def _wait_live(
    client: ApiClient, ids: list[str], jobs: dict[str, Any], deadline: float | None
) -> tuple[dict[str, Any], bool]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("[bold]waiting"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=render.stderr, transient=True) as progress:
        task = progress.add_task(_counts(jobs.values()), total=len(ids))
        while True:
            done = sum(j["status"] in FINISHED for j in jobs.values())
            progress.update(task, completed=done, description=_counts(jobs.values()))
            if done == len(ids):
                return jobs, False
            if deadline is not None and time.monotonic() >= deadline:
                return jobs, True
            time.sleep(POLL_SECONDS)
            jobs = _fetch(client, ids, deadline)


def _wait_plain(
    client: ApiClient, ids: list[str], jobs: dict[str, Any], deadline: float | None, quiet: bool
) -> tuple[dict[str, Any], bool]:
    last_line, last_print = "", 0.0
    while True:
        done = sum(j["status"] in FINISHED for j in jobs.values())
        line = f"waiting: {done}/{len(ids)} finished ({_counts(jobs.values())})"
        now = time.monotonic()
        if not quiet and ((line != last_line and now - last_print >= PLAIN_PROGRESS_SECONDS)
                          or done == len(ids)):
            print(line, file=sys.stderr, flush=True)
            last_line, last_print = line, now
        if done == len(ids):
            return jobs, False
        if deadline is not None and now >= deadline:
            return jobs, True
        time.sleep(POLL_SECONDS)
        jobs = _fetch(client, ids, deadline)


def _fetch(client: ApiClient, ids: list[str], deadline: float | None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        data = client.get("/jobs", {"job_id": chunk, "limit": len(chunk)},
                          retry_for=_patience(deadline))
        found.update((j["job_id"], j) for j in data["jobs"])
    missing = [i for i in ids if i not in found]
    if missing:
        raise CliError(EXIT_USAGE, f"no job with id {missing[0]!r}"
                       + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    return found


def _patience(deadline: float | None) -> float:
    if deadline is None:
        return SERVER_PATIENCE_SECONDS
    return min(SERVER_PATIENCE_SECONDS, max(deadline - time.monotonic(), 0.001))


def _counts(jobs: Any) -> str:
    counts = Counter(j["status"] for j in jobs)
    order = ("running", "queued", "completed", "failed", "cancelled")
    return ", ".join(f"{counts[s]} {s}" for s in order if counts[s])


def _unfinished(jobs: Sequence[dict[str, Any]]) -> int:
    return sum(j["status"] not in FINISHED for j in jobs)


def _summary(jobs: Sequence[dict[str, Any]]) -> str:
    counts = Counter(j["status"] for j in jobs)
    flaky = sum(bool(j.get("flaky")) for j in jobs)
    parts = [f"{counts[s]} {s}" for s in FINISHED if counts[s]]
    if flaky:
        parts.append(f"{flaky} flaky")
    if quarantined := sum(is_forgiven(j) for j in jobs):
        parts.append(f"{quarantined} quarantined")
    return f"{len(jobs)} job(s): " + ", ".join(parts or ["none finished"])
