"""The recorded history as a trace (`examples/traces/README.md`): what `qgjob export-trace`
writes and `qgjob simulate` and `qgjob plan` read. Pure: the store reads the rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from qgjob.domain.history import RecordedJob, Recording
from qgjob.protocol.limits import SECONDS_MAX
from qgjob.scheduler.views import DEFAULT_INSTALL_SECONDS

_VERDICTS = {"passed": "pass", "failed": "fail"}


def trace_of(recording: Recording, max_attempts: int) -> dict[str, Any]:
    """Each job that ran to a verdict at least once: its submit time (seconds from the first
    submit in the window), its test time (the mean of its passed and failed attempts) and
    their outcomes in order. Jobs with no verdict (cancelled or lost before one, still
    waiting) are left out and counted in `recorded.jobs_left_out`."""
    kept = [(job, verdicts) for job in recording.jobs if (verdicts := _verdicts(job))]
    start = min((job.created_at for job, _ in kept), default=recording.since)
    jobs = [{
        "id": job.job_id, "org_id": job.org_id, "app_version_id": job.app_version_id,
        "test_path": job.test_path, "target": job.target, "priority": job.priority,
        "submit_at": round(job.created_at - start, 3),
        "duration": round(min(sum(s for _, s in verdicts) / len(verdicts), SECONDS_MAX), 3),
        "outcomes": [outcome for outcome, _ in verdicts],
    } for job, verdicts in kept]
    devices = dict(recording.devices)
    targets = sorted(set(devices.values()) | {job.target for job, _ in kept})
    for target in targets:  # a job of a target no device serves now still needs one
        if target not in devices.values():
            devices[f"{target}-recorded"] = target
    install = {t: round(min(recording.install_seconds.get(t, DEFAULT_INSTALL_SECONDS.get(t, 30.0)),
                            SECONDS_MAX), 3) for t in targets}  # a trace's longest
    return {
        "name": f"recorded-{_day(recording.since)}",
        "install_seconds": install,
        "max_attempts": max_attempts,
        "devices": [{"id": d, "target": t} for d, t in sorted(devices.items())],
        "jobs": jobs,
        "recorded": {"since": _stamp(recording.since), "until": _stamp(recording.until),
                     "first_submit": _stamp(start) if kept else None,
                     "jobs_left_out": len(recording.jobs) - len(kept)},
    }


def _verdicts(job: RecordedJob) -> list[tuple[str, float]]:
    return [(_VERDICTS[a.outcome], max(a.finished_at - a.started_at, 0.0))
            for a in job.attempts
            if a.outcome in _VERDICTS and a.finished_at is not None]


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y%m%d")
