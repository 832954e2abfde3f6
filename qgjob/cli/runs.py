"""`qgjob runs`: the runs (`qgjob run`'s suites) newest first, one run with its tests
failures first, and cancelling one. Re-running a run's failed tests is `qgjob run
--rerun-failed RUN`, which waits like `qgjob run`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType

from qgjob.cli import render
from qgjob.cli.app import app, globals_of
from qgjob.cli.jobs import JsonOption, _checked, checked_org_id
from qgjob.domain import values
from qgjob.domain.runs import RUN_STATUSES
from qgjob.protocol import limits

runs_app = typer.Typer(
    name="runs", invoke_without_command=True,
    help="Runs (the suites `qgjob run` submits), newest first; show or cancel one.")
app.add_typer(runs_app)

RunArgument = Annotated[str, typer.Argument(
    metavar="RUN", help="The run's id.",
    callback=lambda v: _checked(lambda raw: values.check_name(raw, "RUN"), v))]


@runs_app.callback()
def runs(
    ctx: typer.Context,
    org_id: Annotated[str | None, typer.Option(
        "--org-id", callback=checked_org_id)] = None,
    status: Annotated[str | None, typer.Option(
        "--status", help="queued, running, passed, failed or cancelled.")] = None,
    app_version_id: Annotated[str | None, typer.Option(
        "--app-version-id", callback=lambda v: _checked(values.check_app_version_id, v))
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=limits.MAX_LIST_LIMIT)] = 50,
    as_json: JsonOption = False,
) -> None:
    """Runs, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    if status is not None and status not in RUN_STATUSES:
        raise typer.BadParameter(f"must be {', '.join(RUN_STATUSES[:-1])} or cancelled",
                                 param_hint="'--status'")
    params = {k: v for k, v in {"org_id": org_id, "status": status,
                                "app_version_id": app_version_id}.items() if v is not None}
    found = _pages(globals_of(ctx).client(), params, limit)
    render.listing(found, as_json, "no runs match", _runs_table)


def _pages(client: Any, params: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """Up to `limit` runs, following the cursor (a status filter may give short pages)."""
    found: list[dict[str, Any]] = []
    cursor = None
    while len(found) < limit:
        page = client.get("/runs", {**params, "limit": limit - len(found),
                                    **({"cursor": cursor} if cursor else {})})
        found += page["runs"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    return found


def _runs_table(found: Sequence[dict[str, Any]]) -> RenderableType:
    return render.table(
        ["RUN", "STATUS", "NAME", "ORG", "APP", "TARGETS", "TESTS", "ATTEMPT", "TOOK",
         "CREATED"],
        ([r["run_id"], render.status_text(r["status"]), r["name"], r["org_id"],
          r["app_version_id"], ",".join(r["targets"]) or "-", _counts(r["counts"]),
          _attempt(r), f"{r['duration_seconds']:.0f}s", render.short_time(r["created_at"])]
         for r in found))


def _counts(counts: dict[str, int]) -> str:
    parts = [f"{counts[k]} {k}" for k in ("failed", "flaky", "cancelled", "running", "queued",
                                          "passed") if counts[k]]
    return ", ".join(parts) or "none"


def _attempt(run: dict[str, Any]) -> str:
    return f"{run['attempt']} (re-runs {run['rerun_of']})" if run["rerun_of"] else "1"


@runs_app.command("show")
def show(ctx: typer.Context, run: RunArgument, as_json: JsonOption = False) -> int:
    """One run and its tests, failures first."""
    found = globals_of(ctx).client().get(f"/runs/{run}")
    if as_json:
        render.json_lines([found])
    else:
        render.stdout.print(run_view(found))
    return 0


def run_view(run: dict[str, Any]) -> Group:
    source = run["source"]
    fields = [("run", run["run_id"]), ("name", run["name"]),
              ("status", render.status_text(run["status"])), ("org", run["org_id"]),
              ("app", run["app_version_id"]), ("targets", ", ".join(run["targets"]) or "-"),
              ("tests", _counts(run["counts"])), ("attempt", _attempt(run)),
              ("took", f"{run['duration_seconds']:.1f}s"), ("created", run["created_at"]),
              ("finished", run["finished_at"])]
    fields += [(name, source[name]) for name in ("commit_sha", "branch", "pull_request", "url")
               if source.get(name)]
    tests = render.table(
        ["RESULT", "TEST", "TITLE", "TARGET", "TOOK", "JOB", "ERROR"],
        ([render.status_text(t["result"]), t["test_path"], t["title"], t["target"],
          "-" if t["duration_seconds"] is None else f"{t['duration_seconds']:.1f}s",
          t["job_id"], render.short_error(t["error"], 80)]
         for t in run["tests"]))
    return Group(render.table(["", ""], fields), "", tests)


@runs_app.command("cancel")
def cancel(ctx: typer.Context, run: RunArgument, as_json: JsonOption = False) -> int:
    """Cancel every job of the run that has not finished (running ones stop within a
    heartbeat)."""
    found = globals_of(ctx).client().post(f"/runs/{run}/cancel")
    if as_json:
        render.json_lines([found])
    else:
        render.stderr.print(f"run {run}: {found['status']} ({_counts(found['counts'])})")
    return 0

