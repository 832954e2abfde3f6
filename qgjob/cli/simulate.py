"""`qgjob simulate`: the server's scheduling policy over a trace, in virtual time; and
`qgjob trace`, which writes traces to simulate (examples/traces/ holds one of each kind)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qgjob.cli import render
from qgjob.cli.app import app
from qgjob.cli.errors import EXIT_USAGE, CliError
from qgjob.cli.paths import STDIO, check_output_file, input_file, output_file

if TYPE_CHECKING:
    from qgjob.sim.trace import Trace


@app.command()
def simulate(
    trace_file: Annotated[Path, typer.Argument(
        metavar="TRACE.json", parser=input_file,
        help="A workload trace such as examples/traces/burst.json, or - to read one from "
             "stdin (`qgjob trace burst | qgjob simulate -`).")],
    schedule_out: Annotated[Path | None, typer.Option(
        "--schedule-out", parser=schedule_file,
        help="Write every install and test attempt here (JSON); - writes it to stdout and "
             "the summary to stderr.")] = None,
    policy: Annotated[str, typer.Option(
        "--policy", help="qgjob (the server's), or a baseline: fifo, fifo-affinity or "
                         "whole-group (a failed attempt queued again at once).")] = "qgjob",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the retry jitter.")] = 0,
    preemption: Annotated[bool, typer.Option(
        "--preemption", help="Let priority-5 work stop running priority <= 2 jobs.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The summary as one JSON object.")]
    = False,
) -> int:
    """Run a scheduling policy over a trace in virtual time and summarise the schedule.
    Traces: examples/traces/ in the repository, or `qgjob trace`."""
    from qgjob.scheduler.baselines import BASELINE_RETRY
    from qgjob.scheduler.registry import policy_named
    from qgjob.sim.engine import Simulator
    from qgjob.sim.metrics import summarize
    from qgjob.sim.trace import TraceError

    to_stdout = schedule_out is not None and str(schedule_out) == STDIO
    if schedule_out is not None and not to_stdout:
        check_output_file(schedule_out)  # not after a long simulation
    try:
        trace = read_trace(trace_file)
        chosen = policy_named(policy, **({"preemption": True} if preemption else {}))
    except (TraceError, ValueError) as bad:
        raise CliError(EXIT_USAGE, str(bad)) from None
    # A baseline retries as the reference baselines do; qgjob as the server does.
    retry = None if chosen.name == "qgjob" else BASELINE_RETRY
    progress = ProgressLine(len(trace.jobs)) if sys.stderr.isatty() else None
    try:
        result = Simulator(trace, chosen, retry=retry, seed=seed).run(progress=progress)
    finally:
        if progress is not None:
            progress.clear()
    summary = summarize(trace, chosen.name, result.events)
    if schedule_out is not None:
        schedule = {"trace": trace.name, "policy": chosen.name, "events": result.events}
        text = json.dumps(schedule, indent=1) + "\n"
        if to_stdout:
            sys.stdout.write(text)
        else:
            try:
                schedule_out.write_text(text)
            except OSError as exc:
                raise CliError(EXIT_USAGE, f"cannot write {schedule_out}: {exc.strerror}"
                               ) from None
    # With the schedule on stdout, the summary goes to stderr (`--schedule-out - | jq`).
    console = render.stderr if to_stdout else render.stdout
    if as_json:
        stream = sys.stderr if to_stdout else sys.stdout
        stream.write(json.dumps(summary.as_dict(), separators=(",", ":")) + "\n")
        return 0
    if not trace.jobs:
        console.print(f"{trace.name}: no jobs, nothing to schedule "
                            f"({len(trace.devices)} devices)")
        return 0
    rows = [
        ("trace", f"{trace.name} ({len(trace.jobs)} jobs, {len(trace.devices)} devices)"),
        ("policy", chosen.name),
        ("installs", f"{summary.installs} ({summary.install_ratio:.2f}x the minimum "
                     f"{summary.min_installs})"),
        ("makespan", f"{summary.makespan:.0f}s ({summary.makespan_ratio:.3f}x the lower bound "
                     f"{summary.lower_bound:.0f}s)"),
        ("build turnaround", f"mean {summary.mean_turnaround:.0f}s, "
                             f"p95 {summary.p95_turnaround:.0f}s"),
        ("p95 by priority", ", ".join(f"P{p} {v:.0f}s"
                                      for p, v in summary.p95_turnaround_by_priority.items())),
        ("mean flow by org", ", ".join(f"{o} {v:.0f}s"
                                       for o, v in summary.mean_flow_by_org.items())),
        ("jobs", f"{summary.passed} passed, {summary.failed} failed"),
    ]
    console.print(render.table(["", ""], rows))
    return 0


def schedule_file(raw: str | Path) -> Path:
    """`--schedule-out`: a file, or `-` for stdout (kept as `-`: None means not asked)."""
    return output_file(raw) or Path(STDIO)


def read_trace(path: Path) -> Trace:
    """The trace in file `path`, or on stdin for `-`; `TraceError` if it is not one."""
    from qgjob.sim.trace import TraceError, json_of, load_trace, parse_trace

    from_stdin = str(path) == "-"
    source = "stdin" if from_stdin else str(path)
    try:
        if not from_stdin:
            return load_trace(path)
        return parse_trace(json_of(sys.stdin.read(), source), default_name="stdin")
    except RecursionError:
        # Python's json parser recurses per nesting level (`[` 100,000 times), and so does
        # str() of what it read: a file, not a bug, so malformed like any other.
        raise TraceError(f"{source}: not a trace: JSON nested too deep") from None


@app.command("trace")
def make_trace(
    kind: Annotated[str, typer.Argument(
        metavar="KIND", help="burst, steady, priority or flood (drawn from the seed), or "
                             "brief (the brief's five-job example).")],
    seed: Annotated[int, typer.Option(
        "--seed", help="Which trace of the kind: another seed draws another.")] = 1,
    out: Annotated[Path | None, typer.Option(
        "--out", parser=output_file, show_default=False,
        help="Write it to this file instead of stdout (- for stdout).")] = None,
) -> int:
    """Write a workload trace for `qgjob simulate` (examples/traces/KIND.json were made with
    `qgjob trace KIND --out examples/traces/KIND.json`)."""
    from qgjob.sim.generate import generate, trace_json

    try:
        text = trace_json(generate(kind, seed))
    except ValueError as bad:
        raise CliError(EXIT_USAGE, str(bad)) from None
    if out is None:
        sys.stdout.write(text)
        return 0
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(EXIT_USAGE, f"cannot write {out}: {exc.strerror}") from None
    return 0


PROGRESS_AFTER_SECONDS = 2.0
"""A simulation says how far it is on a terminal once it has run this long, and as often."""


class ProgressLine:
    """One line on stderr, rewritten in place: jobs finished and the virtual time reached;
    cleared when the simulation ends, so the summary stands alone."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.started = self.said = time.monotonic()
        self.shown = False

    def __call__(self, finished: int, now: float) -> None:
        at = time.monotonic()
        if at - self.said < PROGRESS_AFTER_SECONDS:
            return
        self.said, self.shown = at, True
        sys.stderr.write(f"\r\033[Kqgjob simulate: {finished:,} of {self.jobs:,} jobs "
                         f"finished, {now / 3600:.1f} h of virtual time, "
                         f"{at - self.started:.0f} s so far")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
