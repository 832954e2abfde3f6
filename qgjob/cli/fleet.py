"""Fleet operations: `qgjob agents` (list, drain, undrain, remove), `qgjob devices` (list with
rotation and utilisation, enable) and `qgjob export-trace`."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType

from qgjob.cli import render
from qgjob.cli.app import app, globals_of
from qgjob.cli.errors import EXIT_USAGE, CliError
from qgjob.cli.jobs import JsonOption
from qgjob.cli.paths import check_output_file, output_file
from qgjob.protocol import limits

agents_app = typer.Typer(
    name="agents", invoke_without_command=True,
    help="Agents, their devices, what each device holds and runs; drain, undrain or remove "
         "an agent.")
app.add_typer(agents_app)
devices_app = typer.Typer(
    name="devices", invoke_without_command=True,
    help="Devices with their state, rotation, held build, running test and utilisation; "
         "put one back in rotation.")
app.add_typer(devices_app)

NameArgument = Annotated[str, typer.Argument(help="The agent's name (its --name).")]


@agents_app.callback()
def agents(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Agents, their devices, what each device holds and runs."""
    if ctx.invoked_subcommand is not None:
        return
    found = globals_of(ctx).client().get("/agents")["agents"]
    render.listing(found, as_json,
                   "no agents registered; start one with `qgjob agent --devices ...`",
                   _agents_table)


def _agents_table(found: Sequence[dict[str, Any]]) -> RenderableType:
    rows = [
        [a["name"], a["state"] + (", draining" if a.get("draining") else ""), d["name"],
         d["target"], d["state"] + (" (out of rotation)" if d.get("out_of_rotation") else ""),
         d["holds_app_version_id"], d["current_job_id"], render.short_time(d["last_seen_at"])]
        for a in found for d in a["devices"]
    ]
    return render.table(["AGENT", "AGENT STATE", "DEVICE", "TARGET", "STATE", "HOLDS APP",
                         "RUNNING JOB", "SEEN"], rows)


@agents_app.command("drain")
def drain(ctx: typer.Context, name: NameArgument) -> int:
    """Finish the jobs the agent runs and take no new work (until `undrain`, across its
    restarts); the unstarted jobs of its batches go back to the queue now."""
    result = globals_of(ctx).client().post(f"/agents/{_checked_name(name)}/drain")
    released = len(result["released_job_ids"])
    render.stderr.print(f"agent {name} is draining: it finishes what it runs and takes no new "
                        f"work" + (f"; {released} unstarted job(s) went back to the queue"
                                   if released else ""))
    return 0


@agents_app.command("undrain")
def undrain(ctx: typer.Context, name: NameArgument) -> int:
    """Let a drained agent take work again."""
    globals_of(ctx).client().post(f"/agents/{_checked_name(name)}/undrain")
    render.stderr.print(f"agent {name} takes work again")
    return 0


@agents_app.command("remove")
def remove(ctx: typer.Context, name: NameArgument) -> int:
    """Forget an offline agent and its devices (their history stays); an online one is
    refused."""
    globals_of(ctx).client().delete(f"/agents/{_checked_name(name)}")
    render.stderr.print(f"agent {name} was removed")
    return 0


def _checked_name(name: str) -> str:
    from qgjob.domain import values

    try:
        return values.check_name(name, "NAME")
    except values.InvalidValue as bad:
        raise typer.BadParameter(str(bad), param_hint="'NAME'") from None


