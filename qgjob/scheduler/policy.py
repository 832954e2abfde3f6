"""The first scheduling policy: highest priority first, then the oldest group; among equals,
the app the device already holds (no reinstall). A group is spread over devices in small
batches so one device does not sit on a whole build while others idle."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from qgjob.scheduler.views import BatchChoice, ClaimContext, GroupView


class Policy(Protocol):
    name: str

    def choose(self, ctx: ClaimContext) -> BatchChoice | None:
        """Pick the group a device works on next and how many of its jobs to hand over."""
        ...


@dataclass(frozen=True)
class PriorityAffinityPolicy:
    max_batch: int = 4
    name: str = "priority-affinity"

    def choose(self, ctx: ClaimContext) -> BatchChoice | None:
        if not ctx.groups:
            return None
        held = ctx.device.holds_app_version_id

        def rank(group: GroupView) -> tuple[int, bool, float]:
            return (group.top_priority, group.app_version_id == held, -group.oldest_queued_at)

        group = max(ctx.groups, key=rank)
        share = math.ceil(group.queued / max(ctx.target_devices, 1))
        return BatchChoice(group.group_key, size=max(1, min(self.max_batch, share)))
