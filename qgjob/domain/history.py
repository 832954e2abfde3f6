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
