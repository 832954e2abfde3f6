"""Commands on jobs: submit, status, wait, cancel, jobs."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from qgjob.cli import render
from qgjob.cli.app import app, globals_of
from qgjob.cli.cancelling import WAIT_SECONDS, cancel_outcome, wait_until_stopped
from qgjob.cli.errors import EXIT_OK, EXIT_USAGE, CliError
from qgjob.cli.numbers import number
from qgjob.cli.outcomes import tries
from qgjob.domain import values
from qgjob.domain.states import PUBLIC_STATUSES
from qgjob.protocol import limits

if TYPE_CHECKING:
    from qgjob.cli.http import ApiClient

SUBMIT_CHUNK = limits.MAX_JOBS_PER_REQUEST
"""Jobs per request when submitting many tests: the most `POST /jobs/batch` takes."""
IN_FLIGHT = 2
"""Chunk requests under way at once."""


def _priority(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return values.parse_priority(raw)
    except values.InvalidValue as bad:
        raise typer.BadParameter(str(bad)) from None


def _target(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return values.parse_target(raw)
    except values.InvalidValue as bad:
        raise typer.BadParameter(str(bad)) from None


def _run_id(raw: str) -> str:
    return values.check_name(raw, "--run")


def _checked(check: Any, raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return str(check(raw))
    except values.InvalidValue as bad:
        raise typer.BadParameter(str(bad)) from None


def checked_org_id(raw: str | None) -> str | None:
    """`--org-id`, checked as the server checks it (every command that takes one)."""
    return _checked(values.check_org_id, raw)


OrgOption = Annotated[str, typer.Option("--org-id", help="Your organisation's id.",
                                        callback=checked_org_id)]
AppOption = Annotated[str, typer.Option(
    "--app-version-id", help="The app build to test.",
    callback=lambda v: _checked(values.check_app_version_id, v))]
TargetOption = Annotated[str, typer.Option("--target", callback=_target,
                                           help="emulator, device or browserstack.")]
PriorityOption = Annotated[str, typer.Option("--priority", callback=_priority,
                                             help="1 (lowest) … 5 (highest), or low, normal "
                                                  "(or medium), high, urgent (or "
                                                  "critical).")]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]
TimeoutOption = Annotated[float | None, typer.Option(
    "--timeout", parser=number(0), help="Give up waiting after this many seconds (exit 3).")]


def _job_id(raw: str) -> str:
    """A job id as the API's paths take one: checked here, so a space or a '?' is a usage
    error rather than a malformed URL (which read as an unreachable server)."""
    return str(_checked(lambda value: values.check_name(value, "--job-id"), raw))


def _job_ids(raw: list[str]) -> list[str]:
    return [_job_id(one) for one in raw]


JobIdOption = Annotated[str, typer.Option("--job-id", help="The job's id.", callback=_job_id)]


MaxAttemptsOption = Annotated[int | None, typer.Option(
    "--max-attempts", min=1, max=limits.MAX_ATTEMPTS,
    help="Attempts before a failing test counts as failed.")]
IdempotencyKeyOption = Annotated[str | None, typer.Option(
    "--idempotency-key", envvar="QGJOB_IDEMPOTENCY_KEY", show_default=False,
    help="Submitting again with the same key gives back the same jobs (one per test). "
         "Inside GitHub Actions it defaults to the run id, attempt and test.")]


@app.command()
def submit(
    ctx: typer.Context,
    org_id: OrgOption,
    app_version_id: AppOption,
    test: Annotated[list[str], typer.Option("--test", help="A test file; repeat for more.")],
    target: TargetOption = "emulator",
    priority: PriorityOption = "normal",
    max_attempts: MaxAttemptsOption = None,
    idempotency_key: IdempotencyKeyOption = None,
    wait: Annotated[bool, typer.Option("--wait", help="Then wait like `qgjob wait`.")] = False,
    timeout: TimeoutOption = None,
    run: Annotated[str | None, typer.Option(
        "--run", metavar="RUN_ID", show_default=False,
        help="Add the jobs to this run (of the same org and build); without it they belong "
             "to none.")] = None,
    as_json: JsonOption = False,
) -> int:
    """Queue one job per test; prints each job id."""
    if timeout is not None and not wait:
        # The contract lists --timeout beside --wait: a script may give it alone, so it is
        # said, not refused.
        render.stderr.print("qgjob: warning: --timeout has no effect without --wait (submit "
                            "does not wait)")
    for path in test:
        _checked(values.check_test_path, path)
    client = globals_of(ctx).client()
    submission = Submission(org_id, app_version_id, target, priority, max_attempts,
                            idempotency_key, _checked(_run_id, run))
    if as_json and not wait:
        render.json_lines(queue_jobs(client, test, submission))
        return 0
    queued = queue_job_ids(client, test, submission)
    ids = queued.ids
    if not wait:
        # A person at a terminal reads what was queued; a retried CI step's log says that its
        # jobs were found, not queued again (stdout stays the ids alone either way).
        if sys.stderr.isatty() or queued.found:
            render.stderr.print(f"{len(ids)} job(s) of {app_version_id} on {target} "
                                f"(priority {priority}): {queued_text(queued)}")
        print("\n".join(ids))
        return 0
    from qgjob.cli.waiting import wait_for_jobs

    if not as_json:
        print("\n".join(ids), flush=True)
    return wait_for_jobs(client, ids, timeout, as_json)


@dataclass(frozen=True)
class Submission:
    """What `qgjob submit` and `qgjob run` queue for each of their tests."""

    org_id: str
    app_version_id: str
    target: str
    priority: int | str
    max_attempts: int | None
    idempotency_key: str | None
    run_id: str | None = None
    """The run the jobs join (POST /runs), if any."""

    @property
    def batch_path(self) -> str:
        return "/jobs/batch" + (f"?run_id={self.run_id}" if self.run_id else "")

    def bodies(self, tests: Sequence[str]) -> list[dict[str, Any]]:
        """One job per test, each with its idempotency key (see `job_keys`)."""
        from qgjob.cli.idempotency import job_keys

        keys = job_keys(self.idempotency_key, self.app_version_id, self.target, tests,
                        asked=(self.priority, self.max_attempts))
        return [
            {"org_id": self.org_id, "app_version_id": self.app_version_id, "test_path": path,
             "target": self.target, "priority": self.priority,
             "max_attempts": self.max_attempts, "idempotency_key": key}
            for path, key in zip(tests, keys, strict=True)
        ]


def queue_jobs(client: ApiClient, tests: Sequence[str], submission: Submission
               ) -> list[dict[str, Any]]:
    """Submit one job per test, in chunks of `SUBMIT_CHUNK`; the jobs come back in the order
    of `tests`."""
    body = submission.bodies(tests)
    if len(body) == 1 and not submission.run_id:
        return [client.post("/jobs", body[0])]
    return [job for answer in _post_chunks(client, submission.batch_path, body, {})
            for job in answer["jobs"]]


@dataclass(frozen=True)
class Queued:
    ids: list[str]
    """In the order of the tests."""
    found: int
    """How many of them an idempotency key found (a retried step), rather than queued now."""


def queue_job_ids(client: ApiClient, tests: Sequence[str], submission: Submission) -> Queued:
    """As `queue_jobs`, for callers that need only the ids: the server answers with those
    alone (`Prefer: return=minimal`), a tenth of the bytes to write and read."""
    answers = _post_chunks(client, submission.batch_path, submission.bodies(tests),
                           {"Prefer": "return=minimal"})
    return Queued([job_id for answer in answers for job_id in answer["job_ids"]],
                  sum(answer.get("replayed", 0) for answer in answers))


def queued_text(queued: Queued) -> str:
    """`queued`, `found` (every job was submitted before with the same key) or both."""
    if not queued.found:
        return "queued"
    if queued.found == len(queued.ids):
        return "found, submitted before with the same idempotency key"
    return (f"{len(queued.ids) - queued.found} queued, {queued.found} found (submitted "
            "before with the same idempotency key)")


def _post_chunks(client: ApiClient, path: str, body: list[dict[str, Any]],
                 headers: dict[str, str]) -> list[Any]:
    """`POST /jobs/batch` (`path`) of every chunk of `body`; the answers in order."""
    chunks = [body[start:start + SUBMIT_CHUNK] for start in range(0, len(body), SUBMIT_CHUNK)]
    if len(chunks) == 1:
        return [client.post(path, {"jobs": chunks[0]}, headers)]
    return _post_in_flight(client, path, chunks, headers)


def _post_in_flight(client: ApiClient, path: str, chunks: list[list[dict[str, Any]]],
                    headers: dict[str, str]) -> list[Any]:
    """The chunks' answers, in order, with `IN_FLIGHT` requests under way at once: while the
    server stores one chunk it reads the next, and we write and read ours meanwhile. A chunk
    that fails fails the command; the jobs of those that got in are found again by their
    idempotency keys when it is run again."""
    from concurrent.futures import ThreadPoolExecutor

    answers: list[Any] = [None] * len(chunks)

    def post_every(first: int, own: ApiClient) -> None:
        try:
            for index in range(first, len(chunks), IN_FLIGHT):
                answers[index] = own.post(path, {"jobs": chunks[index]}, headers)
        finally:
            if own is not client:
                own.close()

    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        running = [pool.submit(post_every, n, client if n == 0 else client.fork())
                   for n in range(IN_FLIGHT)]
        for future in running:
            future.result()
    return answers


@app.command()
def status(ctx: typer.Context, job_id: JobIdOption, as_json: JsonOption = False) -> int:
    """One job's state."""
    job = _get_job(ctx, job_id)
    if as_json:
        render.json_lines([job])
        return 0
    rows = [
        ("job", job["job_id"]), ("status", render.status_text(job["status"])),
        ("org", job["org_id"]), ("app", job["app_version_id"]), ("target", job["target"]),
        ("test", job["test_path"]), ("priority", job["priority"]),
        ("attempts", tries(job, " of ")
                     + (" (flaky: passed on a retry)" if job["flaky"] else "")),
        ("device", job["device"]), ("error", job["error"]),
        ("created", job["created_at"]), ("started", job["started_at"]),
        ("finished", job["finished_at"]),
    ]
    if job["cancel_requested"] and job["status"] == "running":
        rows.append(("cancel", "requested; its agent stops it at the next heartbeat"))
    render.stdout.print(render.table(["", ""], rows))
    return 0


