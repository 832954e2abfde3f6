"""Fair share between orgs on one target: who is at a cap, and who is short of its share."""

from __future__ import annotations

from bisect import bisect_left

from qgjob.scheduler.outlook import free_times, remaining_seconds
from qgjob.scheduler.views import ClaimContext, LaneView


def capped(ctx: ClaimContext, org_id: str) -> bool:
    """The org already holds as many devices of the target as its cap allows."""
    share = ctx.orgs.get(org_id)
    return share is not None and share.cap is not None and share.devices >= share.cap


def capped_orgs(ctx: ClaimContext) -> set[str]:
    """Orgs that hold as many devices of the target as their cap allows."""
    return {org for org, share in ctx.orgs.items()
            if share.cap is not None and share.devices >= share.cap}


def entitlements(ctx: ClaimContext) -> dict[str, float]:
    """Each org's weighted share of the target's devices, among the orgs with queued or
    running work there (empty when nobody weighs anything)."""
    weights = {org: (ctx.orgs[org].weight if org in ctx.orgs else ctx.default_weight)
               for org in {lane.org_id for lane in ctx.lanes} | set(ctx.orgs)}
    total = sum(weights.values())
    if total <= 0:
        return {}
    return {org: ctx.target_devices * weight / total for org, weight in weights.items()}


def shortfalls(ctx: ClaimContext) -> dict[str, float]:
    """How many devices each org is short of its weighted share of the target (negative
    above it), not counting the asking device: what the org is short of if that device
    leaves it."""
    return {org: share - (ctx.orgs[org].devices if org in ctx.orgs else 0)
            for org, share in entitlements(ctx).items()}


def starved_orgs(ctx: ClaimContext, leaving: str | None = None) -> set[str]:
    """Orgs with queued work that are short of their weighted share of this target's devices
    by at least a whole device; with `leaving` (the org of the build the asking device would
    stay on), only those short of it by a whole device more than that org would be once the
    device left it: fair share moves a device from an org above its share to one below it,
    never from one short org to another as short."""
    short = shortfalls(ctx)
    floor = max(short.get(leaving, 0.0) + 1.0, 1.0) if leaving is not None else 1.0
    return {org for org in {lane.org_id for lane in ctx.lanes} if org != leaving
            and short.get(org, 0.0) >= floor}


def starved_waiting(ctx: ClaimContext, candidates: list[LaneView], ratio: float,
                    starved: set[str]) -> list[LaneView]:
    """Of `candidates` (builds of starved orgs that nobody serves), those that, left to wait
    for a device to run out of work and then run on that one device, would finish more than
    `ratio` times later than if served now on their org's share of the target's devices (an
    install first either way). A build waits behind the starved builds nobody serves that are
    smaller (they start first): the k-th of them waits for the k-th device to run out of work.
    Shares, free times and the queue of waiting builds are worked out once per claim, and
    only when there is a candidate."""
    if not candidates:
        return []
    shares = entitlements(ctx)
    frees = free_times(ctx)
    queue = sorted(remaining_seconds(ctx, lane) for lane in ctx.lanes
                   if lane.org_id in starved and not ctx.devices_per_group.get(lane.group_key, 0))
    install = ctx.install_seconds
    waiting = []
    for lane in candidates:
        if lane.org_id not in shares:
            waiting.append(lane)
            continue
        work = remaining_seconds(ctx, lane)
        ahead = bisect_left(queue, work)
        wait = frees[min(ahead, len(frees) - 1)] if frees else 0.0
        if wait + install + work > ratio * _on_share(ctx, work, shares[lane.org_id]):
            waiting.append(lane)
    return waiting


def lagging(ctx: ClaimContext, candidates: list[LaneView], ratio: float) -> list[LaneView]:
    """Of `candidates` (builds of starved orgs that devices already serve), those that would
    finish more than `ratio` times later on those devices than on their org's share of the
    target's devices (an install first either way): a small org's build running on one
    device of a fleet its share would give several of. Shares are worked out once per claim,
    and only when there is a candidate."""
    if not candidates:
        return []
    shares = entitlements(ctx)
    out = []
    for lane in candidates:
        devices = ctx.devices_per_group.get(lane.group_key, 0)
        if not devices or lane.org_id not in shares:
            continue
        work = remaining_seconds(ctx, lane)
        if ctx.install_seconds + work / devices > ratio * _on_share(ctx, work,
                                                                      shares[lane.org_id]):
            out.append(lane)
    return out


def _on_share(ctx: ClaimContext, work: float, share: float) -> float:
    """When `work` would be done if run now on `share` of the target's devices (at least
    one), an install first."""
    return ctx.install_seconds + work / max(share, 1.0)