@devices_app.callback()
def devices(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Devices: state, rotation, held build, running test, utilisation."""
    if ctx.invoked_subcommand is not None:
        return
    listing = globals_of(ctx).client().get("/devices")
    if as_json:
        render.json_lines(listing["devices"])
    elif not listing["devices"]:
        render.stderr.print("no devices; start an agent with `qgjob agent --devices ...`")
    else:
        render.stdout.print(devices_view(listing))


def devices_view(listing: dict[str, Any]) -> Group:
    rows = [[d["device_id"], d["target"], _state(d), d["holds_app_version_id"],
             d["current_job_id"], *_usage(d["usage"])] for d in listing["devices"]]
    parts: list[RenderableType] = [render.table(
        ["DEVICE", "TARGET", "STATE", "HOLDS APP", "RUNNING JOB", "BUSY", "INSTALLING",
         "IDLE", "IDLE WHILE WORK WAITED"], rows)]
    targets = [[t["target"], f"{t['in_rotation']}/{t['devices']}", *_usage(t["usage"])]
               for t in listing["targets"]]
    parts += ["", render.table(["TARGET", "IN ROTATION", "BUSY", "INSTALLING", "IDLE",
                                "IDLE WHILE WORK WAITED"], targets,
                               title="Per target (time counted while agents were online)")]
    out = [d for d in listing["devices"] if d["out_of_rotation"]]
    if out:
        parts += ["", render.table(["DEVICE", "SINCE", "WHY"], [
            [d["device_id"], render.short_time(d["out_since"]), d["out_of_rotation"]]
            for d in out], title="Out of rotation (`qgjob devices enable DEVICE` puts one back)")]
    return Group(*parts)


def _state(device: dict[str, Any]) -> str:
    if device["agent_state"] != "online":
        return "offline"
    if device["out_of_rotation"]:
        return f"{device['state']}, out of rotation"
    return str(device["state"]) + (", draining" if device["draining"] else "")


def _usage(usage: dict[str, Any]) -> list[str]:
    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    return [share(usage["busy_share"]), share(usage["installing_share"]),
            share(usage["idle_share"]), f"{usage['idle_while_work_waited_seconds']:.0f}s"]


@devices_app.command("enable")
def enable(ctx: typer.Context, device: Annotated[str, typer.Argument(
        help="The device's id (AGENT/DEVICE), or its name if no other agent has one so "
             "called.")]) -> int:
    """Put a device back in rotation (its failure count starts again)."""
    if (len(device) > limits.DEVICE_CHOICE_MAX
            or not re.fullmatch(limits.DEVICE_CHOICE_PATTERN, device)):
        raise typer.BadParameter("letters, digits and . _ : @ - / only", param_hint="'DEVICE'")
    enabled = globals_of(ctx).client().post("/devices/enable", {"device": device})
    # The same answer whether it was out or not: it is in rotation now, counting afresh.
    render.stderr.print(f"device {enabled['device_id']} is in rotation; its failure count "
                        "starts again")
    return 0


_SPAN = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhdw]?)")
_UNIT = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


def parse_span(text: str, option: str = "--since") -> float:
    """`90s`, `30m`, `12h`, `7d`, `2w` or plain seconds."""
    match = _SPAN.fullmatch(text.strip())
    if match is None or float(match.group(1)) <= 0:
        raise typer.BadParameter("a positive span such as 30m, 12h, 7d or 2w",
                                 param_hint=f"'{option}'")
    return float(match.group(1)) * _UNIT[match.group(2)]


@app.command("export-trace")
def export_trace(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(
        "--since", help="How far back: jobs submitted within 30m, 12h, 7d, 2w …")] = "7d",
    out: Annotated[Path | None, typer.Option(
        "--out", parser=output_file,
        help="Write the trace here (default, or -: standard output).")] = None,
) -> int:
    """The recorded history as a trace for `qgjob simulate` and `qgjob plan`: arrivals, orgs,
    priorities, targets, test times, outcomes, install times and the fleet."""
    seconds = parse_span(since)
    if seconds > 366 * 86400:
        raise typer.BadParameter("at most a year", param_hint="'--since'")
    if out is not None:
        check_output_file(out)  # before asking the server for a week of history
    trace = globals_of(ctx).client().get("/trace", {"since_seconds": seconds})
    text = json.dumps(trace, indent=1) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CliError(EXIT_USAGE, f"cannot write {out}: {exc.strerror or exc}") from None
    recorded = trace["recorded"]
    render.stderr.print(f"{len(trace['jobs'])} job(s) on {len(trace['devices'])} device(s) "
                        f"since {recorded['since']}"
                        + (f"; {recorded['jobs_left_out']} left out (no verdict)"
                           if recorded["jobs_left_out"] else "")
                        + (f" -> {out}" if out is not None else ""))
    return 0
