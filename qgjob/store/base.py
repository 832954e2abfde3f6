"""The storage interface the service depends on. SQLite and PostgreSQL implement it and pass
one contract test suite (tests/store/).

Every method that changes state runs in one transaction. Where a change needs a decision
(which group a device gets, what a failed attempt leads to), the caller passes the pure
decision function and the store calls it inside that transaction, on the state it has just
read, so a decision is never made on stale data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from qgjob.auth.tokens import ApiToken
from qgjob.domain.attempts import Outcome, Verdict
from qgjob.domain.health import Quarantined, TestHealthRow, TestQuery
from qgjob.domain.history import Recording, Timeline
from qgjob.domain.listing import JobOrder, JobPosition
from qgjob.domain.models import (
    Agent,
    Attempt,
    AttemptFile,
    Batch,
    CaseResult,
    DeviceSpec,
    GroupSummary,
    Job,
    NewJob,
    OutputSlice,
)
from qgjob.domain.repeats import FailureEvidence
from qgjob.domain.runs import NewRun, Position, Run
from qgjob.domain.states import JobState
from qgjob.domain.stats import OrgStats
from qgjob.scheduler.protocol import Policy
from qgjob.scheduler.views import ClaimContext, FleetRules, LaneChoice


class StoreError(Exception):
    """Base of the errors a store raises for a request that cannot be applied."""


class NotFound(StoreError):
    pass


class UnknownAgent(NotFound):
    code = "unknown_agent"


class UnknownDevice(NotFound):
    code = "unknown_device"


class RegisterAgain(NotFound):
    """The agent session, or its device, is not (any more) known: the agent must register
    again."""

    code = "register_again"


class Conflict(StoreError):
    """The request does not fit the current state (finished job, lost lease, …)."""


class IdempotencyKeyReused(Conflict):
    """An idempotency key of the org already names a job or run made from another request: a
    retry must send what it sent first, so the key cannot quietly stand for something else."""

    code = "idempotency_key_reused"

    def __init__(self, key: str, kind: str, earlier_id: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} was already used for another {kind} "
                         f"({earlier_id})")


class JobFinished(Conflict):
    """The job has finished (completed, failed or cancelled): there is nothing to cancel."""

    code = "job_finished"


class RunFinished(Conflict):
    """The run has finished: nothing is left to cancel, or (RunCancelled) it takes no new
    jobs."""

    code = "run_finished"


class RunCancelled(RunFinished):
    """Jobs submitted into a run that was cancelled (`Run.was_cancelled`): refused."""

    def __init__(self, run: Run) -> None:
        super().__init__(f"run {run.run_id!r} was cancelled ({run.status}): it takes no new "
                         "jobs; submit them into a new run")


class WrongTarget(Conflict):
    """A device asked for work or reported an install for another target than the one it
    registered with."""

    def __init__(self, device_name: str, registered: str, asked: str) -> None:
        super().__init__(f"device {device_name!r} is registered for target {registered!r}, "
                         f"not {asked!r}")


class LeaseLost(Conflict):
    """The job is no longer held under the caller's lease: it was rescued, cancelled or
    handed to another device. The caller must drop it."""


class OutputGap(Conflict):
    """A chunk of output said it starts past the end of what the attempt holds: stored, it
    would close the gap silently. The sender sends again from `held`."""

    code = "output_gap"

    def __init__(self, offset: int, held: int) -> None:
        super().__init__(f"the output chunk starts at {offset}, past the {held} characters "
                         f"the attempt holds: send again from offset {held}")
        self.held = held


class AgentNameInUse(Conflict):
    """Another live agent session holds the name an agent registers under."""


class AgentOnline(Conflict):
    """The agent is live: it cannot be forgotten while its process runs."""

    code = "agent_online"


class DeviceNameAmbiguous(Conflict):
    """Devices of several agents have the name given: the caller must say which."""

    code = "device_ambiguous"


class StoreUnavailable(StoreError):
    """The database cannot be reached, or lost the connection mid-transaction (whether that
    transaction committed is unknown). Callers retry, idempotently."""


class WritesRefused(StoreUnavailable):
    """The database takes no writes now (disk full, I/O errors, read-only): nothing of this
    transaction was stored. Reads still work, and writes succeed again once the cause is
    gone; callers retry later."""


@dataclass(frozen=True)
class WriteRefusal:
    """Why and since when (Unix time) the database has been refusing writes."""

    since: float
    reason: str


class Yielded(Conflict):
    """Urgent work waits: the rest of the batch went back to the queue, and the device should
    ask for work again instead of starting this job."""


@dataclass(frozen=True)
class JobFilter:
    org_id: str | None = None
    states: frozenset[JobState] | None = None
    app_version_id: str | None = None
    target: str | None = None
    job_ids: tuple[str, ...] | None = None
    limit: int = 50
    app_version_id_contains: str | None = None
    """Builds whose id holds this text, any case."""
    search: str | None = None
    """Jobs whose build id or test path holds this text, any case."""
    order: JobOrder = "newest"
    after: JobPosition | None = None
    """Continue after this job of an earlier page (in the same order)."""


@dataclass(frozen=True)
class RunFilter:
    org_id: str | None = None
    app_version_id: str | None = None
    status: str | None = None
    """A run status (qgjob/domain/runs.py); derived, so it is matched after reading."""
    limit: int = 50
    after: Position | None = None


@dataclass(frozen=True)
class RunPage:
    runs: list[Run]
    next_after: Position | None
    """Set when more runs may match: ask again with `after` set to it."""


@dataclass(frozen=True)
class DeviceReport:
    """One device's state in an agent's heartbeat."""

    name: str
    state: str
    holds_app_version_id: str | None = None
    current_job_id: str | None = None
    lease_id: str | None = None
    """The batch the device works on; its lease is extended only while the device says so."""


@dataclass(frozen=True)
class HeartbeatAck:
    known: bool
    """False when the server does not know the agent (e.g. its database was replaced):
    the agent must register again."""
    cancel_job_ids: tuple[str, ...] = ()
    lease_expires_at: float | None = None
    preempt_job_ids: tuple[str, ...] = ()
    """Running jobs to stop and report `preempted`: urgent work needs their devices."""


@dataclass(frozen=True)
class QueueCount:
    priority: int
    target: str
    org_id: str
    queued: int
    running: int


@dataclass(frozen=True)
class Transitioned:
    """A job changed state; the service uses these to wake claimers and count outcomes."""

    before: Job
    after: Job
    attempt_seconds: float | None = None
    """How long the attempt ran, when this change finished one."""


@dataclass(frozen=True)
class ClaimResult:
    batch: Batch | None
    context: ClaimContext | None = None
    choice: LaneChoice | None = None
    look_again_at: float | None = None
    """With no batch: when the policy's answer may change though nothing happens
    (`Policy.looks_again_at`)."""


@dataclass(frozen=True)
class AgentOwner:
    """Who registered an agent session: an agent token acts only on its own sessions."""

    agent_id: str
    name: str
    token_id: str | None
    """None when it registered without a token (none were configured then)."""
    last_seen_at: float | None = None
    """Its last registration or heartbeat."""


HolderCheck = Callable[[AgentOwner | None], None]
"""Given a name's online session in the registration's own transaction (None when nobody
holds it), it raises to refuse the take-over (`AgentStore.register_agent`)."""


DecideAttempt = Callable[[Job], Verdict]
WakeUp = Callable[[str, str, int], None]
"""`wake(target, app_version_id, count)`: that many jobs of one build became queued."""


class Lifecycle(Protocol):
    """Opening, migrating and checking the database."""

    def migrate(self) -> None: ...
    def close(self) -> None: ...
    def ping(self) -> None: ...
    def schema_version(self) -> int: ...
    def write_refusal(self) -> WriteRefusal | None:
        """Whether the database refuses writes now, as the last write found (None: it took
        it). While it refuses, this tries a small write of its own now and then, so it
        clears once the cause is gone even when nobody else writes."""
        ...


class JobStore(Protocol):
    """Submitting, reading and cancelling jobs; the queue as it stands."""

    def insert_jobs(self, jobs: Sequence[NewJob]) -> list[Job]:
        """Store all, or none. A job whose idempotency key its org already used comes back as
        the job stored then; a key reused for a different job raises Conflict. A new job
        into a run that was cancelled raises RunCancelled (checked in the same transaction,
        so a concurrent `cancel_run` of that run either cancels it too or makes it refused)."""
        ...
    def get_job(self, job_id: str) -> Job | None: ...
    def list_jobs(self, query: JobFilter) -> list[Job]: ...
    def jobs_ahead_in_lane(self, job: Job) -> int:
        """How many queued jobs of the job's lane a claim takes before it."""
        ...
    def cancel_job(self, job_id: str, now: float) -> Transitioned: ...
    def groups(self, include_finished: bool, limit: int) -> list[GroupSummary]: ...
    def queue_counts(self) -> list[QueueCount]: ...
    def queued_jobs_of_org(self, org_id: str) -> int:
        """How many of the org's jobs wait in the queue (`queued`, not yet in a batch)."""
        ...
    def queue_views(self, now: float, rules: FleetRules, target: str | None = None,
                    policy: Policy | None = None) -> list[ClaimContext]:
        """The policy's view of each target with queued work, or of `target` alone (for
        explaining the queue); with `policy`, read as an idle device's claim would read it."""
        ...


