"""Printing: JSON lines for scripts, Rich tables for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from qgjob.cli.outcomes import tries
from qgjob.cli.safe_text import plain

STATUS_STYLES = {
    "queued": "yellow",
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
}

# Piped output (CI logs, grep) must not wrap at 80 columns.
_PIPE_WIDTH = 240
# No markup and no emoji codes: what the CLI prints is mostly the server's text (errors, test
# titles, run names), where `[/x]` raised Rich's MarkupError and `[bold]` or `:smile:` were
# rendered. Styles are Text objects (`status_text`).
stdout = Console(highlight=False, markup=False, emoji=False,
                 width=None if sys.stdout.isatty() else _PIPE_WIDTH)
stderr = Console(stderr=True, highlight=False, markup=False, emoji=False,
                 width=None if sys.stderr.isatty() else _PIPE_WIDTH)


def json_lines(rows: Iterable[Any]) -> None:
    for row in rows:
        sys.stdout.write(json.dumps(row, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def listing(rows: Sequence[Any], as_json: bool, empty: str,
            draw: Callable[[Sequence[Any]], RenderableType]) -> None:
    """What a list command prints: JSON lines (none when there are no rows: a valid, empty
    stream) or a table. No rows always get `empty`, a sentence on stderr, so a person never
    faces silence and stdout stays what scripts parse."""
    if as_json:
        json_lines(rows)
    elif rows:
        stdout.print(draw(rows))
    if not rows:
        stderr.print(empty)


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, "white"))


def short_time(iso: str | None) -> str:
    """`2026-11-23T10:00:00.123Z` as `10:00:00`."""
    return iso[11:19] if iso else "-"


_NO_WRAP = {"JOB", "STATUS", "DEVICE", "RUNNING JOB", "JOB IDS", ""}


class _TrimmedTable(Table):
    """A table whose lines end at their last character: Rich pads every cell to its column's
    width, so each line carried the last column's blanks (noise in CI logs and diffs)."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        def segments() -> Iterable[Segment]:
            for part in super(_TrimmedTable, self).__rich_console__(console, options):
                if isinstance(part, Segment):
                    yield part
                else:
                    yield from console.render(part, options)

        for line in Segment.split_lines(segments()):
            while line and not line[-1].control and not line[-1].text.rstrip():
                line.pop()
            if line and not line[-1].control:
                last = line[-1]
                line[-1] = Segment(last.text.rstrip(), last.style)
            yield from line
            yield Segment.line()


def short_error(error: str | None, width: int = 60) -> str:
    """An error's first line in a table cell, `…` where anything was left out (the full text
    is in `qgjob status`): a multi-line error spilled onto a second line of the table, and
    a cut one read as the whole message."""
    lines = [line.strip() for line in plain(error or "").splitlines() if line.strip()]
    if not lines:
        return ""
    first = lines[0]
    if len(first) > width:
        return first[:width - 1].rstrip() + "…"
    return first + (" …" if len(lines) > 1 else "")


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> Table:
    # Columns without names (`status`, `simulate`, `runs show`: name and value pairs) would
    # print a header of spaces: a blank first line above the table.
    result = _TrimmedTable(title=title, title_justify="left", header_style="bold", box=None,
                   pad_edge=False, show_header=any(columns))
    for column in columns:
        result.add_column(column, overflow="fold", no_wrap=column in _NO_WRAP)
    for row in rows:
        result.add_row(*(cell if isinstance(cell, Text) else
                         Text("-" if cell is None else plain(str(cell))) for cell in row))
    return result


def jobs_table(jobs: Sequence[dict[str, Any]], title: str | None = None) -> Table:
    return table(
        ["JOB", "STATUS", "ORG", "APP", "TARGET", "PRI", "TEST", "TRIES", "DEVICE", "ERROR"],
        (
            [j["job_id"], status_text(j["status"]) + (" (flaky)" if j.get("flaky") else "")
             + (" (quarantined)" if j.get("quarantined") else ""),
             j["org_id"], j["app_version_id"], j["target"], j["priority"], j["test_path"],
             tries(j), j["device"], short_error(j["error"])]
            for j in jobs
        ),
        title,
    )
