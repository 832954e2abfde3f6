"""Exit codes of the contract, and the one error type commands raise."""

from __future__ import annotations

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
