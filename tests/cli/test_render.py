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


def test_a_colour_code_split_between_two_reads_is_printed_whole(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`logs --follow` reads an attempt's output as it grows: a piece that ends inside an
    escape sequence is printed up to it, and the sequence is read again with its end."""
    from qgjob.cli.logs import _print_part
    output = ["cut \x1b[3", "4mblue\x1b[0m \x1b]0;ti", "tle\x07done\n\x1b["]
    written: list[str] = []

    class Growing:
        def get_text(self, path: str, params: dict[str, int], *, retry_for: float = 0.0
                     ) -> tuple[str, dict[str, str]]:
            written.append(output[len(written)])
            whole = "".join(written)
            return whole[params["offset"]:], {
                "x-qgjob-attempt": "1", "x-qgjob-next-offset": str(len(whole)),
                "x-qgjob-finished": "true" if len(written) == len(output) else "false"}

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    offset = 0
    for _ in output:
        _, offset = _print_part(Growing(), "j1", 1, offset, heading=False)  # type: ignore[arg-type]
    # The unfinished `ESC[` at the very end of a finished attempt is dropped, not waited for.
    assert capsys.readouterr().out == "cut \x1b[34mblue\x1b[0m done\n"
    assert offset == len("".join(output))


def test_an_unfinished_escape_is_found_only_at_the_end() -> None:
    from qgjob.cli.safe_text import UNFINISHED_MAX_CHARS, unfinished_escape
    assert unfinished_escape("a \x1b[31mred\x1b[0m") == 0
    assert unfinished_escape("a \x1b[31") == 4
    assert unfinished_escape("a \x1b") == 1
    assert unfinished_escape("a \x1b]0;title") == len("\x1b]0;title")
    assert unfinished_escape("a \x1b]0;title\x07 b") == 0
    assert unfinished_escape("\x1b]" + "x" * UNFINISHED_MAX_CHARS) == 0  # not waited for


def test_styles_stay_styles(tmp_path: object) -> None:
    out = io.StringIO()
    Console(file=out, width=100, force_terminal=True, color_system="standard").print(
        render.table(["STATUS"], [(render.status_text("failed"),)]))
    assert "\x1b[31mfailed" in out.getvalue()
