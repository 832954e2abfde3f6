"""A JUnit XML report of a suite's jobs, the format CI systems and test reporters read.

One testcase per job (per-test details from real executors come later): classname from the
test file's directory, name from its file name, time from its first start to its finish. A
failed job carries `<failure>` with its error and the end of its log; a cancelled one
`<skipped>`; one still unfinished when waiting timed out `<error>`. Properties give the job
id, its attempts, whether it was flaky (passed only on a retry) and whether its test is
quarantined (it failed, but does not fail the run)."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree as ET

from qgjob.cli.errors import EXIT_USAGE, CliError
from qgjob.cli.outcomes import CANCELLED, FAILED, UNFINISHED, Job, Tally, result_of, seconds_of

# XML 1.0 cannot carry these characters even escaped (NUL, most C0 controls, lone
# surrogates); logs can hold any of them, and a report that does not parse is worse than none.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def junit_xml(jobs: Sequence[Job], excerpts: Mapping[str, str], suite: str) -> bytes:
    """The report as UTF-8 bytes; `excerpts` holds log excerpts by job id (may be empty)."""
    tally = Tally.of(jobs)
    counts = {"tests": str(tally.total), "failures": str(tally.failed),
              "errors": str(tally.unfinished), "skipped": str(tally.cancelled),
              "time": _seconds(sum(seconds_of(j) for j in jobs))}
    root = ET.Element("testsuites", {"name": "qgjob", **counts})
    testsuite = ET.SubElement(root, "testsuite", {"name": _text(suite), **counts})
    for job in jobs:
        testsuite.append(_testcase(job, excerpts.get(job["job_id"], "")))
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode()


def _testcase(job: Job, excerpt: str) -> ET.Element:
    path = PurePosixPath(job["test_path"])
    case = ET.Element("testcase", classname=_text(_classname(path)), name=_text(path.name),
                      file=_text(str(path)), time=_seconds(seconds_of(job)))
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


def _classname(path: PurePosixPath) -> str:
    """`tests/smoke/math.spec.js` -> `tests.smoke`, as JUnit readers group by package."""
    return ".".join(path.parent.parts) or "(root)"


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def check_writable(path: Path) -> None:
    """Fail before any job is queued if the report could not be written later, by doing what
    `write_report` will: make its folder and a file in it. Permission bits cannot say (root
    passes them everywhere, /proc and read-only mounts included)."""
    if path.is_dir():
        raise CliError(EXIT_USAGE, f"--junit {str(path)!r} is a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise CliError(EXIT_USAGE, f"--junit {str(path)!r} cannot be written: "
                                   f"{error.strerror or error}") from None


def write_report(path: Path, report: bytes) -> None:
    """Whole or not at all: a reader never sees half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(report)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as error:
        raise CliError(EXIT_USAGE, f"--junit {str(path)!r}: {error.strerror}") from None
