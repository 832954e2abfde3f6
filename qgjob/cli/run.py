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
from qgjob.cli.app import app, given, globals_of
from qgjob.cli.errors import EXIT_USAGE, CliError
from qgjob.cli.jobs import (
    IdempotencyKeyOption,
    JsonOption,
    MaxAttemptsOption,
    PriorityOption,
    TargetOption,
    TimeoutOption,
    _checked,
    checked_org_id,
)
from qgjob.domain import values

if TYPE_CHECKING:
    from qgjob.cli.http import ApiClient
    from qgjob.cli.waiting import Waited

MAX_LOGS_FETCHED = 100


OptionalOrg = Annotated[str | None, typer.Option(
    "--org-id", help="Your organisation's id.",
    callback=checked_org_id)]
OptionalApp = Annotated[str | None, typer.Option(
    "--app-version-id", help="The app build to test.",
    callback=lambda v: _checked(values.check_app_version_id, v))]


def _run_name(raw: str | None) -> str | None:
    from qgjob.cli.run_source import check_run_name

    try:
        return None if raw is None else check_run_name(raw)
    except ValueError as bad:
        raise typer.BadParameter(str(bad)) from None


@app.command()
def run(
    ctx: typer.Context,
    org_id: OptionalOrg = None,
    app_version_id: OptionalApp = None,
    test: Annotated[list[str] | None, typer.Option(
        "--test", help="A test file or a glob such as 'tests/**/*.spec.js', relative to the "
                       "working directory; repeat for more.")] = None,
    target: TargetOption = "emulator",
    priority: PriorityOption = "normal",
    max_attempts: MaxAttemptsOption = None,
    idempotency_key: IdempotencyKeyOption = None,
    timeout: TimeoutOption = None,
    junit: Annotated[Path | None, typer.Option(
        "--junit", help="Write a JUnit XML report here.", show_default=False)] = None,
    run_name: Annotated[str | None, typer.Option(
        "--run-name", show_default=False, callback=_run_name,
        help="The run's name (default: from GitHub Actions' variables, else the build).")
    ] = None,
    rerun_failed: Annotated[str | None, typer.Option(
        "--rerun-failed", metavar="RUN", show_default=False,
        help="Run the failed tests of run RUN again, as a new run linked to it.")] = None,
    as_json: JsonOption = False,
) -> int:
    """Submit a suite as one run and wait for it: one job per test file the globs match.
    Exit 0 if all passed, 1 if any failed or was cancelled, 3 on timeout. Writes JUnit XML
    with --junit (a testcase per test); inside GitHub Actions, also a job summary,
    annotations and step outputs. With --rerun-failed RUN, the failed tests of RUN instead."""
    from qgjob.cli.junit import check_writable
    from qgjob.cli.waiting import show_outcome, watch_jobs

    if rerun_failed is not None:
        if any(given(ctx, name) for name in RUN_OWN):
            raise CliError(EXIT_USAGE, f"--rerun-failed takes no {_options(RUN_OWN)}: it runs "
                                       "the failed tests of that run again, as that run ran "
                                       "them")
        if junit is not None:
            check_writable(junit)
        started = _rerun(globals_of(ctx).client(), rerun_failed, idempotency_key, as_json)
    else:
        started = _start(ctx, _required(org_id, app_version_id, test), target, priority,
                         max_attempts, idempotency_key, junit, run_name, as_json)
    client, run_id, job_ids, suite = started
    waited = watch_jobs(client, job_ids, timeout, quiet=as_json)
    _report(client, waited, suite, junit, as_json, run_id)
    return show_outcome(waited, as_json)


RUN_OWN = ("org_id", "app_version_id", "test", "target", "priority", "max_attempts",
           "run_name")
"""The options a rerun takes from the run it repeats (its org, build, tests, targets,
priority, attempts and name), so refuses rather than ignores."""



def _options(names: tuple[str, ...]) -> str:
    flags = [f"--{name.replace('_', '-')}" for name in names]
    return f"{', '.join(flags[:-1])} or {flags[-1]}"


Started = tuple["ApiClient", str | None, list[str], str]
"""The client, the run (None from a server without runs), its job ids and the suite's name."""


def _required(org_id: str | None, app_version_id: str | None, test: list[str] | None
              ) -> tuple[str, str, list[str]]:
    for option, value in (("--org-id", org_id), ("--app-version-id", app_version_id),
                          ("--test", test)):
        if not value:
            raise CliError(EXIT_USAGE, f"Missing option {option!r} (see `qgjob run --help`)")
    assert org_id and app_version_id and test
    return org_id, app_version_id, test


