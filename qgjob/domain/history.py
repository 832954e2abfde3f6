"""What devices did over time: app installs and test attempts, for the device timeline and a
job's page. Read-only views of the store's history tables."""

from __future__ import annotations

from dataclasses import dataclass

from qgjob.domain.models import Attempt


@dataclass(frozen=True)
class Install:
    device_id: str
    app_version_id: str
    target: str
    started_at: float
    finished_at: float
    ok: bool


@dataclass(frozen=True)
class DeviceRun:
    """One attempt of a job on a device, with the build the timeline colours it by."""

    attempt: Attempt
    app_version_id: str
    target: str
    test_path: str
    org_id: str


@dataclass(frozen=True)
class Timeline:
    """Installs and attempts that overlap [since, until]; `truncated` when the window held
    more than the caller's limit (the newest are kept)."""

    since: float
    until: float
    runs: tuple[DeviceRun, ...]
    installs: tuple[Install, ...]
    truncated: bool = False


@dataclass(frozen=True)
class RecordedAttempt:
    device_id: str
    started_at: float
    finished_at: float | None
    outcome: str | None


@dataclass(frozen=True)
class RecordedJob:
    """A job submitted in the recorded window and its attempts, first first: what
    `qgjob export-trace` turns into a trace for the simulator."""

    job_id: str
    org_id: str
    app_version_id: str
    test_path: str
    target: str
    priority: int
    created_at: float
    state: str
    attempts: tuple[RecordedAttempt, ...]


@dataclass(frozen=True)
class Recording:
    since: float
    until: float
    jobs: tuple[RecordedJob, ...]
    install_seconds: dict[str, float]
    """Per target: the mean successful install in the window (targets with one)."""
    devices: tuple[tuple[str, str], ...]
    """(device id, target) of today's fleet and of every device that ran an attempt."""
