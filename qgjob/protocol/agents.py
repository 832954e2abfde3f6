"""The agent protocol: registering, claiming batches, starting and reporting attempts,
output and files, heartbeats and installs. The server validates these; the agent builds its
requests from them (qgjob/agent/client.py), so both sides keep to the same limits."""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import BaseModel, Field, StrictBool, StrictFloat, StrictInt, field_validator

from qgjob.domain.attempts import Outcome
from qgjob.domain.models import Batch
from qgjob.protocol import limits
from qgjob.protocol.cluster import AgentPublic
from qgjob.protocol.fields import AppVersionId, FileName, Label, Name, Strict, TargetName, Text, iso
from qgjob.protocol.jobs import CasePublic, JobPublic


class DeviceAnnouncement(Strict):
    name: Name
    target: TargetName
    holds_app_version_id: AppVersionId | None = None


class AgentRegistration(Strict):
    name: Name
    version: Label = ""
    executor: Label = ""
    devices: list[DeviceAnnouncement] = Field(min_length=1,
                                              max_length=limits.MAX_DEVICES_PER_AGENT)
    replaces_agent_id: Name | None = Field(default=None, description=(
        "the session this agent process had before it restarted: a live session under "
        "`name` is taken over only if it is this one (or has missed heartbeats for a lease)"))

    @field_validator("devices")
    @classmethod
    def _unique_names(cls, devices: list[DeviceAnnouncement]) -> list[DeviceAnnouncement]:
        return _each_named_once(devices, "device names must be unique within an agent")


class AgentRegistered(BaseModel):
    agent: AgentPublic
    heartbeat_seconds: float
    lease_seconds: float
    claim_wait_seconds: float
    report_takes_output: bool = Field(
        default=True, description="a report may carry the attempt's last output (`output`), "
                                  "saving the agent a request per job")
    report_max_bytes: int = Field(description="the largest report body the server takes")
    output_offsets: bool = Field(
        default=True, description="output chunks and a report's output may say their "
                                  "`offset`; what the server already holds is not kept twice")


class ClaimRequest(Strict):
    device: Name
    target: TargetName
    holds_app_version_id: AppVersionId | None = None
    wait_seconds: StrictFloat = Field(default=0.0, ge=0, le=limits.MAX_CLAIM_WAIT_SECONDS,
                                      allow_inf_nan=False)


class BatchPublic(BaseModel):
    lease_id: str
    lease_expires_at: str | None
    app_version_id: str
    target: str
    jobs: list[JobPublic]

    @classmethod
    def of(cls, batch: Batch) -> BatchPublic:
        return cls(lease_id=batch.lease.lease_id, lease_expires_at=iso(batch.lease.expires_at),
                   app_version_id=batch.app_version_id, target=batch.target,
                   jobs=[JobPublic.of(j) for j in batch.jobs])


class StartRequest(Strict):
    lease_id: Name


class AttemptReport(Strict):
    lease_id: Name
    attempt: StrictInt = Field(ge=1, le=limits.MAX_ATTEMPT_NUMBER)
    outcome: Outcome
    error: Text | None = Field(default=None, max_length=limits.REPORT_ERROR_MAX)
    tests: list[CasePublic] = Field(default_factory=list, max_length=limits.REPORT_CASES_MAX)
    output: Text = Field(default="", max_length=limits.REPORT_OUTPUT_MAX,
                        description="the end of the attempt's output, not sent yet: appended "
                                    "as `POST .../output` would, in the report's transaction")
    output_offset: StrictInt | None = Field(default=None, ge=0, le=2**53,
                                      description="where `output` starts in the attempt's "
                                                  "output, as `offset` of `POST .../output`")


class OutputChunk(Strict):
    lease_id: Name
    attempt: StrictInt = Field(ge=1, le=limits.MAX_ATTEMPT_NUMBER)
    text: Text = Field(max_length=limits.OUTPUT_CHUNK_MAX)
    offset: StrictInt | None = Field(default=None, ge=0, le=2**53,
                               description="characters of the attempt's output sent before "
                                           "`text`: only the part the server does not hold "
                                           "yet is kept, so a chunk sent again is kept once")


class FileUpload(Strict):
    lease_id: Name
    attempt: StrictInt = Field(ge=1, le=limits.MAX_ATTEMPT_NUMBER)
    name: FileName
    media_type: str = Field(default="application/octet-stream", max_length=100,
                            pattern=r"^[a-z]+/[a-zA-Z0-9.+-]+$")
    content_base64: str = Field(max_length=limits.FILE_BASE64_MAX,
                                pattern=r"^[A-Za-z0-9+/]*={0,2}$")


class ReleaseRequest(Strict):
    job_ids: list[Name] = Field(max_length=limits.RELEASE_MAX)


DeviceActivity = Literal["idle", "installing", "running"]


class DeviceStatus(Strict):
    name: Name
    state: DeviceActivity
    holds_app_version_id: AppVersionId | None = None
    current_job_id: Name | None = None
    lease_id: Name | None = None


class Heartbeat(Strict):
    devices: list[DeviceStatus] = Field(default_factory=list,
                                        max_length=limits.MAX_DEVICES_PER_AGENT)

    @field_validator("devices")
    @classmethod
    def _one_report_a_device(cls, devices: list[DeviceStatus]) -> list[DeviceStatus]:
        """A device reported twice in one beat (idle and running) says two things at once:
        which one the lease and the dashboard should believe would be a guess."""
        return _each_named_once(devices, "each device is reported once a heartbeat")


class HeartbeatReply(BaseModel):
    known: bool
    cancel_job_ids: list[str]
    preempt_job_ids: list[str] = Field(
        default_factory=list,
        description="running jobs to stop and report 'preempted' (urgent work needs the "
                    "device)")
    lease_expires_at: str | None


class InstallReport(Strict):
    device: Name
    app_version_id: AppVersionId
    target: TargetName
    seconds: StrictFloat = Field(ge=0, le=limits.SECONDS_MAX, allow_inf_nan=False)
    ok: StrictBool = True


_Named = TypeVar("_Named", DeviceAnnouncement, DeviceStatus)


def _each_named_once(devices: list[_Named], refusal: str) -> list[_Named]:
    """`devices`, or ValueError(`refusal`) when one name comes twice."""
    names = [d.name for d in devices]
    if len(set(names)) != len(names):
        raise ValueError(refusal)
    return devices