def _start(ctx: typer.Context, required: tuple[str, str, list[str]], target: str,
           priority: str, max_attempts: int | None, idempotency_key: str | None,
           junit: Path | None, run_name: str | None, as_json: bool) -> Started:
    from qgjob.cli.globs import expand_tests
    from qgjob.cli.jobs import Submission, queue_job_ids, queued_text
    from qgjob.cli.junit import check_writable

    org_id, app_version_id, test = required
    tests = expand_tests(test, Path.cwd())
    if junit is not None:
        check_writable(junit)
    client = globals_of(ctx).client()
    run_id = _create_run(client, org_id, app_version_id, target, run_name, idempotency_key)
    queued = queue_job_ids(client, tests, Submission(org_id, app_version_id, target, priority,
                                                     max_attempts, idempotency_key, run_id))
    if not as_json:
        print(f"qgjob run: {len(queued.ids)} test(s) of {app_version_id} on {target} "
              f"(priority {priority}): {queued_text(queued)}"
              f"{f' as run {run_id}' if run_id else ''}", file=sys.stderr, flush=True)
    return client, run_id, queued.ids, f"{app_version_id} on {target}"


def _create_run(client: ApiClient, org_id: str, app_version_id: str, target: str,
                name: str | None, idempotency_key: str | None) -> str | None:
    """The run the jobs go into; None from a server that has no runs yet."""
    from qgjob.cli.idempotency import run_key
    from qgjob.cli.run_source import github_run_number, github_source, run_name

    source = github_source(os.environ)
    named = run_name(name, source, app_version_id, github_run_number(os.environ))
    body = {"org_id": org_id, "app_version_id": app_version_id, "name": named,
            "source": source,
            "idempotency_key": run_key(idempotency_key, app_version_id, target)}
    try:
        return str(client.post("/runs", body)["run_id"])
    except CliError as error:
        if error.status in (404, 405):
            render.stderr.print("this server keeps no runs; the jobs are submitted alone")
            return None
        raise


def _rerun(client: ApiClient, run_id: str, idempotency_key: str | None, as_json: bool
           ) -> Started:
    from qgjob.cli.idempotency import run_key

    key = run_key(idempotency_key, "rerun-failed", run_id)
    try:
        again = client.post(f"/runs/{run_id}/rerun-failed", None,
                            {"Idempotency-Key": key} if key else None)
    except CliError as error:
        if error.status == 404:
            raise CliError(EXIT_USAGE, f"no run with id {run_id!r}") from None
        raise
    if not as_json:
        print(f"qgjob run: {len(again['job_ids'])} failed test(s) of run {run_id} again, as "
              f"run {again['run_id']} (attempt {again['attempt']})", file=sys.stderr,
              flush=True)
    return (client, again["run_id"], again["job_ids"],
            f"{again['app_version_id']} on {', '.join(again['targets'])}")


def _report(client: ApiClient, waited: Waited, suite: str, junit: Path | None,
            as_json: bool, run_id: str | None) -> None:
    from qgjob.cli import github
    from qgjob.cli.junit import junit_xml, write_report
    from qgjob.cli.outcomes import Tally

    in_actions = github.in_actions(os.environ)
    if junit is None and not in_actions:
        return
    excerpts = log_excerpts(client, waited.jobs)
    if junit is not None:
        cases = run_cases(client, run_id) if run_id else {}
        write_report(junit, junit_xml(waited.jobs, excerpts, suite, cases))
    if not in_actions:
        return
    _append_for_github("GITHUB_STEP_SUMMARY", github.summary_markdown(waited.jobs, excerpts,
                                                                       suite))
    _append_for_github("GITHUB_OUTPUT", github.step_outputs(Tally.of(waited.jobs), junit))
    for line in github.annotation_lines(waited.jobs):
        print(line, file=sys.stderr if as_json else sys.stdout, flush=True)


_GITHUB_FILES = {"GITHUB_STEP_SUMMARY": "the job summary", "GITHUB_OUTPUT": "the step outputs"}


def _append_for_github(variable: str, text: str) -> None:
    """Best effort: a job summary or outputs file that cannot be written costs only that,
    not the annotations, the results table or the exit code the tests decide."""
    from qgjob.cli import github

    path = os.environ.get(variable)
    try:
        github.append(path, text)
    except OSError as error:
        print(f"qgjob: warning: {_GITHUB_FILES[variable]} not written: ${variable} {path!r}: "
              f"{error.strerror or error}", file=sys.stderr, flush=True)


def run_cases(client: ApiClient, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """The per-test results of the run's jobs, by job id (jobs without any are absent)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for row in client.get(f"/runs/{run_id}")["tests"]:
        if row["title"] is not None:
            found.setdefault(row["job_id"], []).append(row)
    return found


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
