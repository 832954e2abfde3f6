"""`qgjob logs`: a job's output, and with --follow, live until the job is finished."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from qgjob.cli import render
from qgjob.cli.app import app, globals_of
from qgjob.cli.errors import EXIT_USAGE, CliError
from qgjob.cli.jobs import JobIdOption
from qgjob.cli.safe_text import colours_kept, unfinished_escape
from qgjob.protocol import limits

if TYPE_CHECKING:
    from qgjob.cli.http import ApiClient

FOLLOW_POLL_SECONDS = 0.5
FOLLOW_PATIENCE_SECONDS = 30.0
"""How long --follow rides out a server that cannot be reached; the first read does not wait,
so a server that is not running is said at once."""
FINAL = ("completed", "failed", "cancelled")


@app.command()
def logs(
    ctx: typer.Context,
    job_id: JobIdOption,
    attempt: Annotated[int | None, typer.Option(
        "--attempt", min=1, max=limits.MAX_ATTEMPT_NUMBER,
        help="An earlier attempt (default: the last).")] = None,
    follow: Annotated[bool, typer.Option(
        "--follow", "-f", help="Keep printing new output until the job is finished.")] = False,
) -> int:
    """A job's stdout and stderr (the last 1 MiB of each attempt)."""
    client = globals_of(ctx).client()
    shown, offset = _print_part(client, job_id, attempt, 0, heading=False, patience=0.0)
    printed = offset > 0
    while follow:
        job = client.get(f"/jobs/{job_id}", retry_for=FOLLOW_PATIENCE_SECONDS)
        latest = attempt or int(job["attempts"])
        if shown:  # the rest of the attempt on screen
            shown, offset = _print_part(client, job_id, shown, offset, heading=False)
            printed = printed or offset > 0
        for newer in range(shown + 1, latest + 1):  # retries since: each from its start
            shown, offset = _print_part(client, job_id, newer, 0, heading=True)
            printed = printed or offset > 0
        if job["status"] in FINAL:  # everything it wrote before finishing is printed
            break
        time.sleep(FOLLOW_POLL_SECONDS)
    if not printed:
        render.stderr.print(_why_empty(client, job_id, shown))
    return 0


def _why_empty(client: ApiClient, job_id: str, attempt: int) -> str:
    """A sentence for a job with no output to print, so an empty log is never silent."""
    if attempt:
        return f"attempt {attempt} of job {job_id} has recorded no output"
    job = client.get(f"/jobs/{job_id}")
    if job["status"] == "cancelled":
        return f"job {job_id} was cancelled before it started: it has no output"
    if job["status"] in FINAL:
        return f"job {job_id} is {job['status']} without having started: it has no output"
    return (f"job {job_id} has not started yet ({job['status']}): no output so far; "
            "--follow prints it as it comes")


def _print_part(client: ApiClient, job_id: str, attempt: int | None, offset: int,
                heading: bool, patience: float = FOLLOW_PATIENCE_SECONDS) -> tuple[int, int]:
    """Print an attempt's output from `offset`; returns the attempt and where to go on."""
    params: dict[str, int] = {"offset": offset}
    if attempt:
        params["attempt"] = attempt
    try:
        text, headers = client.get_text(f"/jobs/{job_id}/logs", params, retry_for=patience)
    except CliError as error:
        if error.status == 404:
            raise CliError(EXIT_USAGE, error.message) from None
        raise
    shown = int(headers.get("x-qgjob-attempt", "0"))
    if heading:
        sys.stdout.write(f"\n--- attempt {shown} ---\n")
    dropped = int(headers.get("x-qgjob-dropped", "0"))
    if offset == 0 and dropped:
        sys.stdout.write(f"[{dropped} earlier characters were not kept]\n")
    next_offset = int(headers.get("x-qgjob-next-offset", "0"))
    # Raw into a file or a pipe (it is the job's output); on a terminal, only its colours, and
    # a colour code the attempt is still writing waits for its end (read again next time).
    if sys.stdout.isatty():
        held = 0 if headers.get("x-qgjob-finished") == "true" else unfinished_escape(text)
        text = colours_kept(text[:len(text) - held])
        next_offset -= held
    sys.stdout.write(text)
    sys.stdout.flush()
    return shown, next_offset
