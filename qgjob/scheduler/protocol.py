"""What a scheduling policy answers, apart from how one decides: the claim path, the store,
the service and the simulator depend on this protocol and the views (`views.py`), not on a
policy's implementation (`policy.py`, `baselines.py`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from qgjob.scheduler.views import ClaimContext, JobView, LaneChoice, LaneView, RunningJob


@dataclass(frozen=True)
class DeviceCaps:
    """While a policy holds each build to the devices its work is worth: the price of an
    install in seconds of a build's turnaround, and per group how many devices its work left
    is worth at that price (an idle device stays off a build that has them)."""

    install_price: float
    devices: Mapping[str, int]


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

    def weighs_drains(self, ctx: ClaimContext) -> bool:
        """Whether this decision weighs when each target runs out of work: the claim path
        then reads every target's queued and held work into `ctx.drains` (it is left empty
        otherwise, to spare a claim those reads)."""
        ...

    def weighs_installs(self, ctx: ClaimContext) -> bool:
        """Whether this decision prices installs by what the fleet spent on them lately: the
        claim path then reads `ctx.installs_recent` and `ctx.recent_builds` (left
        None otherwise)."""
        ...

    def should_yield(self, ctx: ClaimContext, next_job: JobView) -> bool:
        """Between two jobs of a batch: hand the rest back so the device can take more
        urgent work?"""
        ...

    def lane_band(self, lane: LaneView, now: float) -> int:
        """How urgent the policy holds a lane (what queue explanations order lanes by)."""
        ...

    def waiting_order(self, ctx: ClaimContext, lanes: Sequence[LaneView]) -> list[LaneView]:
        """The waiting lanes of one target in the order devices would start them (what queue
        explanations show). It takes them all at once so a policy whose order depends on the
        whole target (whether work streams in) decides that once, not per lane."""
        ...

    def device_caps(self, ctx: ClaimContext) -> DeviceCaps | None:
        """While the policy holds builds to the devices their work is worth, that price and
        each build's number (what queue explanations say of a build an idle device stays off);
        None while it holds them to none."""
        ...

    def looks_again_at(self, ctx: ClaimContext) -> float | None:
        """When a device this decision left idle should ask again though nothing happens (a
        wait the policy set ends then), or None: it asks at its next poll or wake-up."""
        ...

    @property
    def preempts(self) -> bool:
        """Whether it may stop running jobs for urgent work (hard preemption)."""
        ...

    def choose_preemption(self, ctx: ClaimContext, running: Sequence[RunningJob]
                          ) -> str | None:
        """The running job to stop for urgent work, if any."""
        ...