class RunStore(Protocol):
    """Runs: the jobs of one `qgjob run` or batch submit as one thing (qgjob/store/sql/runs.py).
    Their counts and status are read from their jobs."""

    def insert_run(self, run: NewRun, jobs: Sequence[NewJob] = ()
                   ) -> tuple[Run, list[Job], bool]:
        """Store the run and its first jobs (which name it), all or none; the run, its jobs
        and whether this call stored them. A run whose org already used its idempotency key
        comes back as stored then, with its jobs, and nothing new is stored."""
        ...
    def get_run(self, run_id: str) -> Run | None: ...
    def list_runs(self, query: RunFilter) -> RunPage: ...
    def run_jobs(self, run_id: str) -> list[Job]:
        """The run's jobs, by test file."""
        ...
    def run_cases(self, run_id: str) -> dict[str, list[CaseResult]]:
        """Per job: the per-test results of its last attempt that reported any."""
        ...
    def cancel_run(self, run_id: str, now: float) -> list[Transitioned]:
        """Mark the run cancelled (`Run.cancelled_at`, the first cancel's time is kept: it
        takes no new jobs from then on) and cancel every job of it that has not finished, in
        one transaction (serialised against submits into the run: see `insert_jobs`)."""
        ...


class AgentStore(Protocol):
    """Agent sessions and their devices."""

    def register_agent(
        self, agent_id: str, name: str, version: str, executor: str,
        devices: Sequence[DeviceSpec], now: float, token_id: str | None = None,
        holder_check: HolderCheck | None = None,
    ) -> Agent:
        """`token_id`: the API token the session registered with, recorded for
        `agent_owner`. `holder_check` is given the name's online session (as
        `online_agent_owner` finds it) in the same transaction, one registration of a name at
        a time, and may raise to refuse the take-over: a check made before would let two
        registrations at once both pass it."""
        ...
    def list_agents(self) -> list[Agent]: ...
    def sign_off(self, agent_id: str) -> bool:
        """The agent session stopped (after handing back its work): offline, its name free,
        and ended: its claims and installs raise RegisterAgain, its heartbeats are unknown.
        Its leases are left to run out. Whether a session ended now (False for one
        that had ended already, or never was: a sign-off sent again changes nothing)."""
        ...
    def heartbeat(
        self, agent_id: str, devices: Sequence[DeviceReport], now: float, lease_seconds: float
    ) -> HeartbeatAck: ...
    def record_install(
        self, agent_id: str, device_name: str, app_version_id: str, target: str,
        started_at: float, finished_at: float, ok: bool, failure_limit: int = 0,
    ) -> str | None:
        """A failed install of a build that installed before (on any device) counts against
        the device: at `failure_limit` such installs and lost attempts in a row (0: never)
        it leaves the rotation, and the reason is returned. A successful one resets the
        count. A build that never installed may be what is broken: it counts for nothing."""
        ...


