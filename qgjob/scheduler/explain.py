"""Why queued work waits: each lane's place in line on its target and a rough start estimate,
from the same view the policy decides on. Pure; `qgjob queue` shows it."""

from __future__ import annotations

from dataclasses import dataclass

from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.scheduler.views import ClaimContext, LaneView


@dataclass(frozen=True)
class LaneStanding:
    lane: LaneView
    band: int
    position: int | None
    """Place in line among the waiting lanes of its target (1 = next); None while devices
    already work on it."""
    devices_working: int
    reason: str
    estimated_start: float | None
    """When a device is expected to start on it (None: it is being worked on, or cannot
    start); a rough estimate from expected durations, not a promise."""


def explain(ctx: ClaimContext, policy: FairAffinityPolicy) -> list[LaneStanding]:
    """Lanes of one target: those being worked on, then the waiting ones in the order devices
    would take them (most urgent, then oldest)."""
    bands = {lane.key: policy.lane_band(lane, ctx.now) for lane in ctx.lanes}

    def working(lane: LaneView) -> int:
        return ctx.devices_per_group.get(lane.group_key, 0)

    served = [lane for lane in ctx.lanes if working(lane)]
    waiting = sorted((lane for lane in ctx.lanes if not working(lane)),
                     key=lambda lane: (-bands[lane.key], lane.head_submitted_at))
    standings = [LaneStanding(lane, bands[lane.key], None, working(lane),
                              f"running on {working(lane)} device(s)", None) for lane in served]
    place = {lane.key: index for index, lane in enumerate(waiting)}
    for position, lane in enumerate(waiting, start=1):
        share = ctx.orgs.get(lane.org_id)
        if ctx.target_devices == 0:
            reason, start = f"no online device for target {lane.target}", None
        elif share is not None and share.cap is not None and share.devices >= share.cap:
            reason, start = f"{lane.org_id} is at its cap of {share.cap} device(s)", None
        elif position <= ctx.idle_devices:
            reason, start = "starts at once: a device is idle", ctx.now
        else:
            # Work that goes first: queued work of lanes at least as urgent, plus an install
            # for each waiting lane up to this one. Less urgent lanes give way at job ends.
            ahead = sum(other.expected_seconds for other in ctx.lanes
                        if bands[other.key] >= bands[lane.key] and other is not lane
                        and (working(other) or place[other.key] < position - 1))
            reason = f"waiting for a device; {position - 1} waiting lane(s) ahead"
            start = ctx.now + (ahead + position * ctx.install_seconds) / ctx.target_devices
        standings.append(LaneStanding(lane, bands[lane.key], position, 0, reason, start))
    return standings
