"""`qgjob run`: a whole suite in one CI step. Expand the globs, submit every test
idempotently, wait with live progress, then report: JUnit XML, and inside GitHub Actions a
job summary, annotations and step outputs. Exit codes as `qgjob wait`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from qgjob.cli import render
from qgjob.cli.app import app, globals_of
from qgjob.cli.errors import CliError
from qgjob.cli.jobs import (
    AppOption,
    IdempotencyKeyOption,
    JsonOption,
    MaxAttemptsOption,
    OrgOption,
    PriorityOption,
    TargetOption,
    TimeoutOption,
)

if TYPE_CHECKING:
    from qgjob.cli.http import ApiClient
    from qgjob.cli.waiting import Waited

MAX_LOGS_FETCHED = 100


@app.command()
def run(
    ctx: typer.Context,
    org_id: OrgOption,
    app_version_id: AppOption,
    test: Annotated[list[str], typer.Option(
        "--test", help="A test file or a glob such as 'tests/**/*.spec.js', relative to the "
                       "working directory; repeat for more.")],
    target: TargetOption = "emulator",
    priority: PriorityOption = "normal",
    max_attempts: MaxAttemptsOption = None,
    idempotency_key: IdempotencyKeyOption = None,
    timeout: TimeoutOption = None,
    junit: Annotated[Path | None, typer.Option(
        "--junit", help="Write a JUnit XML report here.", show_default=False)] = None,
    as_json: JsonOption = False,
) -> int:
    """Submit a suite and wait for it: one job per test file the globs match. Exit 0 if all
    passed, 1 if any failed or was cancelled, 3 on timeout. Writes JUnit XML with --junit;
    inside GitHub Actions, also a job summary, annotations and step outputs."""
    from qgjob.cli.globs import expand_tests
    from qgjob.cli.jobs import Submission, queue_job_ids, queued_text
    from qgjob.cli.junit import check_writable
    from qgjob.cli.waiting import show_outcome, watch_jobs

    tests = expand_tests(test, Path.cwd())
    if junit is not None:
        check_writable(junit)
    client = globals_of(ctx).client()
    queued = queue_job_ids(client, tests, Submission(org_id, app_version_id, target, priority,
                                                     max_attempts, idempotency_key))
    if not as_json:
        print(f"qgjob run: {len(queued.ids)} test(s) of {app_version_id} on {target} "
              f"(priority {priority}): {queued_text(queued)}", file=sys.stderr, flush=True)
    waited = watch_jobs(client, queued.ids, timeout, quiet=as_json)
    _report(client, waited, f"{app_version_id} on {target}", junit, as_json)
    return show_outcome(waited, as_json)


def _report(client: ApiClient, waited: Waited, suite: str, junit: Path | None,
            as_json: bool) -> None:
    from qgjob.cli import github
    from qgjob.cli.junit import junit_xml, write_report
    from qgjob.cli.outcomes import Tally

    in_actions = github.in_actions(os.environ)
    if junit is None and not in_actions:
        return
    excerpts = log_excerpts(client, waited.jobs)
    if junit is not None:
        write_report(junit, junit_xml(waited.jobs, excerpts, suite))
    if not in_actions:
        return
    github.append(os.environ.get("GITHUB_STEP_SUMMARY"),
                  github.summary_markdown(waited.jobs, excerpts, suite))
    github.append(os.environ.get("GITHUB_OUTPUT"),
                  github.step_outputs(Tally.of(waited.jobs), junit))
    for line in github.annotation_lines(waited.jobs):
        print(line, file=sys.stderr if as_json else sys.stdout, flush=True)


def log_excerpts(client: ApiClient, jobs: list[dict[str, Any]]) -> dict[str, str]:
    """The end of each failed job's log, by job id. A server without logs (404) or an empty
    log gives no excerpt; the report is written either way."""
    from qgjob.cli.outcomes import log_excerpt

    found: dict[str, str] = {}
    for job in [j for j in jobs if j["status"] == "failed"][:MAX_LOGS_FETCHED]:
        try:
            text, _ = client.get_text(f"/jobs/{job['job_id']}/logs")
        except CliError as error:
            if error.status != 404:
                render.stderr.print(f"no log for {job['test_path']}: {error.message}")
            continue
        if excerpt := log_excerpt(text):
            found[job["job_id"]] = excerpt
    return found
