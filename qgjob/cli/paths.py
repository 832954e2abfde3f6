"""File arguments and output options: `-` for standard input or output, as `simulate -`
reads stdin, an empty path refused by name (Click reads "" as the path ".", which read as
"cannot write .: Is a directory"), and an output file checked before the work that fills
it."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import typer

from qgjob.cli.errors import EXIT_USAGE, CliError

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


def check_output_file(path: Path) -> None:
    """Refuse, before any work, an output file that cannot be written where it is named: a
    directory, or in a folder that does not exist (the write itself may still fail later, on
    permissions or a full disk, and says so then)."""
    if path.is_dir():
        raise CliError(EXIT_USAGE, f"cannot write {path}: {os.strerror(errno.EISDIR)}")
    if not path.parent.is_dir():
        raise CliError(EXIT_USAGE, f"cannot write {path}: {os.strerror(errno.ENOENT)}")