@app.command()
def wait(
    ctx: typer.Context,
    job_id: Annotated[list[str], typer.Option("--job-id", help="A job's id; repeat for more.",
                                              callback=_job_ids)],
    timeout: TimeoutOption = None,
    as_json: JsonOption = False,
) -> int:
    """Block until every job is finished. Exit 0 if all completed, 1 if any failed or was
    cancelled, 3 on timeout."""
    from qgjob.cli.waiting import wait_for_jobs

    return wait_for_jobs(globals_of(ctx).client(), job_id, timeout, as_json)


@app.command()
def cancel(
    ctx: typer.Context, job_id: JobIdOption, as_json: JsonOption = False,
    timeout: Annotated[float, typer.Option(
        "--timeout", parser=number(0),
        help="Seconds to wait for a running job to stop (exit 3 if it does not); 0 returns at "
             "once.")] = WAIT_SECONDS,
) -> int:
    """Cancel a queued or running job; for a running one, wait to see it stop, or end first."""
    client = globals_of(ctx).client()
    try:
        job = client.post(f"/jobs/{job_id}/cancel")
    except CliError as error:
        if error.status == 409:
            raise CliError(EXIT_USAGE, f"{error.message}; nothing to cancel") from None
        raise
    waited = timeout if timeout > 0 and job["status"] != "cancelled" else None
    if waited is not None:
        job = wait_until_stopped(client, job, waited)
    code, line = cancel_outcome(job, waited)
    if as_json:
        render.json_lines([job])
    if code != EXIT_OK:
        raise CliError(code, line)
    if not as_json:
        print(line)
    return code


