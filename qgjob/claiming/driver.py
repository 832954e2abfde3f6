"""The named operations the claim path needs from a store, inside one write transaction.

SQLite and PostgreSQL implement them with their named queries (`store/sql/claim_driver.py`);
the simulator implements them over dictionaries (`claiming/memory.py`). The logic above them,
`claiming/path.py`, is written once, so the simulator runs what the server runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from qgjob.domain.models import Job, Lease
from qgjob.domain.states import JobState
from qgjob.scheduler.durations import DurationStats, TargetPrior
from qgjob.scheduler.views import JobView, LaneView, RunningJob


def estimate(seconds: float) -> float:
    """Expected seconds as the policy sees them: never negative, to the millisecond. Counters
    kept by adding and subtracting drift in their last bits, differently in each store."""
    return round(max(seconds, 0.0), 3)


LaneSeconds = tuple[str, str, float]
"""A lane's group, org and expected seconds (as `estimate` gives them): what a target's drain
needs of each lane."""


@dataclass(frozen=True)
class DeviceRow:
    device_id: str
    agent_id: str
    agent_name: str
    target: str
    state: str
    holds_app_version_id: str | None
    resting: str | None = None
    """Why the device takes no work now (its agent drains, or it is out of rotation);
    None while it takes work."""


@dataclass(frozen=True)
class LeaseRow:
    lease_id: str
    device_id: str
    expires_at: float
    jobs_started: int


@dataclass(frozen=True)
class HeldJob:
    """A job in another device's live batch: what the policy counts as work in progress."""

    lease_id: str
    group_key: str
    org_id: str
    app_version_id: str
    job_id: str
    state: JobState
    expected_seconds: float
    """What the job was priced with when submitted (or last re-priced)."""
    started_at: float | None
    """When its running attempt started (None until it starts)."""
    learned_seconds: float | None
    """Its test's learned mean now, if the test has run before."""
    installing_since: float | None = None
    """When its device began installing the build's app (the batch's claim), while that
    install still runs: none of the batch's jobs has started yet. None otherwise."""


class ClaimDriver(Protocol):
    # devices ----------------------------------------------------------------------------------
    def device(self, agent_id: str, name: str) -> DeviceRow | None: ...
    def device_by_id(self, device_id: str) -> DeviceRow | None: ...
    def set_device(self, device: DeviceRow, state: str, holds: str | None, now: float) -> None:
        """The device's state and the app it holds, as the claim path knows them."""
    def device_running(self, device_id: str, job: Job, now: float) -> None:
        """The device runs `job` (so it holds the job's app)."""
    def device_done(self, device_id: str, job_id: str, now: float) -> None: ...

    # what the policy sees ---------------------------------------------------------------------
    def ready_lanes(self, target: str) -> list[LaneView]:
        """Lanes of the target with queued jobs, in any order, their expected seconds as
        `estimate` gives them."""
    def queued_lane_seconds(self, target: str) -> list[LaneSeconds]:
        """Of the same lanes, only their group, org and expected seconds (as `ready_lanes`
        gives them): what a target's drain needs, without building each lane's view."""
    def held_jobs(self, target: str, device_id: str, now: float) -> list[HeldJob]:
        """Assigned and running jobs of the target's live leases but the device's own."""
    def device_counts(self, target: str, now: float, max_age: float) -> tuple[int, int]:
        """Online devices of the target, and how many of them are idle: counted at most
        `max_age` seconds before `now` (a store may keep a count that long)."""
    def idle_holds(self, target: str, device_id: str) -> set[str]:
        """Apps held by the target's other idle online devices."""
    def install_seconds(self, target: str) -> float | None:
        """What recent installs on the target took, or None before any."""
    def retries_due(self, target: str) -> dict[str, float]:
        """Per app: when its next failed job on the target comes back."""
    def lane_candidates(self, group_key: str, org_id: str, limit: int) -> list[JobView]:
        """The lane's next queued jobs in claim order."""
    def targets_with_work(self) -> list[str]: ...
    def last_submit_at(self) -> float | None:
        """When the newest job was submitted, on any target (None before any)."""
    def builds_submitted_since(self, since: float, limit: int) -> int:
        """How many groups (builds on a target, any target) had a job, of any state, submitted
        at or after `since`, counted up to `limit`."""
    def builds_submitted_between(self, target: str, start: float, end: float, limit: int
                                 ) -> int:
        """How many of the target's groups had their newest job submitted from `start` to
        `end` (both included), counted up to `limit`."""
    def builds_since(self, since: float, limit: int) -> list[tuple[str, int]]:
        """Each group (any target) with a job, of any state, submitted at or after `since`:
        its target and how many jobs it has, the newest `limit` groups at most."""
    def installs_since(self, since: float) -> int:
        """How many installs ended at or after `since`, on any target."""
    def running_jobs(self, target: str) -> list[RunningJob]: ...

    # jobs, leases and attempts ----------------------------------------------------------------
    def job(self, job_id: str) -> Job | None:
        """The job, locked for the rest of the transaction."""
    def save_job(self, job: Job) -> None:
        """Write a job's mutable fields (its lane's counters follow its state)."""
    def assign(self, job_ids: Sequence[str], lease_id: str, device: DeviceRow,
               now: float) -> list[Job]:
        """Move those of the jobs still queued into the lease; returns them."""
    def insert_lease(self, lease: Lease, target: str, now: float) -> None: ...
    def lease(self, lease_id: str) -> LeaseRow | None: ...
    def expire_device_leases(self, device_id: str, now: float) -> None: ...
    def jobs_of_lease(self, lease_id: str, running_too: bool) -> list[Job]:
        """Its assigned jobs (and running ones with `running_too`)."""
    def count_lease_start(self, lease_id: str) -> None: ...
    def drop_lease_if_done(self, lease_id: str) -> None: ...
    def request_preemption(self, job_id: str, now: float) -> bool: ...
    def promote_due_retries(self, now: float, limit: int) -> list[Job]: ...
    def start_attempt(self, job: Job, now: float) -> None:
        """Record attempt `job.attempts` as started on the job's device."""
    def attempt_outcome(self, job_id: str, attempt: int) -> tuple[str | None, float] | None:
        """The recorded attempt's outcome (None while it runs) and start time."""
    def finish_attempt(self, job_id: str, attempt: int, outcome: str, error: str | None,
                       now: float) -> None: ...

    # durations --------------------------------------------------------------------------------
    def test_duration(self, org_id: str, test_path: str, target: str) -> DurationStats | None: ...
    def test_elsewhere(self, org_id: str, test_path: str, target: str) -> list[float]:
        """The test's learned means on the org's other targets."""
    def target_prior(self, target: str) -> TargetPrior: ...
    def save_durations(self, org_id: str, test_path: str, target: str, stats: DurationStats,
                       prior: TargetPrior) -> None: ...
    def reprice_queued(self, org_id: str, test_path: str, target: str, seconds: float) -> None:
        """Queued jobs of the test are priced with `seconds` from now on."""
    def reprice_unseen(self, target: str, seconds: float) -> None:
        """Queued jobs on the target of tests their org never ran on any target, priced below
        `seconds`, are priced with it from now on."""


class Transactions(Protocol):
    def write(self) -> AbstractContextManager[ClaimDriver]:
        """One write transaction: committed when the block ends, rolled back on an error."""

    def read(self) -> AbstractContextManager[ClaimDriver]:
        """A read-only transaction (only the reading operations may be used)."""
