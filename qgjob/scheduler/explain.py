"""Why queued work waits: each lane's place in line on its target and a start estimate, from
the view the policy decides on and the same finish-time model (`outlook.py`). Pure; `qgjob
queue` and the dashboard show it.

The line is the policy's own (`Policy.waiting_order`), so it is the order idle devices take
the lanes in: most urgent band first; then, while builds stream in, the least work left
first; otherwise the one that finishes soonest for its weight.

The estimate plays the line forward: every device of the target becomes free when the work it
holds is expected to end (an idle one now, a busy one when the rest of its running test and
batch are done), and the waiting lanes, in the order devices take them, each go to the device
that frees first, which then installs and runs that lane's work. It is an estimate from
learned durations, not a promise: builds that arrive later and more urgent work go first.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

from qgjob.scheduler.fairness import capped
from qgjob.scheduler.outlook import alone_gain, remaining_seconds
from qgjob.scheduler.protocol import DeviceCaps, Policy
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
    start)."""
    devices_worth: int | None = None
    """While the policy holds builds to the devices their work is worth
    (`Policy.device_caps`): how many this build's work left is worth; None otherwise."""


def explain(ctx: ClaimContext, policy: Policy) -> list[LaneStanding]:
    """Lanes of one target: those being worked on, then the waiting ones in the order devices
    would take them (most urgent band; then, while builds stream in, the least work left,
    otherwise the one that finishes soonest for its weight; then oldest)."""
    bands = {lane.key: policy.lane_band(lane, ctx.now) for lane in ctx.lanes}

    def working(lane: LaneView) -> int:
        return ctx.devices_per_group.get(lane.group_key, 0)

    served = [lane for lane in ctx.lanes if working(lane)]
    waiting = policy.waiting_order(ctx, [lane for lane in ctx.lanes if not working(lane)])
    caps = policy.device_caps(ctx)
    worth = caps.devices if caps is not None else {}
    standings = [LaneStanding(lane, bands[lane.key], None, working(lane),
                              _progress(ctx, lane, caps), None, worth.get(lane.group_key))
                 for lane in served]
    free_at = _free_times(ctx)
    for position, lane in enumerate(waiting, start=1):
        if ctx.target_devices == 0:
            # Draining devices and those out of rotation take no work: not counted online.
            reason = (f"no device takes work on target {lane.target}: none online, or every "
                      "one draining or out of rotation")
            start = None
        elif capped(ctx, lane.org_id):
            share = ctx.orgs[lane.org_id]
            reason, start = f"{lane.org_id} is at its cap of {share.cap} device(s)", None
        else:
            start = heapq.heappop(free_at)
            heapq.heappush(free_at, start + ctx.install_seconds + lane.expected_seconds)
            if start <= ctx.now:
                reason = "starts at once: a device is idle"
            else:
                reason = (f"waiting for a device; {position - 1} waiting lane(s) ahead, "
                          f"first device free in ~{_seconds(start - ctx.now)}")
        standings.append(LaneStanding(lane, bands[lane.key], position, 0, reason, start,
                                      worth.get(lane.group_key)))
    return standings


def _free_times(ctx: ClaimContext) -> list[float]:
    """When each device of the target is expected to be free: idle ones now, the others
    when the work they hold is done (a group's held work shared by its devices)."""
    times = [ctx.now] * max(ctx.idle_devices, 0)
    for work in ctx.work.values():
        times += [ctx.now + work.held_seconds / work.devices] * work.devices
    times += [ctx.now] * max(ctx.target_devices - len(times), 0)
    heapq.heapify(times)
    return times


def _progress(ctx: ClaimContext, lane: LaneView, caps: DeviceCaps | None) -> str:
    """How far a served build is; while builds are held to the devices their work is worth,
    whether it takes more (so an idle device beside its queued jobs says why it stays idle)."""
    devices = ctx.devices_per_group.get(lane.group_key, 0)
    finish = remaining_seconds(ctx, lane) / devices
    progress = f"running on {devices} device(s), done in ~{_seconds(finish)}"
    worth = None if caps is None else caps.devices.get(lane.group_key)
    if caps is None or worth is None:
        return progress
    if math.isinf(caps.install_price):
        price = "the last half hour's install budget does not buy every build a device, " \
                "so every build runs on one"
        return f"{progress}; {price}"
    price = f"at an install's price of ~{_seconds(caps.install_price)} of turnaround"
    # An idle device that holds its app joins without an install (the policy counts it on
    # the build); else a device joins only where that brings the finish forward.
    if devices < worth and lane.app_version_id not in ctx.idle_holds \
            and alone_gain(ctx, lane) <= 0:
        return (f"{progress}; a device joining now would finish after the {devices} on it, "
                "so no other joins")
    if worth >= ctx.target_devices and devices < worth:
        return f"{progress}; worth every device of its target: the next free device joins"
    if devices < worth:
        return f"{progress}; worth {worth} device(s) {price}: the next free device joins"
    return f"{progress}; its work left is worth {worth} device(s) {price}, so no other joins"


def _seconds(value: float) -> str:
    value = max(value, 0.0)
    if value < 90:
        return f"{value:.0f}s"
    if value < 5400:
        return f"{value / 60:.0f}m"
    return f"{value / 3600:.1f}h"
