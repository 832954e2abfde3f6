"""What the HTTP API accepts and returns. Separate from domain objects and database rows:
these are the promises of ../CONTRACT.md, and they change only deliberately."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Literal

import pydantic_core
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    WithJsonSchema,
    field_validator,
)

from qgjob.api.params import FILE_NAME_PATTERN
from qgjob.domain import values
from qgjob.domain.attempts import Outcome
from qgjob.domain.models import Agent, Batch, Device, GroupSummary, Job


def _documented(pattern: str, max_length: int, description: str = "") -> WithJsonSchema:
    """The rule in the OpenAPI schema; the check itself (with its one-line message) is the
    validator of qgjob.domain.values."""
    schema = {"type": "string", "minLength": 1, "maxLength": max_length,
              "pattern": f"^{pattern}$"}
    return WithJsonSchema({**schema, "description": description} if description else schema)


OrgId = Annotated[str, Field(max_length=values.ORG_ID_MAX * 4),
                  AfterValidator(values.check_org_id),
                  _documented(values.ORG_ID_PATTERN, values.ORG_ID_MAX)]
AppVersionId = Annotated[str, Field(max_length=values.APP_VERSION_ID_MAX * 4),
                         AfterValidator(values.check_app_version_id),
                         _documented(values.APP_VERSION_ID_PATTERN, values.APP_VERSION_ID_MAX,
                                     "an app build id, e.g. 1.4.2+881 or bs://<hash>")]
TestPath = Annotated[str, Field(max_length=values.TEST_PATH_MAX * 4),
                     AfterValidator(values.check_test_path),
                     _documented(values.TEST_PATH_PATTERN, values.TEST_PATH_MAX,
                                 "relative to the test suite: no leading '/', no '..'")]
TargetName = Literal["emulator", "device", "browserstack"]
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=200,
                                      pattern=r"^[\x21-\x7e]+$")]
Name = Annotated[str, Field(max_length=values.NAME_MAX * 4), AfterValidator(values.check_name),
                 _documented(values.NAME_PATTERN, values.NAME_MAX)]
Label = Annotated[str, Field(default="", max_length=64, pattern=r"^[\x20-\x7e]*$")]
"""Free text an agent reports about itself (version, executor): printable ASCII."""
Text = Annotated[str, BeforeValidator(values.storable_text)]
"""Free text a test printed (output, errors, test titles): any character is taken, the few
no store keeps (NUL, lone surrogates) shown as U+FFFD. Every free-text field of a request
is a `Text` (tests/api/test_text_fields.py checks)."""


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return _iso(ts)


@functools.lru_cache(maxsize=4096)  # a batch's jobs share their submit time
def _iso(ts: float) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Strict(BaseModel):
    """A request body. Its numbers and flags are strict too (`StrictInt`, `StrictFloat`,
    `StrictBool`): `true` is no count and `"2"` no number, so a client's mistake is a 422
    rather than a value it did not mean (`max_attempts: true` stored as 1)."""

    model_config = ConfigDict(extra="forbid")


def _priority(raw: object) -> object:
    """Numbers and names become 1-5, or fail with the one-line reason; anything else goes on
    to the integer check (which refuses it)."""
    if isinstance(raw, str | int):
        return values.parse_priority(raw)
    return raw


Priority = Annotated[int, BeforeValidator(_priority),
                     WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string"}]})]


class JobCreate(Strict):
    """One job to queue. The service reads it as it is (see `JobRequest`)."""

    org_id: OrgId
    app_version_id: AppVersionId
    test_path: TestPath
    target: TargetName = "emulator"
    priority: Priority = Field(default=values.DEFAULT_PRIORITY,
                               description="1 (lowest) to 5 (highest), or low, normal, "
                                           "medium, high, urgent, critical")
    max_attempts: StrictInt | None = Field(default=None, ge=1, le=10)
    idempotency_key: IdempotencyKey | None = Field(
        default=None, description="the same key (per org) gives back the same job; for "
                                  "single submissions the Idempotency-Key header does the same")


MAX_JOBS_PER_REQUEST = 1000


class JobBatchCreate(Strict):
    jobs: list[JobCreate] = Field(min_length=1, max_length=MAX_JOBS_PER_REQUEST)


PublicStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
"""A job's state as users see it (see `JobState.public`)."""


class JobPublic(BaseModel):
    job_id: str
    org_id: str
    app_version_id: str
    test_path: str
    target: str
    priority: int
    status: PublicStatus
    attempts: int
    max_attempts: int
    charged_attempts: int = Field(description="attempts that count against max_attempts")
    interrupted_attempts: int = Field(
        description="attempts cut short by a lost device, a hand-back or preemption: in "
                    "`attempts`, not charged")
    agent: str | None
    device: str | None
    error: str | None
    flaky: bool
    cancel_requested: bool
    created_at: str
    started_at: str | None
    finished_at: str | None
    tests: list[CasePublic] = Field(
        default_factory=list,
        description="per-test results of its last attempt (on GET /jobs/{job_id})")

    @classmethod
    def of(cls, job: Job) -> JobPublic:
        return cls.model_validate(_public_fields(job))


