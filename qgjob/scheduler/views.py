"""What the policy sees at a claim, and what it answers. Built by the store from its own
state; plain frozen values so the simulator can build the same views in virtual time."""

from __future__ import annotations

from dataclasses import dataclass

from qgjob.domain.values import MAX_PRIORITY, MIN_PRIORITY


@dataclass(frozen=True)
class GroupView:
    """The queued part of one group, as seen from one target."""

    group_key: str
    app_version_id: str
    target: str
    org_id: str | None
    queued_by_priority: tuple[int, ...]
    """Queued jobs per priority; index 0 is priority 1."""
    oldest_queued_at: float
    """Submit time of the group's next job (the oldest of its highest-priority jobs)."""
    devices_working: int = 0
    """Devices that currently hold a leased batch of this group."""

    @property
    def queued(self) -> int:
        return sum(self.queued_by_priority)

    @property
    def top_priority(self) -> int:
        for priority in range(MAX_PRIORITY, MIN_PRIORITY - 1, -1):
            if self.queued_by_priority[priority - 1]:
                return priority
        return MIN_PRIORITY


@dataclass(frozen=True)
class DeviceView:
    device_id: str
    target: str
    holds_app_version_id: str | None


@dataclass(frozen=True)
class ClaimContext:
    device: DeviceView
    groups: tuple[GroupView, ...]
    """Groups of the device's target with at least one job ready to claim."""
    target_devices: int
    """Online devices of the device's target, this one included."""
    now: float


@dataclass(frozen=True)
class BatchChoice:
    group_key: str
    size: int
