"""Workload traces: a device pool and jobs with their true durations and outcomes."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qgjob.domain import values
from qgjob.domain.values import MAX_PRIORITY, MIN_PRIORITY, PRIORITIES, TARGETS, InvalidValue
from qgjob.protocol.limits import (
    DEVICE_CHOICE_MAX,
    MAX_ATTEMPTS,
    ONE_LINE_PATTERN,
    SECONDS_MAX,
)
from qgjob.scheduler.views import DEFAULT_INSTALL_SECONDS

TRACE_NAME_MAX = 200
"""A trace's name is shown on one line of the summary (as a run's name is)."""
DEVICE_ID_MAX = DEVICE_CHOICE_MAX
"""An agent's name and a device's, with a '/' between (as `qgjob export-trace` writes)."""

MAX_SECONDS = 1e8
"""The latest a trace may submit a job: about three years. Past it, seconds held as floats
lose the precision that leases and heartbeats in virtual time need (at 1e300 s a 30 s lease
ends when it starts)."""
MAX_SPAN_SECONDS = SECONDS_MAX
"""The longest test or install a trace may state: a day, as the server takes a test case's
duration (`limits.SECONDS_MAX`). A device the policy leaves idle while work waits asks
again every two virtual seconds: behind tests of years, that was minutes of polling."""


class TraceError(ValueError):
    """The trace file is not a valid trace; the message says where."""


@dataclass(frozen=True)
class TraceDevice:
    device_id: str
    target: str


@dataclass(frozen=True)
class TraceJob:
    job_id: str
    org_id: str
    app_version_id: str
    test_path: str
    target: str
    priority: int
    submit_at: float
    duration: float
    outcomes: tuple[str, ...]

    def outcome(self, attempt: int) -> str:
        """Outcome of attempt `attempt` (1-based); the last entry repeats."""
        return self.outcomes[min(attempt, len(self.outcomes)) - 1]

    def attempts_needed(self, max_attempts: int) -> int:
        for attempt in range(1, max_attempts + 1):
            if self.outcome(attempt) == "pass":
                return attempt
        return max_attempts


@dataclass(frozen=True)
class Trace:
    name: str
    install_seconds: dict[str, float]
    max_attempts: int
    devices: tuple[TraceDevice, ...]
    jobs: tuple[TraceJob, ...]


def load_trace(path: Path) -> Trace:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TraceError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise TraceError(f"{path} is not JSON: {exc}") from None
    return parse_trace(json_of(text, str(path)), default_name=path.stem)


def json_of(text: str, source: str) -> Any:
    """The JSON in `text`, read from `source` (a path, or stdin); TraceError if it is not."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceError(f"{source} is not JSON: {exc}") from None
    except ValueError:  # Python's own cap on an integer's digits (4,300), not a JSON rule
        raise TraceError(f"{source} is not a trace: a number in it has over 4,300 digits"
                         ) from None


def parse_trace(raw: Any, default_name: str = "trace") -> Trace:
    if not isinstance(raw, dict):
        raise TraceError("a trace is a JSON object with devices and jobs")
    install = raw.get("install_seconds", dict(DEFAULT_INSTALL_SECONDS))
    if not isinstance(install, dict) \
            or not all(_seconds(v, MAX_SPAN_SECONDS) for v in install.values()):
        raise TraceError("install_seconds must map targets to numbers of seconds "
                         f"0-{MAX_SPAN_SECONDS:.0f} (a day)")
    max_attempts = raw.get("max_attempts", 3)
    if not isinstance(max_attempts, int) or isinstance(max_attempts, bool) \
            or not 1 <= max_attempts <= MAX_ATTEMPTS:
        raise TraceError(f"max_attempts must be an integer 1-{MAX_ATTEMPTS} (as a submit's)")
    devices = tuple(_device(i, d) for i, d in enumerate(_list(raw, "devices")))
    if not devices:
        raise TraceError("devices: at least one device is needed")
    if len({d.device_id for d in devices}) != len(devices):
        raise TraceError("devices: ids must be unique")
    jobs = tuple(_job(i, j) for i, j in enumerate(_list(raw, "jobs")))
    if len({j.job_id for j in jobs}) != len(jobs):
        raise TraceError("jobs: ids must be unique")
    targets = {d.target for d in devices}
    for job in jobs:
        if job.target not in targets:
            raise TraceError(f"job {job.job_id}: no device of target {job.target!r}")
        if job.target not in install:
            raise TraceError(f"install_seconds has no entry for target {job.target!r}")
    name = raw.get("name", default_name)
    if not _one_line(name, TRACE_NAME_MAX):
        raise TraceError(f"name must be one line of text, 1-{TRACE_NAME_MAX} characters")
    return Trace(name, {k: float(v) for k, v in install.items()}, max_attempts, devices, jobs)


