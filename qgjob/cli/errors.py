"""Exit codes of the contract, and the one error type commands raise."""

from __future__ import annotations

import errno
import os
from pathlib import Path

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 3
EXIT_SERVER = 4


class CliError(Exception):
    """Ends the command with `code` and `message` on one line of stderr."""

    def __init__(self, code: int, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def check_output_file(path: Path) -> None:
    """Refuse, before any work, an output file that cannot be written where it is named: a
    directory, or in a folder that does not exist (the write itself may still fail later, on
    permissions or a full disk, and says so then)."""
    if path.is_dir():
        raise CliError(EXIT_USAGE, f"cannot write {path}: {os.strerror(errno.EISDIR)}")
    if not path.parent.is_dir():
        raise CliError(EXIT_USAGE, f"cannot write {path}: {os.strerror(errno.ENOENT)}")
