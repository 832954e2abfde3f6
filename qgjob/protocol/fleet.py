"""What the fleet operations answer: devices with their rotation and utilisation, per-target
utilisation, a drain's effect."""

from __future__ import annotations

from pydantic import BaseModel, Field

from qgjob.domain.models import Agent, Device, DeviceUsage
from qgjob.protocol import limits
from qgjob.protocol.fields import Strict, iso


class UsagePublic(BaseModel):
    """Shares of the time counted while the agent was online (None before any was)."""

    busy_share: float | None
    installing_share: float | None
    idle_share: float | None
    idle_while_work_waited_seconds: float = Field(description=(
        "idle seconds in which the target had queued work and the device was in rotation: "
        "scheduling waste"))
    counted_seconds: float

    @classmethod
    def of(cls, usage: DeviceUsage) -> UsagePublic:
        return cls(busy_share=usage.share(usage.busy_seconds),
                   installing_share=usage.share(usage.installing_seconds),
                   idle_share=usage.share(usage.idle_seconds),
                   idle_while_work_waited_seconds=round(usage.idle_waiting_seconds, 3),
                   counted_seconds=round(usage.counted_seconds, 3))


class FleetDevice(BaseModel):
    device_id: str
    agent: str
    name: str
    target: str
    state: str
    agent_state: str
    draining: bool = Field(description="its agent is drained")
    out_of_rotation: str | None = Field(description=(
        "why it takes no work (repeated failures); `qgjob devices enable` puts it back"))
    out_since: str | None
    failure_streak: int
    holds_app_version_id: str | None
    current_job_id: str | None
    last_seen_at: str | None
    usage: UsagePublic

    @classmethod
    def of(cls, agent: Agent, device: Device) -> FleetDevice:
        return cls(device_id=device.device_id, agent=agent.name, name=device.name,
                   target=device.target, state=device.state, agent_state=agent.state,
                   draining=agent.draining_since is not None,
                   out_of_rotation=device.disabled_reason, out_since=iso(device.disabled_at),
                   failure_streak=device.failure_streak,
                   holds_app_version_id=device.holds_app_version_id,
                   current_job_id=device.current_job_id, last_seen_at=iso(device.last_seen_at),
                   usage=UsagePublic.of(device.usage))


class TargetUsagePublic(BaseModel):
    target: str
    devices: int
    in_rotation: int = Field(description="online, not drained, not out of rotation")
    usage: UsagePublic


class DeviceList(BaseModel):
    devices: list[FleetDevice]
    targets: list[TargetUsagePublic]
    may_operate: bool = Field(default=False, description=(
        "the caller may drain, undrain and remove agents and enable devices (an admin): the "
        "dashboard shows those buttons only then"))
    may_read_all: bool = Field(default=False, description=(
        "the caller may read every org's work (`GET /timeline`, `GET /metrics`): an admin, "
        "or anyone with QGJOB_PUBLIC_DASHBOARD=true; the dashboard asks for the timeline "
        "only then"))

    @classmethod
    def of(cls, agents: list[Agent], may_operate: bool = False,
           may_read_all: bool = False) -> DeviceList:
        devices = [FleetDevice.of(a, d) for a in agents for d in a.devices]
        totals: dict[str, tuple[int, int, DeviceUsage]] = {}
        for agent in agents:
            for d in agent.devices:
                count, serving, usage = totals.get(d.target, (0, 0, DeviceUsage()))
                serves = (agent.state == "online" and agent.draining_since is None
                          and d.disabled_reason is None)
                totals[d.target] = (count + 1, serving + serves, usage + d.usage)
        targets = [TargetUsagePublic(target=t, devices=n, in_rotation=k, usage=UsagePublic.of(u))
                   for t, (n, k, u) in sorted(totals.items())]
        return cls(devices=devices, targets=targets, may_operate=may_operate,
                   may_read_all=may_read_all)


class DrainResult(BaseModel):
    name: str
    draining: bool
    released_job_ids: list[str] = Field(default_factory=list, description=(
        "jobs its batches held unstarted, back in the queue for other devices"))


class DeviceChoice(Strict):
    device: str = Field(min_length=1, max_length=limits.DEVICE_CHOICE_MAX,
                        pattern=limits.DEVICE_CHOICE_PATTERN,
                        description="a device id (`AGENT/DEVICE`) or a device name no other "
                                    "agent uses")
