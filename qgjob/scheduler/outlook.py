"""Expected finish times: the model the policy decides with.

A build's remaining work on a target is its queued work plus what the devices on it still
hold (the rest of their running tests, the unstarted jobs of their batches, and the rest of
the install of a device that has not started its first job). Spread over its devices, that
gives when it is expected to finish. A device that joins pays an install
first (none when it already holds the app) and runs at least one job, so joining brings the
finish forward only when the devices on the build would stay busy for longer than that.

Pure and in seconds from `ctx.now`; estimates come from learned durations and measured
install times, so they are rough, and every decision that uses them is taken again at the
next claim.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Sequence

from qgjob.scheduler.views import ClaimContext, LaneView, RecentBuild

WHOLE_JOBS_COUNTED = 64
"""`whole_jobs_gain` hands out at most this many queued jobs one by one; a build with more is
long enough for the fluid estimate (`finish_gain`)."""
OVERRUN_SHARE = 0.25
"""A test that has run most of its expected time, or longer, is expected to need this share
of the time it has run so far again: it is evidently longer than learned, and never done."""


def left_of(state: str, expected_seconds: float, started_at: float | None, now: float) -> float:
    """Expected seconds left of a job a device holds: all of it until it starts, then its
    expected duration less the time it has run -- but at least a quarter of the time it has
    run, so a test running past its estimate still holds its device for a while."""
    if state == "running" and started_at is not None:
        ran = max(now - started_at, 0.0)
        return max(expected_seconds - ran, OVERRUN_SHARE * ran)
    return expected_seconds


def remaining_seconds(ctx: ClaimContext, lane: LaneView) -> float:
    """Expected work left on the lane's build (its group, every org's lane of it): queued,
    and held by the devices on it."""
    return _queued_seconds(ctx, lane) + _held_seconds(ctx, lane)


def _queued_seconds(ctx: ClaimContext, lane: LaneView) -> float:
    """Expected work queued on the lane's build (every org's lane of it)."""
    return ctx.queued_seconds.get(lane.group_key, lane.expected_seconds)


def _held_seconds(ctx: ClaimContext, lane: LaneView) -> float:
    """Expected work the devices on the lane's build still hold."""
    work = ctx.work.get(lane.group_key)
    return work.held_seconds if work is not None else 0.0


def expected_finish(ctx: ClaimContext, lane: LaneView) -> float:
    """In how many seconds the devices on the lane's build are expected to finish it (an idle
    device that holds its app counted on it, as in `finish_gain`); infinite with none."""
    working = ctx.devices_per_group.get(lane.group_key, 0) \
        + (lane.app_version_id in ctx.idle_holds)
    return remaining_seconds(ctx, lane) / working if working else math.inf


class LatestFinish:
    """Which served build of the target (with queued work) is expected to finish last, worked
    out once for a claim that weighs many lanes, and only if asked."""

    def __init__(self, ctx: ClaimContext) -> None:
        self.ctx = ctx
        self._latest: tuple[float, str, float] | None = None

    def another_after(self, lane: LaneView) -> bool:
        """Whether another served build of the target is expected to finish after this one."""
        latest, group, second = self._two_latest()
        other = second if group == lane.group_key else latest
        return other > expected_finish(self.ctx, lane)

    def _two_latest(self) -> tuple[float, str, float]:
        """The latest finish, its build (group), and the latest of every other build."""
        if self._latest is None:
            finishes: dict[str, float] = {}
            for lane in self.ctx.lanes:
                if self.ctx.devices_per_group.get(lane.group_key, 0):
                    finishes[lane.group_key] = expected_finish(self.ctx, lane)
            ranked = sorted(((end, group) for group, end in finishes.items()), reverse=True)
            latest, group = ranked[0] if ranked else (-math.inf, "")
            second = ranked[1][0] if len(ranked) > 1 else -math.inf
            self._latest = (latest, group, second)
        return self._latest



def install_cost(ctx: ClaimContext, lane: LaneView) -> float:
    """What this device pays before it can run the lane's jobs."""
    return 0.0 if lane.app_version_id == ctx.device.holds_app_version_id else ctx.install_seconds


def finish_gain(ctx: ClaimContext, lane: LaneView) -> float:
    """How much sooner the lane's build finishes if this device joins the devices on it (the
    device's own install counted). Infinite for a build nobody works on.

    An idle device that holds the build's app counts as one of them: it is between two
    batches of the build (its batch ended a moment ago; a report wakes waiting devices before
    the reporting agent claims again) and takes the build's next job at its next claim,
    without an install."""
    working = ctx.devices_per_group.get(lane.group_key, 0)
    if working == 0:
        return float("inf")
    if lane.app_version_id in ctx.idle_holds:
        working += 1
    rest = remaining_seconds(ctx, lane)
    install = install_cost(ctx, lane)
    one_job = lane.expected_seconds / max(lane.queued, 1)
    joined = max((rest + install) / (working + 1), install + one_job)
    return rest / working - joined


