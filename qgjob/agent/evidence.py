"""Failure evidence from a Playwright JSON report: the attachments (screenshots, videos,
traces…) of the tests that did not pass, moved out of the run's temporary folder before it
is deleted, under names safe to upload, screenshots first, then traces, then videos.

Only files inside the run's own results folder are taken: a report is the test suite's
output, and a path in it could name any file on the agent's machine."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qgjob.agent.executors.base import Evidence
from qgjob.protocol.artifacts import ARTIFACT_TYPES, KEEP_ORDER
from qgjob.protocol.limits import FILE_NAME_MAX

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_PASSED = frozenset({"passed", "skipped"})


def keep_evidence(report: Any, results: Path) -> tuple[Path | None, tuple[Evidence, ...]]:
    """Move the failed tests' attachments into a new scratch folder; (folder, evidence).
    No evidence, no folder."""
    if not isinstance(report, dict):
        return None, ()
    unique = dict((source, test) for test, source in
                  _attachments(report.get("suites", []), [], results.resolve()))
    found = sorted(((test, source) for source, test in unique.items()),
                   key=lambda item: _rank(item[1]))
    if not found:
        return None, ()
    scratch = Path(tempfile.mkdtemp(prefix="qgjob-evidence-"))
    kept = []
    for number, (test, source) in enumerate(found, start=1):
        name = safe_name(number, source.name)
        try:
            shutil.move(source, scratch / name)
        except OSError:  # evidence is a bonus: a file that cannot move never costs the result
            continue
        kept.append(Evidence(name, scratch / name, test))
    return scratch, tuple(kept)


def safe_name(number: int, original: str) -> str:
    """`03-test-failed-1.png`: numbered (several tests leave a `video.webm`), with only the
    characters an upload's name may hold."""
    stem, _, extension = original.rpartition(".")
    stem = _UNSAFE.sub("-", stem).strip("-.") or "file"
    suffix = "." + extension.lower()
    return f"{number:02d}-{stem}"[:FILE_NAME_MAX - len(suffix)] + suffix


def _rank(path: Path) -> int:
    kind = ARTIFACT_TYPES[path.suffix.lower()][1]
    return KEEP_ORDER.index(kind)


def _attachments(suites: list[dict[str, Any]], titles: list[str],
                 results: Path) -> Iterator[tuple[str, Path]]:
    for suite in suites:
        path = [*titles, suite["title"]] if suite.get("title") else titles
        for spec in suite.get("specs", []):
            title = " > ".join([*path[1:], spec.get("title", "")])
            for test in spec.get("tests", []):
                for result in test.get("results", []):
                    if result.get("status") in _PASSED:
                        continue
                    for attachment in result.get("attachments", []):
                        source = _inside(attachment.get("path"), results)
                        if source is not None:
                            yield title, source
        yield from _attachments(suite.get("suites", []), path, results)


def _inside(path: object, results: Path) -> Path | None:
    """The attachment's file, if it is a regular file of an allowed type under `results`."""
    if not isinstance(path, str) or not path:
        return None
    source = Path(path).resolve()
    if not source.is_relative_to(results) or not source.is_file():
        return None
    return source if source.suffix.lower() in ARTIFACT_TYPES else None
