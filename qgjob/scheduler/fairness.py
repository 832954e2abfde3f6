"""Fair share between orgs on one target: who is at a cap, and who is short of its share."""

from __future__ import annotations

from qgjob.scheduler.outlook import first_free_seconds, remaining_seconds
from qgjob.scheduler.views import ClaimContext, LaneView


def capped(ctx: ClaimContext, org_id: str) -> bool:
    """The org already holds as many devices of the target as its cap allows."""
    share = ctx.orgs.get(org_id)
    return share is not None and share.cap is not None and share.devices >= share.cap


def capped_orgs(ctx: ClaimContext) -> set[str]:
    """Orgs that hold as many devices of the target as their cap allows."""
    return {org for org, share in ctx.orgs.items()
            if share.cap is not None and share.devices >= share.cap}


def starved_orgs(ctx: ClaimContext) -> set[str]:
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


def starved_waits(ctx: ClaimContext, lane: LaneView, ratio: float) -> bool:
    """Whether a starved org's lane, left to wait for the first device to run out of work and
    then run on that one device, would finish more than `ratio` times later than if served now
    on its share of the target's devices (an install first either way)."""
    weights = {org: (ctx.orgs[org].weight if org in ctx.orgs else ctx.default_weight)
               for org in {other.org_id for other in ctx.lanes} | set(ctx.orgs)}
    total = sum(weights.values())
    if total <= 0:
        return True
    entitled = max(ctx.target_devices * weights[lane.org_id] / total, 1.0)
    work = remaining_seconds(ctx, lane)
    install = ctx.install_seconds
    return first_free_seconds(ctx) + install + work > ratio * (install + work / entitled)
