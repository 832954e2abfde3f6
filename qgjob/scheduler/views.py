"""What a policy sees when a device asks for work, and what it answers.

The store builds these views from its tables; the simulator builds them from its own state in
virtual time. Both hand them to the same policy code, so what the benchmarks measure is what
the server does.

The unit of queued work is a *lane*: the queued jobs of one group from one org. Grouping is by
(app build, target), across orgs; lanes keep orgs apart inside a group so fair sharing can tell
whose work a device takes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

from qgjob.domain.values import MAX_PRIORITY, MIN_PRIORITY
from qgjob.scheduler.durations import DEFAULT_SECONDS

TOGETHER_COUNTED = 32
"""`ClaimContext.builds_together` and `builds_beside_oldest` count no further than this (a store
reads at most this many entries of its groups' newest-submit index)."""
RATE_COUNTED = 200
"""`ClaimContext.builds_recent` and `target_builds_recent`, the half hour's builds that set the
rate builds come in, count no further than this (one build every 9 s): past a count, the
rate it gives is a floor, and a busy fleet's chance coincidences would look like batches.
(A claim reads that many entries of an index at most: at 1,000 the benchmark's claims with
500 recent builds took 3-10 ms more.)"""
RECENT_SECONDS = 1800.0
"""`ClaimContext.builds_recent` counts the builds submitted within this many seconds, and
`installs_recent` the installs that ended within them."""
SPREAD_COUNTED = 2000
"""`ClaimContext.recent_builds` reads no more than this many of the newest builds (a store
reads at most this many entries of its groups' newest-submit index)."""


@dataclass(frozen=True)
class RecentBuild:
    """A build (a group) with a job submitted in the last `RECENT_SECONDS`: its expected work
    (its jobs at its target's typical test) and the most devices it could use (the lesser of
    its jobs and its target's online devices)."""

    work_seconds: float
    devices: int


@dataclass(frozen=True)
class LaneView:
    group_key: str
    org_id: str
    app_version_id: str
    target: str
    queued_by_priority: tuple[int, ...]
    """Queued jobs per priority; index 0 is priority 1."""
    head_submitted_at: float
    """Submit time of the lane's next job: the oldest of its highest-priority jobs."""
    oldest_submitted_at: float
    """Submit time of the lane's oldest queued job, whatever its priority."""
    expected_seconds: float
    """Expected test time of all its queued jobs (from learned durations)."""
    newest_submitted_at: float | None = None
    """Submit time of the lane's newest job (in any state): a build still being submitted had
    one moments ago. Every store fills it; None only in views built by hand (tests,
    benchmarks). Set by the replica that took the submit, so replicas' clocks should agree
    to well within `FairAffinityPolicy.arriving_seconds`."""

    @property
    def queued(self) -> int:
        return sum(self.queued_by_priority)

    @functools.cached_property
    def top_priority(self) -> int:
        for priority in range(MAX_PRIORITY, MIN_PRIORITY - 1, -1):
            if self.queued_by_priority[priority - 1]:
                return priority
        return MIN_PRIORITY

    @functools.cached_property
    def key(self) -> tuple[str, str]:
        return (self.group_key, self.org_id)


@dataclass(frozen=True)
class JobView:
    """A queued job of the chosen lane, for picking a batch."""

    job_id: str
    priority: int
    submitted_at: float
    expected_seconds: float
    attempts: int = 0
    last_device_id: str | None = None
    """Where its previous attempt ran; a retry prefers another device."""


@dataclass(frozen=True)
class RunningJob:
    """A job running on a device of the target, as a candidate for preemption."""

    job_id: str
    device_id: str
    group_key: str
    priority: int
    started_at: float


@dataclass(frozen=True)
class DeviceView:
    device_id: str
    target: str
    holds_app_version_id: str | None


@dataclass(frozen=True)
class OrgShare:
    """An org's standing on one target: how many devices work for it, its weight (from its
    tier) and its cap on concurrent devices, if any."""

    org_id: str
    devices: int
    weight: float = 1.0
    cap: int | None = None


@dataclass(frozen=True)
class GroupWork:
    """What the devices working on one group (other than the asking one) still hold."""

    app_version_id: str
    devices: int
    held_seconds: float
    """Expected seconds left: the rest of their running tests (expected duration minus time
    run so far, at least a quarter of that time), the unstarted jobs of their batches, and
    the rest of the install of a device that has started none of them yet."""


@dataclass(frozen=True)
class ClaimContext:
    device: DeviceView
    lanes: tuple[LaneView, ...]
    """Lanes of the device's target with queued jobs."""
    devices_per_group: dict[str, int]
    """Devices (other than this one) holding a batch of each group."""
    orgs: dict[str, OrgShare]
    """Orgs with queued or running work on this target."""
    target_devices: int
    """Online devices of this target, this one included."""
    idle_devices: int
    """Devices of this target waiting for work, this one included."""
    install_seconds: float
    """Expected time to install an app on a device of this target."""
    now: float
    default_weight: float = 1.0
    work: Mapping[str, GroupWork] = field(default_factory=dict)
    """Per group that other devices of the target work on: its app and what they still hold."""
    retry_due: Mapping[str, float] = field(default_factory=dict)
    """Per app on this target: when its next failed job comes back (after its retry backoff)."""
    idle_holds: frozenset[str] = frozenset()
    """Apps the target's other idle devices hold: each such device takes its app's work
    without an install."""
    typical_test_seconds: float = DEFAULT_SECONDS
    """The target's mean test time so far (every attempt seen there): the scale of its work."""
    last_submit_at: float | None = None
    """When the newest job was submitted, on any target (None before any)."""
    builds_together: int = 0
    """Builds on a target (groups: one app build on two targets counts twice), on any target,
    with a job submitted within one of this target's typical tests of the newest submit, of
    any state, counted up to `TOGETHER_COUNTED`: more than the rate builds come in would
    bring are a batch (a release run on every target, a nightly), where a stream brings one
    at a time. Read with a policy only, for a claim or for explaining the queue (0 in views
    for preemption)."""
    builds_beside_oldest: int = 0
    """Builds on this target (groups) whose newest job was submitted within one of its typical
    tests of its oldest queued job, either side, of any state, counted up to
    `TOGETHER_COUNTED`: many, and the target's queue is what is left of a batch (a nightly, a
    release run); few, and it grew out of builds that came one at a time. 0 with no queued
    work, and in views read without a policy (for preemption)."""
    target_builds_recent: int = 0
    """Builds on this target (groups) whose newest job was submitted in the last
    `RECENT_SECONDS`, of any state, counted up to `RATE_COUNTED`: the rate its builds come
    in, against which builds submitted together stand out. Read only with two or more
    `builds_beside_oldest` (0 otherwise)."""
    builds_recent: int | None = None
    """Builds on a target (groups), on any target, with a job submitted in the last
    `RECENT_SECONDS`, of any state, counted up to `RATE_COUNTED`: whether work streams in or a
    build came alone, and the rate against which builds submitted together stand out. Read
    with a policy only, for a claim or for explaining the queue (None in views for
    preemption)."""
    installs_recent: int | None = None
    """Installs that ended in the last `RECENT_SECONDS`, on any target (failed ones left out).
    Read for a claim's policy only when it prices installs (`Policy.weighs_installs`; None
    otherwise)."""
    recent_builds: tuple[RecentBuild, ...] | None = None
    """The builds (groups, on any target) with a job submitted in the last `RECENT_SECONDS`,
    newest first, up to `SPREAD_COUNTED`: what the half hour's installs were spent on. Read
    with `installs_recent`, None when that is."""
    drains: Mapping[str, float] = field(default_factory=dict)
    """Per target with queued work (this one among them): in how many seconds its devices are
    expected to run out of work -- its queued work and what its devices hold, over its online
    devices. Once submits pause, the target that drains last sets the makespan."""

    @functools.cached_property
    def queued_seconds(self) -> dict[str, float]:
        """Expected seconds of queued work per group (its lanes: one per org)."""
        totals: dict[str, float] = {}
        for lane in self.lanes:
            totals[lane.group_key] = totals.get(lane.group_key, 0.0) + lane.expected_seconds
        return totals

    @property
    def spread_installs_recent(self) -> int | None:
        """The installs spreading each of `recent_builds` over every device it could use would
        make -- what a job-by-job FIFO spends, about (it installs a build on each device that
        takes one of its jobs). None when the builds were not read."""
        if self.recent_builds is None:
            return None
        return sum(build.devices for build in self.recent_builds)

    def serves_app(self, app_version_id: str) -> bool:
        """Whether another device of the target works on a build of this app."""
        return any(work.devices and work.app_version_id == app_version_id
                   for work in self.work.values())


@dataclass(frozen=True)
class LaneChoice:
    group_key: str
    org_id: str


DEFAULT_INSTALL_SECONDS: dict[str, float] = {
    "emulator": 20.0, "device": 45.0, "browserstack": 60.0}
"""Per target (every one of qgjob.domain.values.TARGETS: tests/unit/test_values.py checks)."""


@dataclass(frozen=True)
class FleetRules:
    """Operator settings the views are built with: each org's weight (from its tier) and cap
    on concurrent devices, and install times to assume until installs have been measured."""

    org_weights: Mapping[str, float] = field(default_factory=dict)
    org_caps: Mapping[str, int] = field(default_factory=dict)
    default_weight: float = 1.0
    install_seconds: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_INSTALL_SECONDS))

    def share(self, org_id: str, devices: int) -> OrgShare:
        return OrgShare(org_id, devices, self.org_weights.get(org_id, self.default_weight),
                        self.org_caps.get(org_id))
