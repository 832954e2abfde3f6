"""The scheduling policy: which lane an idle device works on next, which of its jobs, and when a
device should hand back the rest of its batch so urgent work can cut in.

For a device that asks for work:

1. Fair share between orgs. On each target an org is entitled to devices in proportion to its
   weight (its tier) among the orgs with work there; an org short of its entitlement by a whole
   device is *starved* and is served first, if this device helps it. Orgs at their cap wait.
   A flood from one org cannot keep a newly arrived org waiting, whatever priority it carries.
2. Affinity. The device keeps the app it holds while that app has work: no install. Only work
   `cut_in_levels` more urgent takes it away.
3. Urgency. A lane's band is its top priority plus one level per `aging_seconds` its next job
   has waited, so low priority never starves. The most urgent band that can use the device
   wins; the policy is work-conserving, so when urgent work does not need this device it falls
   back to its own app, then to less urgent lanes.
4. The oldest build that gains from one more device: one nobody works on, or one whose
   unclaimed work still gives each device `split_factor` installs' worth (counting
   `leave_installs` installs if the device leaves unfinished work of its own). Builds that
   arrived within `simultaneous_seconds` of the oldest count as simultaneous, and among them the
   one that would finish last (most remaining work per device) goes first. Helpers wait until
   a build is `settle_seconds` old, so a burst of submissions spreads over all its builds
   instead of piling onto the first one. A device that would otherwise idle helps wherever
   each device keeps `idle_split_factor` installs' worth: its time is free.

Within a lane it hands over a small batch: the most urgent jobs first, a retry preferably on
another device than its last attempt, long tests early (a long test started last stretches the
build), and no more than `batch_seconds` of expected work, `max_batch` jobs, or a fair part of
the lane. Between two jobs of a batch the device hands the rest back when no device is idle
and the policy would send it to work `cut_in_levels` more urgent: urgent work cuts in at job
boundaries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from qgjob.scheduler.views import ClaimContext, JobView, LaneChoice, LaneView, RunningJob


class Policy(Protocol):
    @property
    def name(self) -> str: ...

    def choose_lane(self, ctx: ClaimContext) -> LaneChoice | None:
        """The lane the device should work on next, or None to stay idle."""
        ...

    def choose_jobs(
        self, ctx: ClaimContext, lane: LaneView, candidates: Sequence[JobView]
    ) -> list[str]:
        """The batch: ids out of `candidates` (the lane's next jobs), in running order."""
        ...

    def should_yield(self, ctx: ClaimContext, next_job: JobView) -> bool:
        """Between two jobs of a batch: hand the rest back so the device can take more
        urgent work?"""
        ...


@dataclass(frozen=True)
class FairAffinityPolicy:
    aging_seconds: float = 1200.0
    cut_in_levels: int = 2
    split_factor: float = 3.0
    leave_installs: float = 3.0
    """What leaving unfinished work costs, in installs: the new app, the old one again later,
    and the broken stride of the build left behind."""
    idle_split_factor: float = 2.0
    simultaneous_seconds: float = 60.0
    settle_seconds: float = 10.0
    batch_seconds: float = 90.0
    max_batch: int = 4
    preemption: bool = False
    """Hard preemption (off by default): urgent work with no device may stop a running job of
    priority `preemptible_priority` or lower, which is requeued without spending an attempt."""
    urgent_priority: int = 5
    preemptible_priority: int = 2
    name: str = "qgjob"

    def band(self, priority: int, submitted_at: float, now: float) -> int:
        return priority + int(max(now - submitted_at, 0.0) // self.aging_seconds)

    def lane_band(self, lane: LaneView, now: float) -> int:
        return self.band(lane.top_priority, lane.head_submitted_at, now)

    # which lane -------------------------------------------------------------------------------

    def choose_lane(self, ctx: ClaimContext) -> LaneChoice | None:
        lanes = [lane for lane in ctx.lanes if not _capped(ctx, lane.org_id)]
        starved = _starved_orgs(ctx)
        leaves_work = any(lane.app_version_id == ctx.device.holds_app_version_id
                          for lane in lanes)
        chosen = self._choose_among([lane for lane in lanes if lane.org_id in starved], ctx,
                                    leaves_work)
        if chosen is None:
            chosen = self._choose_among(lanes, ctx, leaves_work)
        if chosen is None and lanes:
            # Nothing is worth an install by the usual measure, and the device would idle: its
            # time is free, so it helps wherever one more device still shortens a build.
            chosen = self._oldest_gaining(lanes, ctx, leaves_work=False,
                                          factor=self.idle_split_factor)
        return None if chosen is None else LaneChoice(chosen.group_key, chosen.org_id)

    def _choose_among(
        self, lanes: list[LaneView], ctx: ClaimContext, leaves_work: bool
    ) -> LaneView | None:
        if not lanes:
            return None
        bands = {lane.key: self.lane_band(lane, ctx.now) for lane in lanes}
        held = [lane for lane in lanes if lane.app_version_id == ctx.device.holds_app_version_id]
        own = max(held, key=lambda lane: (bands[lane.key], lane.expected_seconds), default=None)
        levels = sorted(set(bands.values()), reverse=True)
        if own is not None and levels[0] < bands[own.key] + self.cut_in_levels:
            return own
        for level in levels:
            if own is not None and bands[own.key] >= level:
                return own
            at_level = [lane for lane in lanes if bands[lane.key] == level]
            chosen = self._oldest_gaining(at_level, ctx, leaves_work)
            if chosen is not None:
                return chosen
        return None

    def _oldest_gaining(
        self, lanes: list[LaneView], ctx: ClaimContext, leaves_work: bool,
        factor: float | None = None,
    ) -> LaneView | None:
        oldest = min(lane.head_submitted_at for lane in lanes)

        def working(lane: LaneView) -> int:
            return ctx.devices_per_group.get(lane.group_key, 0)

        def per_device(lane: LaneView) -> float:
            """The build's unclaimed work per device if this one joins."""
            return lane.expected_seconds / (working(lane) + 1)

        def order(lane: LaneView) -> tuple[float, float]:
            arrived = max(lane.head_submitted_at, oldest + self.simultaneous_seconds)
            return (arrived, -per_device(lane))

        install_cost = ctx.install_seconds * (self.leave_installs if leaves_work else 1)
        for lane in sorted(lanes, key=order):
            if working(lane) == 0:
                return lane
            if ctx.now - lane.oldest_submitted_at < self.settle_seconds:
                continue
            split = self.split_factor if factor is None else factor
            if per_device(lane) >= split * install_cost:
                return lane
        return None

    # which jobs -------------------------------------------------------------------------------

    def choose_jobs(
        self, ctx: ClaimContext, lane: LaneView, candidates: Sequence[JobView]
    ) -> list[str]:
        device = ctx.device.device_id
        ordered = sorted(
            candidates,
            key=lambda job: (
                -self.band(job.priority, job.submitted_at, ctx.now),
                job.last_device_id == device,
                -job.expected_seconds,
                job.submitted_at,
                job.job_id,
            ),
        )
        # A fair part: shared with the devices already on the build and the idle ones (this
        # one included) that could join it.
        sharing = ctx.devices_per_group.get(lane.group_key, 0) + max(ctx.idle_devices, 1)
        limit = min(self.max_batch, math.ceil(lane.queued / sharing))
        batch: list[str] = []
        expected = 0.0
        for job in ordered:
            if batch and (len(batch) >= limit or expected >= self.batch_seconds):
                break
            batch.append(job.job_id)
            expected += job.expected_seconds
        return batch

    # cutting in -------------------------------------------------------------------------------

    def should_yield(self, ctx: ClaimContext, next_job: JobView) -> bool:
        if ctx.idle_devices > 0:
            return False
        choice = self.choose_lane(ctx)
        if choice is None:
            return False
        lane = next(lane for lane in ctx.lanes
                    if (lane.group_key, lane.org_id) == (choice.group_key, choice.org_id))
        mine = self.band(next_job.priority, next_job.submitted_at, ctx.now)
        return self.lane_band(lane, ctx.now) >= mine + self.cut_in_levels


    # hard preemption -------------------------------------------------------------------------

    def choose_preemption(
        self, ctx: ClaimContext, running: Sequence[RunningJob]
    ) -> str | None:
        """The running job to stop for urgent work that no device serves, if preemption is on:
        the least urgent, most recently started one (the least work lost)."""
        if not self.preemption or ctx.idle_devices > 0:
            return None
        waiting = [lane for lane in ctx.lanes
                   if lane.top_priority >= self.urgent_priority
                   and ctx.devices_per_group.get(lane.group_key, 0) == 0
                   and not _capped(ctx, lane.org_id)]
        if not waiting:
            return None
        victims = [job for job in running if job.priority <= self.preemptible_priority]
        if not victims:
            return None
        return min(victims, key=lambda job: (job.priority, -job.started_at, job.job_id)).job_id


def _capped(ctx: ClaimContext, org_id: str) -> bool:
    share = ctx.orgs.get(org_id)
    return share is not None and share.cap is not None and share.devices >= share.cap


def _starved_orgs(ctx: ClaimContext) -> set[str]:
    """Orgs with queued work that are short of their weighted share of this target's devices
    by at least a whole device."""
    waiting = {lane.org_id for lane in ctx.lanes}
    weights = {org: (ctx.orgs[org].weight if org in ctx.orgs else ctx.default_weight)
               for org in waiting | set(ctx.orgs)}
    total = sum(weights.values())
    if total <= 0:
        return set()
    starved = set()
    for org in waiting:
        entitled = ctx.target_devices * weights[org] / total
        running = ctx.orgs[org].devices if org in ctx.orgs else 0
        if entitled - running >= 1.0:
            starved.add(org)
    return starved