class ClaimStore(Protocol):
    """The claim path: batches handed to devices, and the attempts they run."""

    def claim_batch(
        self, agent_id: str, device_name: str, holds_app_version_id: str | None,
        now: float, lease_seconds: float, policy: Policy, rules: FleetRules,
        target: str | None = None,
    ) -> ClaimResult:
        """Choose and lease a batch for the device. With `target`, a device registered for
        another target is refused (Conflict) before anything changes."""
        ...
    def start_attempt(
        self, job_id: str, lease_id: str, now: float, policy: Policy, rules: FleetRules
    ) -> Job:
        """Start the job's next attempt; raises Yielded (after handing the rest of the batch
        back) when the policy says more urgent work should cut in."""
        ...
    def finish_attempt(
        self, job_id: str, lease_id: str, attempt: int, outcome: Outcome, error: str | None,
        now: float, decide: DecideAttempt, cases: Sequence[CaseResult] = (),
        last_output: str = "", output_offset: int | None = None,
    ) -> Transitioned:
        """Apply the verdict and keep the per-test results and the end of the output (as
        `append_output` would, at `output_offset`); passed and failed attempts also teach the
        duration model. A report delivered again changes nothing."""
        ...


class AttemptRecords(Protocol):
    """What attempts leave behind: output and files (only the running attempt, under its
    lease, may write)."""

    def append_output(self, job_id: str, lease_id: str, attempt: int, text: str,
                      offset: int | None = None) -> None:
        """Append `text`; with `offset` (where `text` starts in the attempt's output) only
        the part not held yet, so a chunk sent again is kept once. An `offset` past what the
        attempt holds is OutputGap."""
        ...
    def save_file(self, job_id: str, lease_id: str, attempt: int, file: AttemptFile) -> None: ...
    def read_output(self, job_id: str, attempt: int | None, offset: int
                    ) -> OutputSlice | None: ...
    def last_cases(self, job_id: str) -> list[CaseResult]: ...
    def list_files(self, job_id: str) -> list[tuple[int, str, str, int]]: ...
    def read_file(self, job_id: str, attempt: int, name: str) -> AttemptFile | None: ...
    def release_jobs(self, lease_id: str, job_ids: Sequence[str], now: float) -> list[Job]: ...
    def lease_agent(self, lease_id: str) -> str | None:
        """The agent session a lease was handed to (None once the lease has ended)."""
        ...