@app.command("jobs")
def list_jobs(
    ctx: typer.Context,
    org_id: Annotated[str | None, typer.Option(
        "--org-id", callback=checked_org_id)] = None,
    status: Annotated[str | None, typer.Option(
        "--status", help="queued, running, completed, failed or cancelled.")] = None,
    app_version_id: Annotated[str | None, typer.Option(
        "--app-version-id", callback=lambda v: _checked(values.check_app_version_id, v))
    ] = None,
    target: Annotated[str | None, typer.Option("--target", callback=_target)] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=limits.MAX_LIST_LIMIT)] = 50,
    as_json: JsonOption = False,
) -> int:
    """List jobs, newest first."""
    if status is not None and status not in PUBLIC_STATUSES:
        raise typer.BadParameter(f"must be {', '.join(PUBLIC_STATUSES[:-1])} or "
                                 f"{PUBLIC_STATUSES[-1]}", param_hint="'--status'")
    params = {k: v for k, v in {"org_id": org_id, "status": status,
                                "app_version_id": app_version_id, "target": target,
                                "limit": limit}.items() if v is not None}
    jobs = globals_of(ctx).client().get("/jobs", params)["jobs"]
    render.listing(jobs, as_json, "no jobs match", render.jobs_table)
    return 0


def _get_job(ctx: typer.Context, job_id: str) -> dict[str, Any]:
    try:
        job: dict[str, Any] = globals_of(ctx).client().get(f"/jobs/{job_id}")
    except CliError as error:
        if error.status == 404:
            raise CliError(EXIT_USAGE, f"no job with id {job_id!r}") from None
        raise
    return job
