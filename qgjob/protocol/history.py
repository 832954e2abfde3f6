"""What the history endpoints return: a job's attempts and each device's timeline. Kept apart
from jobs.py and agents.py (the submission and agent contracts) because they only describe
the past."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from qgjob.domain.history import DeviceRun, Install, Timeline
from qgjob.domain.models import Attempt
from qgjob.protocol.fields import iso


class AttemptPublic(BaseModel):
    attempt: int
    device: str
    agent: str
    started_at: str
    finished_at: str | None
    seconds: float | None = Field(description="how long it ran; null while it runs")
    outcome: str | None = Field(
        description="passed, failed, cancelled, lost, interrupted or preempted; null while "
                    "it runs")
    error: str | None
    note: str | None = Field(default=None, description="why the attempt led where it did, "
                             "when that is not plain (e.g. why a failure was not retried)")

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptPublic:
        seconds = None if attempt.finished_at is None else round(
            attempt.finished_at - attempt.started_at, 3)
        return cls(attempt=attempt.attempt, device=attempt.device_id, agent=attempt.agent_name,
                   started_at=iso(attempt.started_at) or "", finished_at=iso(attempt.finished_at),
                   seconds=seconds, outcome=attempt.outcome, error=attempt.error,
                   note=attempt.note)


class AttemptList(BaseModel):
    job_id: str
    attempts: list[AttemptPublic]


class TimelineBar(BaseModel):
    """An app install or a test attempt on one device."""

    kind: Literal["install", "test"]
    app_version_id: str
    target: str
    started_at: str
    finished_at: str | None = Field(description="null while a test runs")
    ok: bool | None = Field(description="installs: whether it worked; tests: whether it "
                                        "passed (null while it runs)")
    job_id: str | None = None
    attempt: int | None = None
    test_path: str | None = None
    org_id: str | None = None
    outcome: str | None = None

    @classmethod
    def of_install(cls, install: Install) -> TimelineBar:
        return cls(kind="install", app_version_id=install.app_version_id,
                   target=install.target, started_at=iso(install.started_at) or "",
                   finished_at=iso(install.finished_at), ok=install.ok)

    @classmethod
    def of_run(cls, run: DeviceRun) -> TimelineBar:
        attempt = run.attempt
        return cls(kind="test", app_version_id=run.app_version_id, target=run.target,
                   started_at=iso(attempt.started_at) or "", finished_at=iso(attempt.finished_at),
                   ok=None if attempt.outcome is None else attempt.outcome == "passed",
                   job_id=attempt.job_id, attempt=attempt.attempt, test_path=run.test_path,
                   org_id=run.org_id, outcome=attempt.outcome)


class DeviceTimeline(BaseModel):
    device_id: str
    bars: list[TimelineBar]


class TimelinePublic(BaseModel):
    since: str
    until: str
    truncated: bool = Field(description="the window held more than `limit` bars of a kind; "
                                        "the newest are shown")
    devices: list[DeviceTimeline]

    @classmethod
    def of(cls, timeline: Timeline) -> TimelinePublic:
        starts: dict[str, list[tuple[float, TimelineBar]]] = {}
        for install in timeline.installs:
            starts.setdefault(install.device_id, []).append(
                (install.started_at, TimelineBar.of_install(install)))
        for run in timeline.runs:
            starts.setdefault(run.attempt.device_id, []).append(
                (run.attempt.started_at, TimelineBar.of_run(run)))
        devices = [DeviceTimeline(device_id=device,
                                  bars=[bar for _, bar in sorted(bars, key=lambda b: b[0])])
                   for device, bars in sorted(starts.items())]
        return cls(since=iso(timeline.since) or "", until=iso(timeline.until) or "",
                   truncated=timeline.truncated, devices=devices)
