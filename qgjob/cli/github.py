"""Reporting a suite inside GitHub Actions: a Markdown table appended to the job summary
(`$GITHUB_STEP_SUMMARY`), `::error` / `::warning` annotations on the test files, and step
outputs (`$GITHUB_OUTPUT`) that the composite action passes on.

The runner reads workflow commands from stdout and stderr alike (actions/runner,
ScriptHandler.cs), so with `--json` the annotations go to stderr and stdout stays JSON."""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

from qgjob.cli.outcomes import (
    CANCELLED,
    FAILED,
    PASSED,
    UNFINISHED,
    Job,
    Tally,
    is_forgiven,
    result_of,
    seconds_of,
    tries,
)

MAX_ROWS = 500
MAX_ANNOTATIONS = 50
MAX_LOGS_SHOWN = 10
_ICONS = {PASSED: "✅", FAILED: "❌", CANCELLED: "⛔", UNFINISHED: "⏳"}
_FORGIVEN_ICON = "⚠️"
_QUARANTINE_NOTE = ("Quarantined tests (`qgjob quarantine list`) run and are reported, but "
                    "their failures do not fail the step.")


def in_actions(environ: Mapping[str, str]) -> bool:
    return environ.get("GITHUB_ACTIONS") == "true"


def summary_markdown(jobs: Sequence[Job], excerpts: Mapping[str, str], suite: str) -> str:
    """A heading with the counts, a table of the jobs (problems first, then quarantined
    failures, then flaky tests) and, for failed tests, the end of their logs."""
    tally = Tally.of(jobs)
    ordered = sorted(jobs, key=lambda j: (result_of(j) == PASSED, is_forgiven(j),
                                          not j.get("flaky")))
    lines = [_heading(tally, suite), ""]
    lines += [_QUARANTINE_NOTE, ""] if tally.quarantined else []
    lines += ["| result | test | attempts | time | job | error |", "|---|---|---|---|---|---|"]
    lines += [_row(job) for job in ordered[:MAX_ROWS]]
    if len(ordered) > MAX_ROWS:
        lines.append(f"\n… and {len(ordered) - MAX_ROWS} more (all of them are in the JUnit "
                     "report).")
    shown = [j for j in ordered if excerpts.get(j["job_id"])][:MAX_LOGS_SHOWN]
    for job in shown:
        lines += ["", f"<details><summary>{_cell(job['test_path'])}: the end of its log"
                      "</summary>", "", _fenced(excerpts[job["job_id"]]), "", "</details>"]
    return "\n".join(lines) + "\n\n"


def _heading(tally: Tally, suite: str) -> str:
    if tally.not_passed == 0:
        text = f"✅ qgjob: all {tally.total} test(s) passed"
    else:
        failed = "failed" + (f" ({tally.quarantined} quarantined)" if tally.quarantined else "")
        parts = [f"{n} {what}" for n, what in ((tally.failed, failed),
                 (tally.cancelled, "cancelled"), (tally.unfinished, "unfinished")) if n]
        icon = _ICONS[FAILED] if tally.failing_the_run else _FORGIVEN_ICON
        text = f"{icon} qgjob: {', '.join(parts)} of {tally.total} test(s)"
    flaky = f", {tally.flaky} flaky" if tally.flaky else ""
    return f"### {text}{flaky} ({_cell(suite)})"


def _row(job: Job) -> str:
    result = result_of(job)
    if is_forgiven(job):
        label = f"{_FORGIVEN_ICON} {result} (quarantined)"
    else:
        label = f"{_ICONS[result]} {result}" + (" (flaky)" if job.get("flaky") else "")
    cells = [label, f"`{job['test_path']}`", tries(job), f"{seconds_of(job):.1f} s",
             f"`{job['job_id']}`", _cell((job.get("error") or "")[:300])]
    return "| " + " | ".join(cells) + " |"


def _cell(text: str) -> str:
    """Plain text inside a Markdown table cell: no markup, no line breaks, no column breaks."""
    return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|")


def _fenced(text: str) -> str:
    """A code block whose fence is longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def annotation_lines(jobs: Sequence[Job]) -> list[str]:
    """An `::error` on each test that did not pass, a `::warning` on each flaky one and on
    each quarantined one that failed."""
    lines = []
    for job in jobs:
        result, path = result_of(job), job["test_path"]
        attempts = f"attempt {tries(job, ' of ')}"
        if is_forgiven(job):
            lines.append(_command("warning", path, f"{path} failed (quarantined)",
                                  f"{job.get('error') or 'failed'}\njob {job['job_id']}, "
                                  f"{attempts}; quarantined: it does not fail the run"))
        elif result != PASSED:
            what = "timed out" if result == UNFINISHED else result
            message = f"{job.get('error') or what}\njob {job['job_id']}, {attempts}"
            lines.append(_command("error", path, f"{path} {what}", message))
        elif job.get("flaky"):
            lines.append(_command("warning", path, f"{path} is flaky",
                                  f"passed on {attempts} (job {job['job_id']})"))
    if len(lines) > MAX_ANNOTATIONS:
        rest = len(lines) - MAX_ANNOTATIONS
        lines = [*lines[:MAX_ANNOTATIONS], f"::error::{rest} more: see the job summary"]
    return lines


def _command(kind: str, path: str, title: str, message: str) -> str:
    return (f"::{kind} file={_property(path)},title={_property(title)}::"
            f"{escape_data(message)}")


def escape_data(text: str) -> str:
    """GitHub's encoding of a workflow command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """GitHub's encoding of a workflow command's property value."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def step_outputs(tally: Tally, junit: Path | None) -> str:
    """The outputs for `$GITHUB_OUTPUT`; the counts add up to `total` (`quarantined` is a
    part of `failed`)."""
    values = {"total": tally.total, "passed": tally.passed, "failed": tally.failed,
              "quarantined": tally.quarantined,
              "cancelled": tally.cancelled, "unfinished": tally.unfinished,
              "flaky": tally.flaky, "junit": "" if junit is None else junit.resolve()}
    return "".join(_output(name, str(value)) for name, value in values.items())


def _output(name: str, value: str) -> str:
    """`name=value`, or for a value with a line break (a path may hold one: the working
    directory's) GitHub's `name<<DELIMITER` form, with a random delimiter the value does not
    hold, as @actions/core writes it: no value can add or override an output."""
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"
    delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
    while delimiter in value:
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def append(path: str | None, text: str) -> None:
    """Append to a file GitHub named in the environment (never overwrite: other steps and
    other commands of this step write to it too); nothing when it is not set."""
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(text)
