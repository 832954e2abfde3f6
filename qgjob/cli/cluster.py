"""Commands that look at the system: groups, agents, queue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType

from qgjob.cli import render
from qgjob.cli.app import app, given, globals_of
from qgjob.cli.errors import EXIT_USAGE, CliError
from qgjob.cli.jobs import JsonOption
from qgjob.cli.numbers import number


@app.command()
def groups(
    ctx: typer.Context,
    include_finished: Annotated[bool, typer.Option("--all", help="Include finished groups.")]
    = False,
    as_json: JsonOption = False,
) -> int:
    """The current groups (jobs that share an app build and target) and their jobs."""
    params = {"all": "true"} if include_finished else None
    found = globals_of(ctx).client().get("/groups", params)["groups"]
    render.listing(found, as_json, "no groups" if include_finished else
                   "no groups with queued or running jobs (--all shows finished ones)",
                   _groups_table)
    return 0


def _groups_table(found: Sequence[dict[str, Any]]) -> RenderableType:
    rows = [[g["app_version_id"], g["target"], g["org_id"] or "(all orgs)", _counts(g["counts"]),
             " ".join(g["job_ids"][:6]) + (" …" if len(g["job_ids"]) > 6 else "")]
            for g in found]
    return render.table(["APP", "TARGET", "ORG", "JOBS", "JOB IDS"], rows)


@app.command()
def queue(
    ctx: typer.Context,
    as_json: JsonOption = False,
    watch: Annotated[bool, typer.Option(
        "--watch", help="Keep the view up to date until Ctrl-C (with --json: a line per "
                        "refresh).")] = False,
    interval: Annotated[float, typer.Option(
        "--interval", parser=number(0.5, 60),
        help="Seconds between refreshes with --watch (0.5-60).")] = 1.5,
) -> int:
    """Queued and running jobs by priority, target and org."""
    if given(ctx, "interval") and not watch:
        raise CliError(EXIT_USAGE, "--interval needs --watch: it is the time between the "
                                   "refreshes of a watched view")
    client = globals_of(ctx).client()
    if watch:
        from qgjob.cli.watch import watch_queue

        return watch_queue(client, queue_view, as_json, interval)
    summary = client.get("/queue")
    if as_json:
        render.json_lines([summary])
    else:
        render.stdout.print(queue_view(summary))
    return 0


def queue_view(summary: dict[str, Any]) -> Group:
    """What `qgjob queue` shows: totals, counts per priority, target and org, the builds
    devices work on, and the waiting builds in the order devices take them."""
    served = [lane for lane in summary["lanes"] if lane["devices_working"]]
    waiting = [lane for lane in summary["lanes"] if not lane["devices_working"]]
    parts: list[RenderableType] = [_totals(summary)]
    if summary["rows"]:
        rows = [[r["priority"], r["target"], r["org_id"], r["queued"], r["running"]]
                for r in summary["rows"]]
        parts.append(render.table(["PRI", "TARGET", "ORG", "QUEUED", "RUNNING"], rows))
    if served:
        parts += ["", render.table(
            ["TARGET", "APP", "ORG", "QUEUED", "PRI", "DEVICES", "PROGRESS"],
            [[lane["target"], lane["app_version_id"], lane["org_id"], lane["queued"],
              lane["top_priority"], lane["devices_working"], lane["reason"]] for lane in served],
            title="Builds devices work on, with jobs still queued")]
    if waiting:
        lanes = [[lane["target"], lane["position"] or "-", lane["app_version_id"], lane["org_id"],
                  lane["queued"], lane["top_priority"], render.short_time(
                      lane["estimated_start_at"]) if lane["estimated_start_at"] else "-",
                  lane["reason"]] for lane in waiting]
        parts += ["", render.table(
            ["TARGET", "#", "APP", "ORG", "QUEUED", "PRI", "START ~", "WHY IT WAITS"], lanes,
            title="Waiting builds, in the order devices take them")]
    return Group(*parts)


def _totals(summary: dict[str, Any]) -> str:
    """Jobs queued and running. The queued include jobs a device has taken but not started
    (it may be installing their build) and retries backing off; said apart from those in
    line, so "0 running" beside a build that devices work on reads as what it is."""
    in_line = sum(lane["queued"] for lane in summary["lanes"])
    taken = summary["queued"] - in_line
    detail = f" ({in_line} in line, {taken} taken by a device or waiting to retry)" \
        if taken > 0 else ""
    return f"{summary['queued']} queued{detail}, {summary['running']} running"


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{n} {status}" for status, n in counts.items() if n)
