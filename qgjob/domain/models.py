"""Domain objects: what a job, a group, an agent and a device are, free of storage and HTTP."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from qgjob.domain.states import JobState
from qgjob.domain.values import TargetName

GROUP_KEY_SEPARATOR = "|"


@dataclass(frozen=True, order=True)
class GroupKey:
    """Jobs that share an app build on one kind of target; `org_id` is set when the server
    groups per org as well."""

    target: str
    app_version_id: str
    org_id: str | None = None

    def __str__(self) -> str:
        return self.text

    @functools.cached_property
    def text(self) -> str:
        """The key as stored (`target|app_version_id[|org_id]`)."""
        parts = [self.target, self.app_version_id]
        if self.org_id is not None:
            parts.append(self.org_id)
        return GROUP_KEY_SEPARATOR.join(parts)


def group_key_for(
    org_id: str, app_version_id: str, target: str, *, per_org: bool = False
) -> GroupKey:
    return GroupKey(
        target=target, app_version_id=app_version_id, org_id=org_id if per_org else None
    )


@dataclass(frozen=True)
class NewJob:
    """A job as submitted, before the store has seen it."""

    job_id: str
    org_id: str
    app_version_id: str
    test_path: str
    target: str
    priority: int
    max_attempts: int
    group: GroupKey
    created_at: float
    idempotency_key: str | None = None
    run_id: str | None = None
    """The run it belongs to (see qgjob/domain/runs.py), if any."""
    max_attempts_asked: bool = False
    """Whether the request named `max_attempts` (else the server's default was taken, which
    may have changed by the time a retry of the request comes back)."""

    def asks_otherwise_than(self, earlier: Job | NewJob) -> bool:
        """Whether this job, sent with the idempotency key of `earlier`, asks for something
        else: another test (build, path, target), priority, or a `max_attempts` it named."""
        return ((self.app_version_id, self.test_path, self.target, self.priority)
                != (earlier.app_version_id, earlier.test_path, earlier.target, earlier.priority)
                or (self.max_attempts_asked and self.max_attempts != earlier.max_attempts))

    @functools.cached_property
    def group_key(self) -> str:
        return str(self.group)


@dataclass(frozen=True)
class Job:
    job_id: str
    org_id: str
    app_version_id: str
    test_path: str
    target: str
    priority: int
    group_key: str
    state: JobState
    attempts: int
    max_attempts: int
    infra_failures: int
    created_at: float
    updated_at: float
    started_at: float | None = None
    finished_at: float | None = None
    retry_at: float | None = None
    lease_id: str | None = None
    agent_name: str | None = None
    device_id: str | None = None
    cancel_requested: bool = False
    flaky: bool = False
    error: str | None = None
    expected_seconds: float = 60.0
    """The learned duration of its test when it was (last) priced."""
    last_device_id: str | None = None
    """Where its previous attempt ran; a retry prefers another device."""
    preemptions: int = 0
    """Attempts stopped to make room for urgent work (not the test's fault)."""
    preempt_requested: bool = False

    @property
    def charged_attempts(self) -> int:
        """Attempts that count against `max_attempts`: lost devices, hand-backs and
        preemptions do not."""
        return self.attempts - self.infra_failures - self.preemptions


@dataclass(frozen=True)
class Attempt:
    job_id: str
    attempt: int
    device_id: str
    agent_name: str
    started_at: float
    finished_at: float | None
    outcome: str | None
    error: str | None
    note: str | None = None
    """Why it led where it did, when that is not plain (e.g. why it was not retried)."""


@dataclass(frozen=True)
class DeviceSpec:
    """A device as an agent announces it."""

    name: str
    target: TargetName
    holds_app_version_id: str | None = None


@dataclass(frozen=True)
class DeviceUsage:
    """Seconds a device spent running attempts, installing and idle while its agent was
    online (counted by the maintenance pass from the attempt and install records), and the
    idle seconds in which its target had queued work while the device was in rotation: the
    scheduling waste."""

    busy_seconds: float = 0.0
    installing_seconds: float = 0.0
    idle_seconds: float = 0.0
    idle_waiting_seconds: float = 0.0

    @property
    def counted_seconds(self) -> float:
        return self.busy_seconds + self.installing_seconds + self.idle_seconds

    def share(self, seconds: float) -> float | None:
        """`seconds` as a share of the counted time; None before any was counted."""
        total = self.counted_seconds
        return seconds / total if total > 0 else None

    def __add__(self, other: DeviceUsage) -> DeviceUsage:
        return DeviceUsage(self.busy_seconds + other.busy_seconds,
                           self.installing_seconds + other.installing_seconds,
                           self.idle_seconds + other.idle_seconds,
                           self.idle_waiting_seconds + other.idle_waiting_seconds)


@dataclass(frozen=True)
class Device:
    device_id: str
    agent_name: str
    name: str
    target: str
    state: str
    holds_app_version_id: str | None
    current_job_id: str | None
    last_seen_at: float
    disabled_reason: str | None = None
    """Why the device is out of rotation (repeated failures, or by hand); None while in it.
    `qgjob devices enable` puts it back."""
    disabled_at: float | None = None
    failure_streak: int = 0
    """Failed installs and lost attempts in a row."""
    usage: DeviceUsage = field(default_factory=DeviceUsage)


@dataclass(frozen=True)
class Agent:
    agent_id: str
    name: str
    version: str
    executor: str
    registered_at: float
    last_seen_at: float
    state: str
    devices: tuple[Device, ...] = field(default=())
    draining_since: float | None = None
    """Set while the agent is drained: it finishes what it runs and takes no new work."""


@dataclass(frozen=True)
class Lease:
    lease_id: str
    agent_id: str
    device_id: str
    group_key: str
    org_id: str
    expires_at: float


@dataclass(frozen=True)
class Batch:
    """What a claim hands a device: a few jobs of one group under one lease."""

    lease: Lease
    app_version_id: str
    target: str
    jobs: tuple[Job, ...]


@dataclass(frozen=True)
class GroupSummary:
    group_key: str
    app_version_id: str
    target: str
    org_id: str | None
    counts: dict[str, int]
    job_ids: tuple[str, ...]


@dataclass(frozen=True)
class CaseResult:
    """One test case of an attempt, as the test runner reported it."""

    title: str
    status: str
    """passed, failed, skipped, flaky or timed-out."""
    duration_seconds: float
    error: str | None = None
    file: str | None = None


@dataclass(frozen=True)
class AttemptFile:
    """A report file an attempt produced (Playwright's JSON, JUnit XML, …)."""

    name: str
    media_type: str
    content: bytes


@dataclass(frozen=True)
class OutputSlice:
    """Part of an attempt's output, from `offset` on; `next_offset` continues it."""

    attempt: int
    text: str
    offset: int
    next_offset: int
    dropped: int
    """Characters dropped from the front (only the last 1 MiB is kept)."""
    finished: bool
