"""File arguments and `--out` options: `-` for standard input or output, as `simulate -`
reads stdin, and an empty path refused by name (Click reads "" as the path ".", which read
as "cannot write .: Is a directory")."""

from __future__ import annotations

from pathlib import Path

import typer

STDIO = "-"


def input_file(raw: str | Path) -> Path:
    """A file to read; `-` (standard input) stays `-` for the command to read."""
    if not str(raw):
        raise typer.BadParameter("the path is empty: name a file, or - for standard input")
    return Path(raw)


def output_file(raw: str | Path) -> Path | None:
    """A file to write, or None for standard output (`-`)."""
    if str(raw) == STDIO:
        return None
    if not str(raw):
        raise typer.BadParameter("the path is empty: name a file, or - for standard output")
    return Path(raw)
