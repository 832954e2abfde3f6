"""What people look at: groups, agents and their devices, the queue, the server's health."""

from __future__ import annotations

from pydantic import BaseModel, Field

from qgjob.domain.models import Agent, Device, GroupSummary
from qgjob.protocol.fields import iso


class GroupPublic(BaseModel):
    group_key: str
    app_version_id: str
    target: str
    org_id: str | None = Field(description="set when the server groups per org")
    job_ids: list[str]
    counts: dict[str, int]

    @classmethod
    def of(cls, group: GroupSummary) -> GroupPublic:
        return cls(group_key=group.group_key, app_version_id=group.app_version_id,
                   target=group.target, org_id=group.org_id, job_ids=list(group.job_ids),
                   counts=group.counts)


class GroupList(BaseModel):
    groups: list[GroupPublic]


class DevicePublic(BaseModel):
    device_id: str
    name: str
    target: str
    state: str
    holds_app_version_id: str | None
    current_job_id: str | None
    last_seen_at: str | None
    out_of_rotation: str | None = Field(default=None, description=(
        "why the device takes no work (repeated failures); `qgjob devices enable` puts it "
        "back"))

    @classmethod
    def of(cls, device: Device) -> DevicePublic:
        return cls(device_id=device.device_id, name=device.name, target=device.target,
                   state=device.state, holds_app_version_id=device.holds_app_version_id,
                   current_job_id=device.current_job_id, last_seen_at=iso(device.last_seen_at),
                   out_of_rotation=device.disabled_reason)


class AgentPublic(BaseModel):
    agent_id: str
    name: str
    state: str
    version: str
    executor: str
    registered_at: str | None
    last_seen_at: str | None
    devices: list[DevicePublic]
    draining: bool = Field(default=False, description=(
        "drained: it finishes what it runs and takes no new work (`qgjob agents undrain`)"))
    draining_since: str | None = None

    @classmethod
    def of(cls, agent: Agent) -> AgentPublic:
        return cls(agent_id=agent.agent_id, name=agent.name, state=agent.state,
                   version=agent.version, executor=agent.executor,
                   registered_at=iso(agent.registered_at), last_seen_at=iso(agent.last_seen_at),
                   devices=[DevicePublic.of(d) for d in agent.devices],
                   draining=agent.draining_since is not None,
                   draining_since=iso(agent.draining_since))


class AgentList(BaseModel):
    agents: list[AgentPublic]


class QueueRow(BaseModel):
    priority: int
    target: str
    org_id: str
    queued: int
    running: int


class LaneWaiting(BaseModel):
    """A build's queued jobs from one org, and why they wait."""

    target: str
    app_version_id: str
    org_id: str
    group_key: str
    queued: int
    top_priority: int
    band: int = Field(description="priority after ageing")
    position: int | None = Field(
        description="1 = next in line among its target's waiting builds; null while devices "
                    "work on it")
    devices_working: int
    reason: str
    estimated_start_at: str | None = Field(
        description="a rough estimate from learned test durations, not a promise")
    devices_worth: int | None = Field(None, description=(
        "while builds stream in, the devices its work left is worth at the install's "
        "current price: an idle device stays off a build that has them; null otherwise"))


class QueueSummary(BaseModel):
    queued: int
    running: int
    by_priority: dict[str, int]
    by_target: dict[str, int]
    by_org: dict[str, int]
    rows: list[QueueRow]
    lanes: list[LaneWaiting]


class Health(BaseModel):
    status: str = Field(description="`ok`; `degraded` (with a 503) while the database "
                                    "refuses writes")
    version: str
    database: str
    schema_version: int
    writes: str = Field(default="ok", description=(
        "`ok`, or `refused` (disk full, I/O errors, read-only): submits, claims and reports "
        "get 503"))
    writes_refused_since: str | None = None
    detail: str | None = Field(default=None, description="why writes are refused")
