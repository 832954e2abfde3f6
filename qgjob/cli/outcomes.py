"""What a waited-for job amounts to in a report: passed, failed, cancelled or unfinished,
how long it ran, and a readable excerpt of its log. Shared by the JUnit file and the GitHub
job summary, so both tell the same story."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Job = Mapping[str, Any]

PASSED, FAILED, CANCELLED, UNFINISHED = "passed", "failed", "cancelled", "unfinished"
_RESULTS = {"completed": PASSED, "failed": FAILED, "cancelled": CANCELLED}

EXCERPT_LINES = 40
EXCERPT_CHARS = 4000
# Colours and cursor moves that test runners print; they are noise outside a terminal.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def result_of(job: Job) -> str:
    """`unfinished` is a job still queued or running when waiting gave up."""
    return _RESULTS.get(job["status"], UNFINISHED)


def is_forgiven(job: Job) -> bool:
    """A failure that does not fail the run: its test is quarantined (`quarantine.py` marks
    such jobs when waiting ends)."""
    return job["status"] == "failed" and bool(job.get("quarantined"))


def seconds_of(job: Job) -> float:
    """From its first start to its finish (retries included); 0 if it never ran."""
    started, finished = job.get("started_at"), job.get("finished_at")
    if not started or not finished:
        return 0.0
    return max(0.0, (_parse(finished) - _parse(started)).total_seconds())


def tries(job: Job, between: str = "/") -> str:
    """`charged/max`, and interrupted attempts apart (a lost device, a hand-back, a
    preemption): they are not charged, so `1/3 +1 interrupted` after one Ctrl-C. Older servers
    send only `attempts`."""
    charged = job.get("charged_attempts", job.get("attempts", 0))
    interrupted = job.get("interrupted_attempts", 0)
    return f"{charged}{between}{job.get('max_attempts', '?')}" + \
        (f" +{interrupted} interrupted" if interrupted else "")


def _parse(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Tally:
    total: int
    passed: int
    failed: int
    cancelled: int
    unfinished: int
    flaky: int
    quarantined: int = 0
    """Of `failed`, those of quarantined tests: they do not fail the run."""

    @classmethod
    def of(cls, jobs: Iterable[Job]) -> Tally:
        listed = list(jobs)
        counts = Counter(result_of(j) for j in listed)
        return cls(total=len(listed), passed=counts[PASSED], failed=counts[FAILED],
                   cancelled=counts[CANCELLED], unfinished=counts[UNFINISHED],
                   flaky=sum(bool(j.get("flaky")) for j in listed),
                   quarantined=sum(is_forgiven(j) for j in listed))

    @property
    def not_passed(self) -> int:
        return self.total - self.passed

    @property
    def failing_the_run(self) -> int:
        """What the exit code counts: every test that did not pass, but quarantined ones."""
        return self.not_passed - self.quarantined


def log_excerpt(log: str | None) -> str:
    """The end of a log, where a test's failure usually is, without terminal escapes."""
    if not log:
        return ""
    lines = _ANSI.sub("", log).rstrip().splitlines()[-EXCERPT_LINES:]
    return "\n".join(lines)[-EXCERPT_CHARS:].strip("\n")