def _list(raw: dict[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    if not isinstance(value, list):
        raise TraceError(f"{key} must be a list")
    return value


def _seconds(value: Any, most: float = MAX_SECONDS) -> bool:
    """A JSON number from 0 to `most` (Python's json also reads NaN and Infinity)."""
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and 0 <= value <= most and math.isfinite(value)


def _device(index: int, raw: Any) -> TraceDevice:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise TraceError(f"devices[{index}]: needs a string id")
    if not _one_line(raw["id"], DEVICE_ID_MAX):
        # An exported trace names a device with its agent's: `lab/emulator-1`.
        raise TraceError(f"devices[{index}]: id must be one line of text, 1-{DEVICE_ID_MAX} "
                         "characters")
    if raw.get("target") not in TARGETS:
        raise TraceError(f"devices[{index}]: target must be one of {', '.join(TARGETS)}")
    return TraceDevice(raw["id"], raw["target"])


def _one_line(text: Any, most: int) -> bool:
    """A string of one line (`limits.ONE_LINE_PATTERN`), 1 to `most` characters."""
    return isinstance(text, str) and len(text) <= most \
        and re.fullmatch(ONE_LINE_PATTERN, text) is not None


def _as_the_server_takes(where: str, job_id: str, org_id: str, app_version_id: str,
                         test_path: str) -> None:
    """A trace's names follow the server's rules (a newline in an org split the summary's
    lines; a 10,000-character test path no server would take): a trace exported from a
    server always does."""
    try:
        values.check_name(job_id, "id")
        values.check_org_id(org_id)
        values.check_app_version_id(app_version_id)
        values.check_test_path(test_path)
    except InvalidValue as bad:
        raise TraceError(f"{where}: {bad}") from None


def _job(index: int, raw: Any) -> TraceJob:
    where = f"jobs[{index}]"
    if not isinstance(raw, dict):
        raise TraceError(f"{where}: must be an object")
    for key in ("id", "org_id", "app_version_id", "test_path", "target"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise TraceError(f"{where}: {key} must be a non-empty string")
    _as_the_server_takes(where, raw["id"], raw["org_id"], raw["app_version_id"],
                         raw["test_path"])
    priority = raw.get("priority", 3)
    if not isinstance(priority, int) or isinstance(priority, bool) or priority not in PRIORITIES:
        raise TraceError(f"{where}: priority must be an integer "
                         f"{MIN_PRIORITY}-{MAX_PRIORITY}")
    if not _seconds(raw.get("submit_at")):
        raise TraceError(f"{where}: submit_at must be a number of seconds 0-{MAX_SECONDS:.0e}")
    if not _seconds(raw.get("duration"), MAX_SPAN_SECONDS):
        raise TraceError(f"{where}: duration must be a number of seconds "
                         f"0-{MAX_SPAN_SECONDS:.0f} (a day)")
    outcomes = raw.get("outcomes", ["pass"])
    if (not isinstance(outcomes, list) or not outcomes
            or any(o not in ("pass", "fail") for o in outcomes)):
        raise TraceError(f"{where}: outcomes must be a non-empty list of 'pass'/'fail'")
    return TraceJob(raw["id"], raw["org_id"], raw["app_version_id"], raw["test_path"],
                    raw["target"], priority, float(raw["submit_at"]), float(raw["duration"]),
                    tuple(outcomes))
