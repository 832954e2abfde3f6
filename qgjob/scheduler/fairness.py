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


def entitlements(ctx: ClaimContext) -> dict[str, float]:
    """Each org's weighted share of the target's devices, among the orgs with queued or
    running work there (empty when nobody weighs anything)."""
    weights = {org: (ctx.orgs[org].weight if org in ctx.orgs else ctx.default_weight)
               for org in {lane.org_id for lane in ctx.lanes} | set(ctx.orgs)}
    total = sum(weights.values())
    if total <= 0:
        return {}
    return {org: ctx.target_devices * weight / total for org, weight in weights.items()}


def starved_orgs(ctx: ClaimContext) -> set[str]:
    """Orgs with queued work that are short of their weighted share of this target's devices
    by at least a whole device."""
    shares = entitlements(ctx)
    return {org for org in {lane.org_id for lane in ctx.lanes} if org in shares
            and shares[org] - (ctx.orgs[org].devices if org in ctx.orgs else 0) >= 1.0}


def starved_waits(ctx: ClaimContext, lane: LaneView, ratio: float) -> bool:
    """Whether a starved org's lane, left to wait for the first device to run out of work and
    then run on that one device, would finish more than `ratio` times later than if served now
    on its share of the target's devices (an install first either way)."""
    shares = entitlements(ctx)
    if lane.org_id not in shares:
        return True
    entitled = max(shares[lane.org_id], 1.0)
    work = remaining_seconds(ctx, lane)
    install = ctx.install_seconds
    return first_free_seconds(ctx) + install + work > ratio * (install + work / entitled)