def _public_fields(job: Job) -> dict[str, object]:
    return {
        "job_id": job.job_id, "org_id": job.org_id, "app_version_id": job.app_version_id,
        "test_path": job.test_path, "target": job.target, "priority": job.priority,
        "status": job.state.public, "attempts": job.attempts, "max_attempts": job.max_attempts,
        "charged_attempts": job.charged_attempts,
        "interrupted_attempts": job.infra_failures + job.preemptions,
        "agent": job.agent_name, "device": job.device_id, "error": job.error,
        "flaky": job.flaky, "cancel_requested": job.cancel_requested,
        "created_at": iso(job.created_at) or "", "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at), "tests": [],
    }


class CasePublic(BaseModel):
    """One test case of the job's last attempt, as the test runner reported it."""

    title: Text = Field(max_length=2000)
    status: Literal["passed", "failed", "skipped", "flaky", "timed-out"]
    duration_seconds: StrictFloat = Field(ge=0)
    error: Text | None = Field(default=None, max_length=20_000)
    file: Text | None = Field(default=None, max_length=1000)


class JobList(BaseModel):
    jobs: list[JobPublic]
    count: int

    @classmethod
    def of(cls, jobs: Sequence[Job]) -> JobList:
        # One validation for the whole list: a 1,000-job batch answers in a third of the time
        # that a JobPublic per job takes.
        return cls.model_validate(_list_fields(jobs))

    @staticmethod
    def json_of(jobs: Sequence[Job]) -> bytes:
        """The JSON of `of(jobs)`, written straight from the fields: a bulk submit answers
        with 1,000 jobs, and building their models cost more than writing them."""
        return pydantic_core.to_json(_list_fields(jobs))


def _list_fields(jobs: Sequence[Job]) -> dict[str, object]:
    return {"jobs": [_public_fields(job) for job in jobs], "count": len(jobs)}


class JobIdList(BaseModel):
    """A batch submit's answer when asked with `Prefer: return=minimal`: the ids, in the
    order of the jobs sent."""

    job_ids: list[str]
    count: int
    replayed: int = Field(0, description="how many of them an idempotency key found: "
                                         "submitted before, not queued by this request")

    @staticmethod
    def json_of(jobs: Sequence[Job], replayed: int) -> bytes:
        return pydantic_core.to_json({"job_ids": [job.job_id for job in jobs],
                                      "count": len(jobs), "replayed": replayed})


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


# The agent protocol ---------------------------------------------------------------------------

class DeviceAnnouncement(Strict):
    name: Name
    target: TargetName
    holds_app_version_id: AppVersionId | None = None


class AgentRegistration(Strict):
    name: Name
    version: Label = ""
    executor: Label = ""
    devices: list[DeviceAnnouncement] = Field(min_length=1, max_length=256)
    replaces_agent_id: Name | None = Field(default=None, description=(
        "the session this agent process had before it restarted: a live session under "
        "`name` is taken over only if it is this one (or has missed heartbeats for a lease)"))

    @field_validator("devices")
    @classmethod
    def _unique_names(cls, devices: list[DeviceAnnouncement]) -> list[DeviceAnnouncement]:
        names = [d.name for d in devices]
        if len(set(names)) != len(names):
            raise ValueError("device names must be unique within an agent")
        return devices


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
    wait_seconds: StrictFloat = Field(default=0.0, ge=0, le=values.MAX_CLAIM_WAIT_SECONDS)


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
    attempt: StrictInt = Field(ge=1, le=1000)
    outcome: Outcome
    error: Text | None = Field(default=None, max_length=8192)
    tests: list[CasePublic] = Field(default_factory=list, max_length=2000)
    output: Text = Field(default="", max_length=8192,
                        description="the end of the attempt's output, not sent yet: appended "
                                    "as `POST .../output` would, in the report's transaction")
    output_offset: StrictInt | None = Field(default=None, ge=0, le=2**53,
                                      description="where `output` starts in the attempt's "
                                                  "output, as `offset` of `POST .../output`")


class OutputChunk(Strict):
    lease_id: Name
    attempt: StrictInt = Field(ge=1, le=1000)
    text: Text = Field(max_length=48 * 1024)
    offset: StrictInt | None = Field(default=None, ge=0, le=2**53,
                               description="characters of the attempt's output sent before "
                                           "`text`: only the part the server does not hold "
                                           "yet is kept, so a chunk sent again is kept once")


FileName = Annotated[str, Field(min_length=1, max_length=100, pattern=FILE_NAME_PATTERN)]


class FileUpload(Strict):
    lease_id: Name
    attempt: StrictInt = Field(ge=1, le=1000)
    name: FileName
    media_type: str = Field(default="application/octet-stream", max_length=100,
                            pattern=r"^[a-z]+/[a-zA-Z0-9.+-]+$")
    content_base64: str = Field(max_length=8 * 1024 * 1024, pattern=r"^[A-Za-z0-9+/]*={0,2}$")


class FileInfo(BaseModel):
    attempt: int
    name: str
    media_type: str
    size: int


class FileList(BaseModel):
    files: list[FileInfo]


class ReleaseRequest(Strict):
    job_ids: list[Name] = Field(max_length=1000)


class DeviceStatus(Strict):
    name: Name
    state: Literal["idle", "installing", "running"]
    holds_app_version_id: AppVersionId | None = None
    current_job_id: Name | None = None
    lease_id: Name | None = None


class Heartbeat(Strict):
    devices: list[DeviceStatus] = Field(default_factory=list, max_length=256)


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
    seconds: StrictFloat = Field(ge=0, le=86400)
    ok: StrictBool = True
