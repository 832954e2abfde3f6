"""A JUnit XML report of a suite's jobs, the format CI systems and test reporters read.

A job runs one spec file. When its report named the tests inside (the appwright executor's
do), each is a testcase of its own, with the spec file as its classname, its title as its
name and its own time, failure and error; a failed job none of whose tests failed (it
crashed) keeps a testcase of the file that carries the failure. A job without per-test
results (or a cancelled or unfinished one) is one testcase: classname from the test file's
directory, name from its file name, time from its first start to its finish. A failed job
carries `<failure>` with its error and the end of its log; a cancelled one `<skipped>`; one
still unfinished when waiting timed out `<error>`. Properties give the job id, its attempts,
whether it was flaky (passed only on a retry) and whether its test is quarantined (it
failed, but does not fail the run)."""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree as ET

from qgjob.cli.errors import EXIT_USAGE, CliError
from qgjob.cli.outcomes import (
    CANCELLED,
    FAILED,
    PASSED,
    UNFINISHED,
    Job,
    result_of,
    seconds_of,
)

# XML 1.0 cannot carry these characters even escaped (NUL, most C0 controls, lone
# surrogates); logs can hold any of them, and a report that does not parse is worse than none.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def junit_xml(jobs: Sequence[Job], excerpts: Mapping[str, str], suite: str,
              cases: Mapping[str, Sequence[Case]] | None = None) -> bytes:
    """The report as UTF-8 bytes; `excerpts` holds log excerpts by job id (may be empty),
    `cases` the per-test results by job id (rows of `GET /runs/{id}` with a title)."""
    elements = [case for job in jobs
                for case in _testcases(job, excerpts.get(job["job_id"], ""),
                                       (cases or {}).get(job["job_id"], ()))]
    counts = {"tests": str(len(elements)),
              "failures": str(sum(c.find("failure") is not None for c in elements)),
              "errors": str(sum(c.find("error") is not None for c in elements)),
              "skipped": str(sum(c.find("skipped") is not None for c in elements)),
              "time": _seconds(sum(seconds_of(j) for j in jobs))}
    root = ET.Element("testsuites", {"name": "qgjob", **counts})
    testsuite = ET.SubElement(root, "testsuite", {"name": _text(suite), **counts})
    testsuite.extend(elements)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode()


Case = Mapping[str, Any]
"""One test of a spec: `title`, `result`, `duration_seconds`, `error`."""
_CASE_FAILED = {"failed", "timed-out"}


def _testcases(job: Job, excerpt: str, cases: Sequence[Case]) -> list[ET.Element]:
    result = result_of(job)
    if not cases or result not in (PASSED, FAILED):
        return [_testcase(job, excerpt)]
    found = [_case_of(job, case, excerpt) for case in cases]
    if result == FAILED and not any(case["result"] in _CASE_FAILED for case in cases):
        found.append(_testcase(job, excerpt))
    return found


def _case_of(job: Job, case: Case, excerpt: str) -> ET.Element:
    path = job["test_path"]
    element = ET.Element("testcase", classname=_text(path), name=_text(case["title"]),
                         file=_text(path), time=_seconds(case.get("duration_seconds") or 0))
    _properties(element, job)
    if case["result"] in _CASE_FAILED:
        error = case.get("error") or case["result"]
        failure = ET.SubElement(element, "failure", message=_text(error.split("\n")[0]),
                                type=case["result"])
        failure.text = _text(error + (f"\n\n--- end of its log ---\n{excerpt}" if excerpt
                                      else ""))
    elif case["result"] == "skipped":
        ET.SubElement(element, "skipped", message="skipped")
    return element


def _testcase(job: Job, excerpt: str) -> ET.Element:
    path = PurePosixPath(job["test_path"])
    case = ET.Element("testcase", classname=_text(_classname(path)), name=_text(path.name),
                      file=_text(str(path)), time=_seconds(seconds_of(job)))
    _properties(case, job)
    result = result_of(job)
    if result == FAILED:
        error = job.get("error") or "failed"
        failure = ET.SubElement(case, "failure", message=_text(error), type="failed")
        failure.text = _text(error + (f"\n\n--- end of its log ---\n{excerpt}" if excerpt else ""))
    elif result == CANCELLED:
        ET.SubElement(case, "skipped", message="cancelled")
    elif result == UNFINISHED:
        ET.SubElement(case, "error", type="timeout",
                      message=f"still {job['status']} when waiting timed out")
    return case


def _properties(case: ET.Element, job: Job) -> None:
    properties = ET.SubElement(case, "properties")
    facts = [("job_id", job["job_id"]), ("attempts", str(job.get("attempts", 0))),
             ("max_attempts", str(job.get("max_attempts", ""))),
             ("device", job.get("device") or "")]
    if job.get("flaky"):
        facts.append(("flaky", "true"))
    if job.get("quarantined"):
        facts.append(("quarantined", "true"))
    for name, value in facts:
        ET.SubElement(properties, "property", name=name, value=_text(value))


def _classname(path: PurePosixPath) -> str:
    """`tests/smoke/math.spec.js` -> `tests.smoke`, as JUnit readers group by package."""
    return ".".join(path.parent.parts) or "(root)"


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_writable(path: Path) -> None:
    """Fail before any job is queued if the report could not be written later, by doing what
    `write_report` will: make its folder and a file in it, or, for a target that is no
    ordinary file (a FIFO, a device), find it writable. Permission bits cannot say for a new
    file (root passes them everywhere, /proc and read-only mounts included). A control
    character is refused: the path goes into `$GITHUB_OUTPUT`, where a line break would add
    outputs."""
    if _CONTROL.search(str(path)):
        raise CliError(EXIT_USAGE, f"--junit {str(path)!r} holds a control character (a line "
                                   "break, tab or escape)")
    if path.is_dir():
        raise CliError(EXIT_USAGE, f"--junit {str(path)!r} is a directory")
    target = _followed(path)
    try:
        if not _replaceable(target):
            if not os.access(target, os.W_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise CliError(EXIT_USAGE, f"--junit {str(path)!r} cannot be written: "
                                   f"{error.strerror or error}") from None


def write_report(path: Path, report: bytes) -> None:
    """Whole or not at all, so a reader never sees half a file, where the target is an
    ordinary file (or none yet): written beside it and renamed over it. A symlink is followed
    (the link stays, its target gets the report); a FIFO or a device (`/dev/stdout`) is
    written into, never replaced: a rename would swap it for a file its reader never sees."""
    target = _followed(path)
    try:
        if _replaceable(target):
            _replace(target, report)
        else:
            _write_into(target, report)
    except OSError as error:
        raise CliError(EXIT_USAGE, f"--junit {str(path)!r} not written: "
                                   f"{error.strerror or error}") from None


def _followed(path: Path) -> Path:
    """The path a write to `path` lands on: every symlink resolved (a dangling one to the
    file it names)."""
    return Path(os.path.realpath(path))


def _replaceable(target: Path) -> bool:
    """Whether `target` is an ordinary file or missing: what a rename may put in place."""
    try:
        return stat.S_ISREG(os.stat(target).st_mode)
    except FileNotFoundError:
        return True


def _replace(target: Path, report: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(report)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def _write_into(target: Path, report: bytes) -> None:
    """Into a FIFO or device as it stands; O_WRONLY without O_CREAT, so one that vanished
    meanwhile fails rather than turns into a file."""
    with os.fdopen(os.open(target, os.O_WRONLY | os.O_NOCTTY), "wb") as out:
        out.write(report)
