"""Turning `--test` globs into the test paths of a suite, as pytest's command line would:
relative to the working directory, `**` recursive, sorted and de-duplicated."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from qgjob.cli.errors import EXIT_USAGE, CliError
from qgjob.domain import values


def expand_tests(patterns: Sequence[str], root: Path) -> list[str]:
    """Every file the patterns match under `root`, as relative POSIX paths. A pattern that
    matches no file, or a path the server would refuse, is a usage error naming it."""
    found: set[str] = set()
    for pattern in patterns:
        found.update(_check(pattern, path) for path in _matches(pattern, root))
    return sorted(found)


def _matches(pattern: str, root: Path) -> list[str]:
    if not pattern.strip():
        raise CliError(EXIT_USAGE, "--test must not be empty")
    literal = root / pattern
    if literal.is_file():  # used as is, even if it holds glob characters
        return [pattern]
    if literal.is_dir():
        raise CliError(EXIT_USAGE, f"--test {pattern!r} is a directory; name its tests with a "
                                   f"glob such as '{pattern.rstrip('/')}/**/*.spec.js'")
    paths = [p for p in glob.glob(pattern, root_dir=root, recursive=True)
             if (root / p).is_file()]
    if not paths:
        raise CliError(EXIT_USAGE, f"--test {pattern!r} matches no file under {root}")
    return paths


def _check(pattern: str, path: str) -> str:
    relative = PurePosixPath(path).as_posix()  # "./tests//a.js" -> "tests/a.js"
    try:
        return values.check_test_path(relative)
    except values.InvalidValue as bad:
        shown = "" if relative == pattern else f" (from {pattern!r})"
        raise CliError(EXIT_USAGE, f"--test {relative!r}{shown}: {bad}") from None
