"""What the CLI's tables look like: one line per row, and no line ending in blanks."""

from __future__ import annotations

import io
import sys

import pytest
from rich.console import Console

from qgjob.cli import render


def printed(renderable: object, width: int = 200) -> str:
    out = io.StringIO()
    Console(file=out, width=width, highlight=False, color_system=None).print(renderable)
    return out.getvalue()


def job(error: str | None) -> dict[str, object]:
    return {"job_id": "j1", "status": "failed", "org_id": "acme", "app_version_id": "v1",
            "target": "emulator", "priority": 3, "test_path": "tests/a.spec.js",
            "attempts": 1, "max_attempts": 1, "device": "lab/emulator-1", "error": error}


def test_a_multi_line_error_keeps_its_row_on_one_line_and_says_it_was_cut() -> None:
    text = printed(render.jobs_table([job("ls exited with 2\nls: cannot access 'x'"),
                                      job(None)]))
    lines = text.splitlines()
    assert len(lines) == 3, text  # the header and one line a job
    assert lines[1].endswith("ls exited with 2 …")


def test_a_long_error_is_marked_where_it_was_cut() -> None:
    cut = render.short_error("checkout page shows the total: Error: " + "x" * 80)
    assert len(cut) == 60 and cut.endswith("…")
    assert render.short_error("short") == "short"
    assert render.short_error("\n\n  indented first line\n") == "indented first line"
    assert render.short_error(None) == render.short_error("") == ""


def test_no_line_of_a_table_ends_in_blanks() -> None:
    table = render.table(["", ""], [("job", "j1"), ("error", "a much longer value " * 5)],
                         title="a title")
    text = printed(table)
    assert text.splitlines()[0] == "a title"
    assert all(line == line.rstrip() for line in text.splitlines()), repr(text)
    assert "job    j1\n" in text


HOSTILE = ("\x1b]0;PWNED\x07\x1b[2J\x1b]52;c;ZWNobw==\x07"
           "boom \x1b[31mred\x1b[0m \x9b2J [/nope] [bold]x :smile:")


def test_server_text_cannot_drive_the_terminal_or_rich_markup() -> None:
    """An agent's error or a test's title is printed as text: no escape sequence reaches the
    terminal (clear screen, window title, clipboard), and brackets are not Rich markup
    (`[/nope]` raised MarkupError, `[bold]` was applied)."""
    text = printed(render.jobs_table([job(HOSTILE)]), width=400)
    row = text.splitlines()[1]
    assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text
    assert row.endswith("boom red 2J [/nope] [bold]x :smile:")
    assert render.plain("a\tb\nc\x00d\x7fe") == "a\tb\ncde"


def test_a_log_on_a_terminal_keeps_only_its_colours(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from qgjob.cli.logs import _print_part

    class Logs:
        def get_text(self, path: str, params: object = None, *, retry_for: float = 0.0
                     ) -> tuple[str, dict[str, str]]:
            return f"{HOSTILE}\r\n\x1b[1;38;5;196mFAIL\x1b[0m 10%\r20%\n", {}

    _print_part(Logs(), "j1", None, 0, heading=False)  # type: ignore[arg-type]
    assert capsys.readouterr().out.startswith(HOSTILE)  # into a file or a pipe: as it is
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    _print_part(Logs(), "j1", None, 0, heading=False)  # type: ignore[arg-type]
    assert capsys.readouterr().out == ("boom \x1b[31mred\x1b[0m 2J [/nope] [bold]x :smile:"
                                       "\r\n\x1b[1;38;5;196mFAIL\x1b[0m 10%\r20%\n")


def test_styles_stay_styles(tmp_path: object) -> None:
    out = io.StringIO()
    Console(file=out, width=100, force_terminal=True, color_system="standard").print(
        render.table(["STATUS"], [(render.status_text("failed"),)]))
    assert "\x1b[31mfailed" in out.getvalue()