class Maintenance(Protocol):
    """What the leading replica does on a timer."""

    def leads_maintenance(self) -> bool:
        """Whether this server runs maintenance now: one replica of those sharing a
        database does."""
        ...
    def watch_work(self, wake: WakeUp) -> None:
        """Have `wake(target, app_version_id, count)` called (from another thread) when work
        is queued through other servers sharing the database."""
        ...
    def rescue_expired_leases(self, now: float, decide: DecideAttempt,
                              failure_limit: int = 0) -> list[Transitioned]:
        """A running attempt rescued is lost: it counts against its device as a failed
        install does (see `record_install`)."""
        ...
    def promote_due_retries(self, now: float) -> list[Job]: ...
    def mark_agents_offline(self, seen_before: float, now: float) -> list[str]: ...
    def grant_restart_grace(self, now: float, lease_seconds: float,
                            quiet_seconds: float) -> int:
        """At server start: every lease gets at least one more term (agents kept working
        while the server was down), unless some agent was heard from in the last
        `quiet_seconds` (other replicas kept serving); returns how many were extended."""
        ...
    def preempt_for_urgent_work(
        self, now: float, policy: Policy, rules: FleetRules
    ) -> list[str]:
        """Ask agents to stop the running jobs the policy picks for urgent work no device
        serves; returns their ids."""
        ...


class FleetStore(Protocol):
    """Fleet operations: draining agents, devices in and out of rotation, device time,
    recorded history (qgjob/store/sql/fleet.py)."""

    def drain_agent(self, name: str, now: float) -> list[Job]:
        """The agent named `name` (across restarts) takes no new work until undrained; what
        its batches hold unstarted goes back to the queue (returned). NotFound if unknown."""
        ...
    def undrain_agent(self, name: str) -> bool:
        """Whether it was drained; NotFound if unknown."""
        ...
    def remove_agent(self, name: str, now: float, offline_seconds: float) -> None:
        """Forget an offline agent and its devices (their history stays); AgentOnline if it
        was heard from in the last `offline_seconds`, NotFound if unknown."""
        ...
    def enable_device(self, device_id: str) -> None:
        """Back in rotation, its failure count reset; NotFound if unknown."""
        ...
    def count_device_time(self, now: float, max_step: float) -> None:
        """Add each online device's seconds since last counted (at most `max_step`) to the
        totals of DeviceUsage, from the attempt and install records overlapping them (the
        ones the timeline shows), idle being the rest."""
        ...
    def recording(self, since: float, until: float) -> Recording:
        """Jobs submitted since `since`, their attempts, install times and devices."""
        ...