def whole_jobs_gain(ctx: ClaimContext, lane: LaneView) -> float:
    """How much sooner the lane's build finishes if this device joins, its queued jobs handed
    out whole, each to whichever of its devices frees first (the devices on it free when what
    they hold runs out, shared evenly between them; this one takes a job at once and runs it
    after its install). Where `finish_gain` spreads the work as a fluid, this sees the last
    job that waits for a busy device while the joining one could run it; it prices every
    queued job at the lane's mean. Infinite for a build nobody works on; `finish_gain` for
    one with more than `WHOLE_JOBS_COUNTED` queued jobs."""
    working = ctx.devices_per_group.get(lane.group_key, 0)
    if working == 0:
        return float("inf")
    if lane.queued > WHOLE_JOBS_COUNTED:
        return finish_gain(ctx, lane)
    frees = [_held_seconds(ctx, lane) / working] * working
    if lane.app_version_id in ctx.idle_holds:
        frees.append(0.0)
    each = _queued_seconds(ctx, lane) / max(lane.queued, 1)
    # The joining device takes a job at once (its claim), and is on the build from then on.
    joined = [*frees, install_cost(ctx, lane) + each]
    return (_handed_out(frees, lane.queued, each)
            - _handed_out(joined, max(lane.queued - 1, 0), each))


def alone_gain(ctx: ClaimContext, lane: LaneView) -> float:
    """What joining a build brings its finish forward by when no stream of work competes for
    the device (the policy's `no_stream`): the larger of the fluid estimate and the one that
    hands out its queued jobs whole. A handful of jobs is where the fluid one misleads most:
    six jobs on five devices end when the sixth does, on a device that frees first."""
    return max(finish_gain(ctx, lane), whole_jobs_gain(ctx, lane))


def _handed_out(frees: list[float], jobs: int, each: float) -> float:
    """When devices free at `frees` are done with `jobs` more jobs of `each` seconds, each
    job going to whichever device frees first."""
    heap = list(frees)
    heapq.heapify(heap)
    for _ in range(jobs):
        heapq.heapreplace(heap, heap[0] + each)
    return max(heap)


def batch_share(ctx: ClaimContext, lane: LaneView) -> float:
    """Expected work one device may take in a batch: its part of what is left of the build if
    every device of the target ended up on it. Near a build's end that is one job, so no work
    is locked in one device's batch while others could run it."""
    return remaining_seconds(ctx, lane) / max(ctx.target_devices, 1)


def free_times(ctx: ClaimContext) -> list[float]:
    """When each device of the target serving a build is expected to run out of its queued
    work (the asking device counted on the build it holds), soonest first: the k-th is when
    work nobody serves gets a device if k - 1 builds start before it."""
    frees = []
    for lane in ctx.lanes:
        devices = ctx.devices_per_group.get(lane.group_key, 0)
        if lane.app_version_id == ctx.device.holds_app_version_id:
            devices += 1
        if devices:
            frees += [remaining_seconds(ctx, lane) / devices] * devices
    return sorted(frees)


def budget_price(builds: Sequence[RecentBuild], budget: float) -> float:
    """The price of an install, in seconds of a build's turnaround, at which these builds,
    each on `round(sqrt(work / price))` devices (one at least, at most the devices it could
    use), would have spent `budget` installs. A build of `work` seconds takes its k-th device
    while the price is at most work / (k - 1/2)^2, that device's worth: beyond one device a
    build, the budget buys the worthiest devices, and the price is the worth of the first
    device it cannot buy -- infinite when it does not buy one a build, 0 when it buys every
    device of every build. Builds alike (the same work and devices: one suite's runs) are
    bought a level at a time, so the cost follows how many kinds of build there are, not
    how many builds."""
    extra = math.floor(budget) - len(builds)
    if extra < 0:
        return math.inf
    alike = Counter((build.work_seconds, build.devices) for build in builds if build.devices > 1)
    worth = [(-work / 1.5 ** 2, 2, work, devices, count)
             for (work, devices), count in alike.items()]
    heapq.heapify(worth)
    while worth:
        value, k, work, devices, count = worth[0]
        if count > extra:
            return -value
        extra -= count
        if k < devices:
            heapq.heapreplace(worth, (-work / (k + 0.5) ** 2, k + 1, work, devices, count))
        else:
            heapq.heappop(worth)
    return 0.0
