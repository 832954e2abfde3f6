"""`qgjob plan`: how many devices a workload needs, by replaying its trace (`qgjob
export-trace`) through the simulator on today's fleet and on alternatives."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qgjob.cli import render
from qgjob.cli.app import app
from qgjob.cli.errors import EXIT_USAGE, CliError
from qgjob.cli.fleet import parse_span
from qgjob.cli.paths import check_output_file, input_file
from qgjob.cli.simulate import read_trace
from qgjob.domain.values import TARGETS

if TYPE_CHECKING:
    from qgjob.sim.plan import Fleet, Plan


@app.command()
def plan(
    trace_file: Annotated[Path, typer.Argument(
        metavar="TRACE.json", parser=input_file,
        help="A trace from `qgjob export-trace`, `qgjob trace`, or - for stdin.")],
    devices: Annotated[list[str] | None, typer.Option(
        "--devices", help="An alternative fleet: TARGET:N, TARGET:+N, TARGET:-N or "
                          "TARGET:A..B (each count), comma separated; repeat for more.")]
    = None,
    load: Annotated[str, typer.Option(
        "--load", help="Arrivals this many times as fast as in the trace, e.g. 1.5x.")] = "1x",
    p95_wait: Annotated[str | None, typer.Option(
        "--p95-wait", help="Goal for every target's p95 queue wait (90s, 5m, 1h): recommend "
                           "the smallest fleet tried that meets it.", show_default=False)]
    = None,
    chart: Annotated[Path | None, typer.Option(
        "--chart", help="Draw p95 wait against devices per target here (.png, .svg or .pdf; "
                        "needs matplotlib: pip install 'qgjob[bench]').", show_default=False)]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="The plan as one JSON object.")]
    = False,
) -> int:
    """Replay a trace with today's fleet (the trace's devices) and alternatives; per target,
    the p50/p95 queue wait and build turnaround of each, and the smallest fleet meeting a
    goal."""
    from qgjob.scheduler.registry import policy_named
    from qgjob.sim import plan as planning
    from qgjob.sim.trace import TraceError

    goal = parse_span(p95_wait, "--p95-wait") if p95_wait is not None else None
    chart_format = _chart_format(chart) if chart is not None else None
    try:
        trace = read_trace(trace_file)
        today = planning.fleet_of(trace)
        alternatives = [f for spec in devices or [] for f in planning.parse_fleets(spec, today)]
        factor = planning.parse_load(load)
        if chart is not None:
            _check_matplotlib()
        result = planning.plan(trace, alternatives, policy_named("qgjob"), factor, goal)
    except (TraceError, ValueError) as bad:
        raise CliError(EXIT_USAGE, str(bad)) from None
    if chart is not None:
        _draw(result, goal, chart, chart_format or "png")
    if as_json:
        render.json_lines([_as_json(result, factor, goal)])
        return 0
    render.stdout.print(_table(result, today, factor))
    render.stdout.print(_verdict(result, today, goal))
    return 0


def _as_json(result: Plan, load: float, goal: float | None) -> dict[str, object]:
    recommended = result.recommended
    return {"load": load, "p95_wait_goal": goal,
            "fleets": [o.as_dict() for o in result.outcomes],
            "recommended": recommended.as_dict() if recommended else None,
            "recommended_meets_goal": (recommended.meets(goal)
                                       if recommended and goal is not None else None)}


def _table(result: Plan, today: Fleet, load: float) -> object:
    shown = list(result.outcomes)
    if result.recommended is not None and result.recommended not in shown:
        shown.append(result.recommended)
    rows = []
    for outcome in shown:
        label = _label(outcome.fleet, today)
        if outcome is result.recommended:
            label += " (recommended)"
        for target in outcome.targets.values():
            rows.append((label, target.target, target.devices, target.jobs,
                         _span(target.p50_wait), _span(target.p95_wait),
                         _span(target.p50_turnaround), _span(target.p95_turnaround)))
            label = ""
    title = f"load {load:g}x" if load != 1.0 else None
    return render.table(["fleet", "target", "devices", "jobs", "wait p50", "wait p95",
                         "turnaround p50", "turnaround p95"], rows, title=title)


def _verdict(result: Plan, today: Fleet, goal: float | None) -> str:
    if goal is None:
        return "No goal given: add --p95-wait 5m to get a recommended fleet."
    if result.recommended is None:
        short = [t for t in result.outcomes[0].targets
                 if all(o.targets[t].p95_wait > goal for o in result.outcomes)]
        return (f"No fleet tried keeps the p95 wait of {', '.join(short)} within "
                f"{_span(goal)}: try more devices (--devices TARGET:A..B).")
    fleet = _label(result.recommended.fleet, today)
    if not result.recommended.meets(goal):
        return (f"{fleet} misses the goal as a whole fleet (each target at its fewest devices "
                "that met it, grown where it missed, up to the most tried): try larger ones.")
    return f"Smallest fleet found with every p95 wait within {_span(goal)}: {fleet}."


def _label(fleet: Fleet, today: Fleet) -> str:
    if fleet == today:
        return "today"
    return ", ".join(f"{target} {count} ({count - today.get(target, 0):+d})"
                     for target, count in sorted(fleet.items(),
                                                key=lambda item: TARGETS.index(item[0]))
                     if count != today.get(target, 0)) or "today"


def _span(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


CHART_FORMATS = ("png", "svg", "pdf")
"""What `--chart` writes, by the file's suffix (none: PNG). matplotlib knows more, but which
depends on its version and backend; these three it always writes."""


def _chart_format(path: Path) -> str:
    """The chart's format, checked before any work (and without matplotlib): a suffix it
    cannot write, a directory, or no folder to write in is exit 2 now, not after the plan."""
    suffix = path.suffix[1:].lower()
    if suffix and suffix not in CHART_FORMATS:
        raise CliError(EXIT_USAGE, f"--chart {str(path)!r}: cannot draw a .{suffix} file; "
                                   "name a .png, .svg or .pdf file")
    check_output_file(path)
    return suffix or "png"


def _check_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ValueError("--chart needs matplotlib: pip install 'qgjob[bench]'") from None


def _draw(result: Plan, goal: float | None, path: Path, chart_format: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    for target in result.outcomes[0].targets:
        points = sorted({(o.fleet[target], o.targets[target].p95_wait)
                         for o in result.outcomes})
        axes.plot([p[0] for p in points], [p[1] / 60 for p in points], "o-", label=target)
    if goal is not None:
        axes.axhline(goal / 60, color="grey", linestyle="--", label="goal")
    axes.set_xlabel("devices of the target")
    axes.set_ylabel("p95 queue wait (minutes)")
    axes.legend()
    try:
        # The format said: matplotlib would otherwise add `.png` to a name without a suffix
        # and write a file other than the one named.
        figure.savefig(path, format=chart_format, dpi=120, bbox_inches="tight")
    except OSError as exc:
        raise CliError(EXIT_USAGE, f"cannot write {path}: {exc.strerror}") from None
    finally:
        plt.close(figure)