class HistoryStore(Protocol):
    """Read-only views for people looking at the system."""

    def job_attempts(self, job_id: str) -> list[Attempt]:
        """The job's attempts, first first (empty for an unknown job)."""
        ...
    def timeline(self, since: float, until: float, limit: int) -> Timeline:
        """Installs and attempts on every device that overlap [since, until]."""
        ...
    def state_counts(self) -> dict[JobState, int]:
        """Jobs in each stored state, every state present."""
        ...
    def change_marker(self) -> tuple[object, ...]:
        """A cheap value that differs whenever jobs, devices, installs or agents changed or a
        run was cancelled."""
        ...


class TokenStore(Protocol):
    """API tokens (the secret is never stored: only its SHA-256) and who owns what, for
    authorization."""

    def insert_token(self, token: ApiToken) -> None: ...
    def get_token(self, token_id: str) -> ApiToken | None: ...
    def list_tokens(self) -> list[ApiToken]:
        """Every token, revoked ones included, oldest first."""
        ...
    def revoke_token(self, token_id: str, now: float) -> ApiToken:
        """Revoke (a no-op if revoked before); raises NotFound for an unknown id."""
        ...
    def count_active_tokens(self) -> int: ...
    def touch_token(self, token_id: str, now: float) -> None:
        """Record when a token was last used."""
        ...
    def agent_owner(self, agent_id: str) -> AgentOwner | None:
        """The agent session and the token it registered with; None if no such session."""
        ...
    def online_agent_owner(self, name: str) -> AgentOwner | None:
        """The newest online session registered under `name`, if any (registering under its
        name would replace it)."""
        ...
    def org_groups(self, org_id: str, include_finished: bool, limit: int) -> list[GroupSummary]:
        """Like `groups`, restricted to the groups holding jobs of `org_id`, with only those
        jobs in `job_ids` and `counts` (what a submitter of that org may see)."""
        ...


class TestHealthStore(Protocol):
    """Per-test history, quarantine and per-org statistics, kept as attempts finish (see
    qgjob/domain/health.py)."""

    def test_health(self, query: TestQuery) -> list[TestHealthRow]: ...
    def failure_evidence(self, job_id: str, flaky_threshold: float) -> FailureEvidence:
        """What the job's test did on its build before: for deciding whether to retry."""
        ...
    def prune_test_history(self, before: float) -> int:
        """Forget tests and builds not seen since `before`; how many rows went."""
        ...
    def roll_up_org_hours(self, before: float) -> int:
        """Fold the per-org statistics of whole days before `before` into one row per day;
        how many hour rows went."""
        ...
    def quarantine_test(self, org_id: str, test_path: str, reason: str | None,
                        added_by: str | None, now: float) -> tuple[Quarantined, bool]:
        """The entry, and whether this call made it (False: it was there already; it then
        takes `reason` unless that is None)."""
        ...
    def unquarantine_test(self, org_id: str, test_path: str) -> bool: ...
    def quarantined_tests(self, org_id: str | None, limit: int) -> list[Quarantined]: ...
    def org_stats(self, org_id: str | None, since: float) -> list[OrgStats]:
        """Per org (one, or every org with activity): jobs finished, attempts, device time
        and queue waits, over the hours from `since`'s on."""
        ...


class Store(Lifecycle, JobStore, RunStore, AgentStore, ClaimStore, AttemptRecords, Maintenance,
            FleetStore, HistoryStore, TokenStore, TestHealthStore, Protocol):
    """Everything a server needs of its database. Code that needs less depends on the part
    it uses (auth on TokenStore, metrics on HistoryStore and JobStore, ...); the service is
    the one place that combines them."""
