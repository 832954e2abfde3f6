"""The scheduling policy: which lane a device works on next, which of its jobs, and when a
device hands back the rest of its batch so urgent work can cut in. It decides with expected
finish times (`outlook.py`), never on a timer.

For a device that asks for work:

0. While work streams in (`streams`: builds come one at a time, and the target's queue is no
   backlog -- none of its builds has waited `stream_backlog_tests` typical tests, and its
   oldest queued work is not what is left of a batch: a stream at the target's own rate of
   builds would bring as many as were submitted within a typical test of it at least
   `batch_chance` of the time, however deep the queue), a
   device with nothing of its own to do serves the builds' mean turnaround: most urgent band
   first, the build with the least work left, served or not, of those with fewer devices
   than their work is worth (`stream_share`, at the price of an install at which the last
   half hour's builds would have kept to an install budget, corrected by what its installs
   spent: `install_price`); with none, it idles. Fair share and priorities 1-4 do not
   reorder a stream (rules 1 and 2 apply to a backlog); affinity and cut-in (rule 3) hold in
   both.
1. Fair share between orgs. On each target an org is entitled to devices in proportion to its
   weight (its tier) among the orgs with work there; an org short of its entitlement by a whole
   device is *starved* (never the org of the lane the asking device would stay on: it serves
   that org by staying; and that device leaves its org only for one short of a whole device
   more than its own would then be -- fair share moves devices from orgs above their share,
   not between orgs as short). Its build that nobody serves is served first when waiting for
   a device to run out of work (behind the starved builds that start before it, the k-th of
   them for the k-th device) would make it finish more than `starve_ratio` times later than
   running on its share now, and never instead of more urgent work this device holds. Its
   build that devices already serve takes a busy device more (at a job boundary) while on
   the devices it has it would finish more than `grow_ratio` times later than on its share,
   when the device brings it forward by `join_installs` installs. Orgs at their cap wait.
2. Urgency. Priority 5 (`urgent_priority`) is a band of its own; priorities 1-4 share the
   normal band, where they weigh in which build starts first (`weight`: the priority plus one
   level per `aging_seconds` waited, so low priority never starves).
3. Affinity. A device keeps the build it holds while that build has queued work: no install.
   Work `cut_in_levels` bands more urgent takes it away (at a job boundary).
4. Otherwise, band by band from the most urgent: a build nobody serves, the one that
   finishes soonest for its weight first (its remaining work over its weight: the fewest
   builds wait behind a long one); else, of the builds whose finish this device brings
   forward by at least what its install is worth, the one it brings forward most (an idle
   device that holds a build's app is between two batches of it and counts as on it). Worth,
   for a device with nothing of its own to do: its install while one device runs the build
   alone (a serial chain, which a second device halves), and `idle_join_tests` of the
   target's typical test once two or more do (an install is priced at about a test's worth
   of turnaround, whatever it takes, so a fast install is not spent on a small gain and a
   slow one still buys a large one), at `urgent_join_share` of that for an urgent build (an
   install buys more when the turnaround it shortens is urgent); for one that leaves work of
   its own, `join_installs` installs (an install spends device time that work could use) --
   `leave_installs` times that when nobody else serves the build it leaves, which then needs
   installing again -- less a second for each second the urgent build is late (expected to
   end, on the devices it has, more than an install and `urgent_deadline_tests` typical
   tests after its submit), down to `join_installs` installs: the urgent builds that would
   take longest draw a second device, the others cost no install more. Once submits pause
   (nothing submitted on any target for `quiet_tests` of the target's typical tests), what
   is queued is all there is, and an idle device's joins serve the makespan: on the target
   expected to drain last (`ClaimContext.drains`) its bar is `last_drain_join` of the usual
   one; on any other target it joins only a build that would otherwise finish after the last
   target drains (any other join spends an install and buys no earlier end), at that same
   share of the bar: that build sets the makespan. Either way it joins only the build
   expected to end last on its target (`LatestFinish`; an urgent build is joined for its own
   turnaround): the target ends with that one, so an install on any other buys no earlier
   end either. The same holds while a batch is the newest work: more builds submitted
   within a typical test of the newest submit than a stream at the fleet's own rate would
   bring that close but rarely (`batch_chance`): builds submitted together are waited on
   together (a stream brings one at a time). While a batch arrives, no idle device joins a
   build whose jobs are still being submitted (one within `arriving_window`): the build's
   work and every target's drain are then known in part, and an install spent on a part
   cannot be taken back; devices still start builds nobody serves, and join once the
   build's submits stop (the claim that left them idle says when: `looks_again_at`). With
   no stream of work at all (fewer than `stream_builds` builds submitted in the last half
   hour, or fewer than `batch_builds` submitted together
   and nothing else, once their submits stop for `arriving_window`; and the target's queued
   work theirs: a developer's handful of jobs on an idle fleet, not the tail of an old
   backlog), an idle device's install takes nothing another build needs, so it joins any
   build it does not make finish later, its queued jobs counted whole as well as spread
   (`alone_gain`: six jobs on five devices end when the sixth does).
5. A failed job is queued again at once by default. With a retry backoff configured, a failed
   job of the build the device holds comes back after it: when that is sooner than an install
   elsewhere and nobody else serves the build, the device waits for it.

Within a lane it hands over a small batch: the highest priority first, long tests early (a
long test started last stretches the build), a retry counted twice its length (a test that
failed once may need every attempt it has left, one after another: it is the build's longest
chain), a retry preferably on another device than its last attempt, at most `max_batch` jobs
and `batch_seconds` of expected work, and no more than the device's part of the build's
remaining work were every device of the target on it. Once the lane holds fewer than a full
batch for every device of the target, a batch is one job: the build's last jobs are handed out
one by one to whichever device frees first (list scheduling, longest first).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qgjob.domain.values import NORMAL_PRIORITY
from qgjob.scheduler.fairness import (
    capped,
    capped_orgs,
    lagging,
    starved_orgs,
    starved_waiting,
)
from qgjob.scheduler.outlook import (
    LatestFinish,
    alone_gain,
    batch_share,
    budget_price,
    expected_finish,
    finish_gain,
    remaining_seconds,
)
from qgjob.scheduler.protocol import DeviceCaps
from qgjob.scheduler.protocol import Policy as Policy
from qgjob.scheduler.views import (
    RECENT_SECONDS,
    ClaimContext,
    JobView,
    LaneChoice,
    LaneView,
    RunningJob,
)

PRICE_DOUBLINGS = 10.0
"""`FairAffinityPolicy.install_price` is at most this many doublings from what the budget
alone sets, either way (a fleet's first installs, against a budget of next to nothing, do not
price an install at nothing or at everything)."""
Bands = dict[tuple[str, str], int]
"""Each lane's band, by its key."""
JoinBar = Callable[[ClaimContext, LaneView], float]
"""Seconds by which joining a served lane's build must bring its finish forward."""
Gain = Callable[[ClaimContext, LaneView], float]
"""Seconds by which a device joining a served lane's build brings its finish forward."""


@dataclass(frozen=True)
class FairAffinityPolicy:
    aging_seconds: float = 1200.0
    """A waiting build weighs one priority level more per this many seconds it has waited."""
    cut_in_levels: int = 2
    starve_ratio: float = 2.0
    """An org short of its share is served first when waiting would make its work finish more
    than this many times later than running on its share now."""
    grow_ratio: float = 4.0
    """A starved org's build that devices already serve takes a busy device more (from an org
    above its share, at a job boundary) while on the devices it has it would finish more than
    this many times later than on its org's share (a small org's suite on one device of a
    large fleet behind a flood), when that device brings it forward by at least
    `join_installs` installs. Higher than `starve_ratio`: moving a busy device costs an
    install, and in a stream of similar orgs' builds those installs buy little."""
    lone_join_installs: float = 1.0
    """A device with no work of its own joins a build one device runs alone when that brings
    the build's finish forward by at least this many installs (it wins back its install)."""
    idle_join_tests: float = 1.25
    """... and a build two or more devices run when that brings its finish forward by at
    least this many of the target's typical tests (`ClaimContext.typical_test_seconds`)."""
    join_installs: float = 2.0
    """A device leaves its own build for more urgent work that others already serve only when
    that brings the urgent build's finish forward by at least this many installs."""
    leave_installs: float = 6.0
    """... and this many times as much when nobody else serves the build it leaves (which
    then needs installing again) -- less a second for every second the urgent build is late
    (`urgent_deadline_tests`), down to `join_installs` installs."""
    urgent_deadline_tests: float = 5.0
    """Work that cuts in (`cut_in_levels` bands more urgent) is late once the devices on it are
    expected to finish it more than an install and this many of the target's typical tests
    after it was submitted (its age plus its work left over those devices): every second late
    lowers by a second what a busy device that leaves a build nobody else serves must bring
    its finish forward by, so the builds that would take longest draw a second device and the
    rest cost no install more."""
    urgent_join_share: float = 0.5
    """A device with nothing of its own to do joins an urgent build (`urgent_priority`) at
    this share of the usual bar: an install buys more when the turnaround it shortens is
    urgent."""
    quiet_tests: float = 3.0
    """Submits have paused when nothing was submitted, on any target, for this many of the
    target's typical tests: from then on what is queued is all there is to do, and an idle
    device's joins serve the makespan (`ClaimContext.drains`)."""
    last_drain_join: float = 0.25
    """Once submits pause, an idle device of the target that drains last joins a served build
    at this share of the usual bar: its target sets the makespan, and the device has nothing
    else to do until new work comes. So does a device of another target, for a build that
    would finish after the last target drains on the devices it has."""
    batch_builds: int = 4
    """Fewer builds than this (groups, on any target), submitted together with nothing else
    in the last half hour, are a handful (one CI run's suites on two or three targets): a
    batch (`batch_chance`: nothing else came), but no stream either, so an idle device joins
    any of them it does not make finish later (`no_stream`, which goes first). Until the
    last half hour holds this many, the install price is `stream_price_tests`'
    (`install_price`). And where tests are so long that the half hour holds no rate to
    weigh builds submitted together against, this many are a batch."""
    batch_chance: float = 0.01
    """Builds submitted together are a batch (a release run on every target, a nightly) when
    a stream at the rate builds come in would bring so many that close together less often
    than this -- a Poisson tail, whatever the batch's size against the stream's. A batch
    that is the newest work (builds with a job submitted within a typical test of the newest
    submit, against the fleet's rate: `_batch_arrives`) is waited on together, so an idle
    device's joins serve when it ends, as once submits pause; a target whose oldest queued
    work is what is left of one (its builds submitted within a typical test of it, against
    the target's rate: `batch_leftovers`) is a backlog (`streams`)."""
    stream_builds: int = 2
    """Fewer builds than this (groups, on any target) with a job submitted in the last
    `RECENT_SECONDS` (half an hour), owning all the target's queued work, are no stream of
    work: an install on an idle device then takes nothing other work needs, so an idle device
    joins any build it does not make finish later, its jobs counted whole (`alone_gain`)."""
    stream_price_tests: float = 2.0
    """While work streams in (`streams`), a build takes up to `round(sqrt(work left / price))`
    devices, the split that minimises the builds' summed finish times at that price of an
    install in turnaround (`install_price`); until the last half hour holds `batch_builds`
    builds to set it from, the price is this many of the target's typical tests."""
    install_budget_share: float = 0.45
    """... then it is the price at which the last half hour's builds would have spent this
    share of what spreading each over every device it could use would spend
    (`ClaimContext.spread_installs_recent`; `budget_price`), so the fleet spends what that
    share allows, whatever its size, its install times or its tests' lengths ..."""
    install_budget_slack: float = 0.3
    """... doubled for each this share of the budget the installs that ended in that half hour
    (`ClaimContext.installs_recent`, on every target) spent above it, and halved for each
    below: what the split leaves out (devices busy when a build could use more, a device
    that leaves a build and installs it again) corrected by the record."""
    stream_backlog_tests: float = 120.0
    """... and work streams in only while none of the target's queued builds has waited this
    many typical tests (one that has turns the target back to the rules of a backlog: fair
    share, priority and ageing, so no build starves behind shorter ones), nor is its oldest
    queued work what is left of a batch (`batch_chance`). A long bar: in a busy stream the
    least work left first is what keeps the builds' mean turnaround short, and on a busy
    target a large build can wait that long behind shorter ones without starving."""
    arriving_seconds: float = 2.0
    """While a batch arrives, a build with a job submitted this recently is still arriving:
    idle devices do not join it yet (`arriving_window`) ..."""
    arriving_installs: float = 0.25
    """... nor longer than this many of the target's installs: the wait hedges against an
    install spent on a build known only in part, and a hedge that idles a device for longer
    than a share of that install costs more than it saves (two seconds against `qgjob up`'s
    two-second installs is a quarter of the brief's best schedule; against twenty, little)."""
    batch_seconds: float = 90.0
    max_batch: int = 4
    preemption: bool = False
    """Hard preemption (off by default): urgent work with no device may stop a running job of
    priority `preemptible_priority` or lower, which is requeued without spending an attempt."""
    urgent_priority: int = 5
    preemptible_priority: int = 2
    name: str = "qgjob"

    @property
    def preempts(self) -> bool:
        return self.preemption

    def band(self, priority: int) -> int:
        """Urgent priorities are bands of their own; every other priority shares the normal
        band, where it weighs in which build starts first (`weight`)."""
        return priority if priority >= self.urgent_priority else NORMAL_PRIORITY

    def weight(self, lane: LaneView, now: float) -> float:
        """How much a waiting build counts when devices pick one to start: its priority, one
        level more per `aging_seconds` waited, so low priority never starves."""
        return lane.top_priority + max(now - lane.head_submitted_at, 0.0) / self.aging_seconds

    def lane_band(self, lane: LaneView, now: float) -> int:
        return self.band(lane.top_priority)

    def start_order(self, ctx: ClaimContext, lane: LaneView) -> float:
        """Of builds nobody serves in one band, the lowest starts first: the one that finishes
        soonest for its weight, so the fewest builds wait behind a long one."""
        return remaining_seconds(ctx, lane) / self.weight(lane, ctx.now)

    def waiting_order(self, ctx: ClaimContext, lanes: Sequence[LaneView]) -> list[LaneView]:
        """The waiting lanes of one target in the order devices would start them, most urgent
        band first: while an idle device follows the stream rule (`idle_streams`), the least
        work left (rule 0, whatever the weight); otherwise the one that finishes soonest for
        its weight (`start_order`, rule 4). Then the oldest."""
        order: Callable[[ClaimContext, LaneView], float] = \
            remaining_seconds if self.idle_streams(ctx) else self.start_order
        return sorted(lanes, key=lambda lane: (-self.lane_band(lane, ctx.now), order(ctx, lane),
                                               lane.head_submitted_at, lane.key))

    def bands(self, lanes: Sequence[LaneView]) -> Bands:
        """`lane_band` of many lanes (a claim looks at every lane of its target)."""
        return {lane.key: self.band(lane.top_priority) for lane in lanes}

    # which lane -------------------------------------------------------------------------------

    def choose_lane(self, ctx: ClaimContext) -> LaneChoice | None:
        full = capped_orgs(ctx)
        lanes = [lane for lane in ctx.lanes if lane.org_id not in full] if full \
            else list(ctx.lanes)
        if _awaits_retry(ctx, lanes):
            return None
        bands = self.bands(lanes)
        if self.streams(ctx):
            # Builds come one at a time and none has waited long: shortest first serves
            # every org, and fair share would only reorder them (rule 0).
            chosen = self._choose_among(lanes, ctx, bands, streaming=True)
            return None if chosen is None else LaneChoice(chosen.group_key, chosen.org_id)
        # An org short of its share is served first where that brings its finish forward by
        # more than taking a device off its build costs, and never instead of more urgent work
        # this device holds; work of its in a build others already run is theirs to reach.
        own = self._own_lane(lanes, ctx, bands)
        mine = None if own is None else bands[own.key]
        # The counts leave the asking device out; the org of the lane it would stay on is
        # served by its staying, so that org is not starved by this device, and the device
        # leaves it only for an org short of more than it would then be.
        starved = starved_orgs(ctx, leaving=None if own is None else own.org_id)
        unserved = [lane for lane in lanes if lane.org_id in starved
                    and not ctx.devices_per_group.get(lane.group_key, 0)
                    and (mine is None or bands[lane.key] >= mine)]
        waiting = starved_waiting(ctx, unserved, self.starve_ratio, starved)
        chosen = self._choose_among(waiting, ctx, bands)
        if chosen is None and mine is not None and starved:
            chosen = self._grow_starved(lanes, ctx, bands, starved, mine)
        if chosen is None:
            chosen = self._choose_among(lanes, ctx, bands)
        return None if chosen is None else LaneChoice(chosen.group_key, chosen.org_id)

    def _grow_starved(self, lanes: Sequence[LaneView], ctx: ClaimContext, bands: Bands,
                      starved: set[str], mine: int) -> LaneView | None:
        """Of the starved orgs' builds that devices already serve, as urgent as this device's
        own or more, and `lagging` by `grow_ratio`, the one this busy device brings forward
        most, by at least `join_installs` installs (rule 1)."""
        served = [lane for lane in lanes if lane.org_id in starved
                  and bands[lane.key] >= mine and ctx.devices_per_group.get(lane.group_key, 0)]
        bar = self.join_installs * ctx.install_seconds
        worth = [(sooner, lane) for lane in lagging(ctx, served, self.grow_ratio)
                 if (sooner := finish_gain(ctx, lane)) >= bar]
        if not worth:
            return None
        return max(worth, key=lambda pair: (pair[0], -pair[1].head_submitted_at))[1]

    @staticmethod
    def _own_lane(lanes: Sequence[LaneView], ctx: ClaimContext, bands: Bands
                  ) -> LaneView | None:
        """The lane a device stays on when nothing takes it away: of the build it holds, the
        most urgent, then the most work."""
        held = [lane for lane in lanes if lane.app_version_id == ctx.device.holds_app_version_id]
        return max(held, key=lambda lane: (bands[lane.key], lane.expected_seconds), default=None)

    def _choose_among(self, lanes: list[LaneView], ctx: ClaimContext, bands: Bands,
                      streaming: bool = False) -> LaneView | None:
        """`streaming`: `streams(ctx)`, which `choose_lane` has decided once for the claim."""
        if not lanes:
            return None
        own = self._own_lane(lanes, ctx, bands)
        if own is None and self.no_stream(ctx):
            return self._by_band(lanes, ctx, bands, bar=_no_bar, gain=alone_gain, ties=True)
        if own is None and streaming:
            return self._least_left(lanes, ctx, bands)
        if own is None:
            latest = LatestFinish(ctx)
            return self._by_band(self._joinable(ctx, lanes), ctx, bands,
                                 bar=lambda c, lane: self._idle_join_bar(c, lane, latest))
        mine = bands[own.key]
        shared = ctx.devices_per_group.get(own.group_key, 0) > 0
        if not shared and remaining_seconds(ctx, own) <= self.leave_installs * ctx.install_seconds:
            # Its build is nearly done and nobody else serves it: finishing it delays urgent
            # work less than leaving would delay the build (a device must come back to it,
            # and install it again).
            return own
        urgent = [lane for lane in lanes if bands[lane.key] >= mine + self.cut_in_levels]
        bar = self._leave_bar_shared if shared else self._leave_bar
        chosen = self._by_band(urgent, ctx, bands, bar=bar)
        return own if chosen is None else chosen

    def _leave_bar_shared(self, ctx: ClaimContext, lane: LaneView) -> float:
        """How many seconds sooner urgent work must finish for a device to leave a build that
        other devices go on serving (rule 3)."""
        return self.join_installs * ctx.install_seconds

    def _leave_bar(self, ctx: ClaimContext, lane: LaneView) -> float:
        """... and to leave one nobody else serves: `leave_installs` times that, less the
        seconds the urgent build is late (`urgent_deadline_tests`), down to the shared bar."""
        shared = self._leave_bar_shared(ctx, lane)
        return max(shared, self.leave_installs * shared - self.late_seconds(ctx, lane))

    def late_seconds(self, ctx: ClaimContext, lane: LaneView) -> float:
        """How many seconds after an install and `urgent_deadline_tests` typical tests from
        its submit the devices on the lane's build are expected to finish it (0 when sooner,
        or with no device on it); an idle device that holds its app counts as on it, as in
        `finish_gain`. The install is the least any build waits: where installs are slow, a
        build is not late for the install it could not skip."""
        if not ctx.devices_per_group.get(lane.group_key, 0):
            return 0.0
        finish = ctx.now - lane.head_submitted_at + expected_finish(ctx, lane)
        due = ctx.install_seconds + self.urgent_deadline_tests * ctx.typical_test_seconds
        return max(0.0, finish - due)

    def _idle_join_bar(self, ctx: ClaimContext, lane: LaneView, latest: LatestFinish
                       ) -> float:
        """How many seconds sooner a served build must finish for a device with nothing of its
        own to do to join it (rule 4); `latest` knows which build of the target ends last."""
        working = ctx.devices_per_group.get(lane.group_key, 0)
        if working <= 1:
            bar = self.lone_join_installs * ctx.install_seconds
        else:
            bar = self.idle_join_tests * ctx.typical_test_seconds
        if lane.top_priority >= self.urgent_priority:
            bar *= self.urgent_join_share
        if not (ctx.drains and self.weighs_drains(ctx)):
            return bar
        if lane.top_priority < self.urgent_priority and latest.another_after(lane):
            # Another build of the target ends later: the target's end is that build's, and
            # joining this one spends an install that brings no end forward. (An urgent
            # build is joined for its own turnaround.)
            return float("inf")
        last = max(ctx.drains.values())
        if (ctx.drains.get(ctx.device.target, 0.0) < last
                and remaining_seconds(ctx, lane) / max(working, 1) < last):
            return float("inf")  # it finishes before the makespan anyway: spare the install
        # This device's target drains last, or the build would finish after every target
        # drains on the devices it has: either way it sets the makespan. (A target's drain
        # spreads its work over all its devices, which holds only if they join; at the full
        # bar they would not.)
        return bar * self.last_drain_join

    def _joinable(self, ctx: ClaimContext, lanes: list[LaneView]) -> list[LaneView]:
        """The lanes a device with nothing of its own may take: while a batch arrives, not a
        build other devices serve whose jobs are still being submitted (rule 4), in every
        band -- an urgent build is joined once its submits stop, on its full work."""
        if not self._batch_arrives(ctx):
            return lanes
        window = self.arriving_window(ctx)
        return [lane for lane in lanes
                if (until := self._arriving_until(ctx, lane, window)) is None
                or ctx.now >= until]

    @staticmethod
    def _arriving_until(ctx: ClaimContext, lane: LaneView, window: float) -> float | None:
        """Until when a build other devices serve counts as still arriving (while a batch
        arrives, `_joinable`): `window` past its newest submit; None for one nobody serves."""
        if not ctx.devices_per_group.get(lane.group_key, 0) or lane.newest_submitted_at is None:
            return None
        return lane.newest_submitted_at + window

    def arriving_window(self, ctx: ClaimContext) -> float:
        """How long after a submit its build (and a handful's submission) is still arriving:
        `arriving_seconds`, at most `arriving_installs` of the target's install."""
        return min(self.arriving_seconds, self.arriving_installs * ctx.install_seconds)

    def looks_again_at(self, ctx: ClaimContext) -> float | None:
        """A device left idle asks again when a submission stops arriving (the end of the
        soonest `arriving_window` still open: of a build on its target, or of every build
        since the last submit), rather than at its next poll: nothing else happens then to
        wake it, and the wait is meant to last that long, not a poll longer."""
        window = self.arriving_window(ctx)
        ends: list[float | None] = []
        if self._batch_arrives(ctx):  # `_joinable` leaves out builds still arriving
            ends += [self._arriving_until(ctx, lane, window) for lane in ctx.lanes]
        if self._handful(ctx) and ctx.last_submit_at is not None:  # `_one_submission`
            ends.append(ctx.last_submit_at + window)
        # The very sums `_joinable` and `_one_submission` compare: at the moment returned, the
        # window has ended by their test too (a difference can round below the window).
        return min((end for end in ends if end is not None and end > ctx.now), default=None)

    def streams(self, ctx: ClaimContext) -> bool:
        """Work streams in: builds come one at a time (no batch is the newest work), and the
        target's queue is no backlog -- none of its queued builds has waited
        `stream_backlog_tests` typical tests, and its oldest queued work is no batch's
        (`batch_leftovers`). Then the order that minimises the builds' mean
        turnaround -- the least work left first, on as many devices as its work is worth --
        decides (rule 0), however deep a queue grown out of a stream is; what is left of a
        batch (a nightly's suites) is a backlog, and a build that has waited that long turns
        the target back to the rules of a backlog (fair share, priority and ageing), so no
        build starves."""
        if self._batch_arrives(ctx):
            return False
        horizon = self.stream_backlog_tests * ctx.typical_test_seconds
        if any(lane.head_submitted_at < ctx.now - horizon for lane in ctx.lanes):
            return False
        return not self.batch_leftovers(ctx)

    def batch_leftovers(self, ctx: ClaimContext) -> bool:
        """The target's oldest queued work is what is left of a batch: two or more of its
        builds were submitted within a typical test of it (`ClaimContext.builds_beside_oldest`),
        and a stream at the target's own rate of builds -- its last half hour's
        (`ClaimContext.target_builds_recent`), those beside the oldest left out -- would bring
        so many that close together less often than `batch_chance`. Builds submitted together
        stand out against the rate builds come in, whatever their number: a nightly of three
        suites on a quiet fleet, a dozen on a busy one."""
        if not ctx.lanes:
            return False
        oldest = min(lane.oldest_submitted_at for lane in ctx.lanes)
        typical = ctx.typical_test_seconds
        return self._stands_out(ctx.now, ctx.builds_beside_oldest, ctx.target_builds_recent,
                                oldest - typical, oldest + typical)

    def idle_streams(self, ctx: ClaimContext) -> bool:
        """Whether a device with no build of its own follows the stream rule (rule 0): work
        streams in (`streams`) and is more than a handful alone on an idle fleet
        (`no_stream`, which goes first). What queue explanations follow."""
        return self.streams(ctx) and not self.no_stream(ctx)

    def _least_left(self, lanes: list[LaneView], ctx: ClaimContext, bands: Bands
                    ) -> LaneView | None:
        """While work streams in, a device with nothing of its own to do takes, most urgent band
        first, the build with the least work left (served or not) of those with fewer devices
        than their work is worth (`stream_share`) whose finish its joining brings forward
        (`alone_gain`); with none, it stays idle."""
        price = self.install_price(ctx)  # one price for the claim: it reads the whole record
        for level in _levels(_takeable(ctx, lanes), bands):
            below = []
            for lane in level:
                left = remaining_seconds(ctx, lane)
                on_it = ctx.devices_per_group.get(lane.group_key, 0) \
                    + (lane.app_version_id in ctx.idle_holds)
                # Below its share, and this device brings its finish forward at all: the
                # last tests of an urgent build (every device its share) are not worth an
                # install that ends after the devices on it would have run them. Counted
                # fluid or in whole jobs, whichever gains more (a job waiting behind busy
                # devices is one the fluid estimate shares out among them).
                if on_it < self.stream_share(ctx, lane, left, price) \
                        and (not on_it or alone_gain(ctx, lane) > 0):
                    below.append((left, lane.head_submitted_at, lane.key, lane))
            if below:
                return min(below)[-1]
        return None

    def stream_share(self, ctx: ClaimContext, lane: LaneView, left: float, price: float
                     ) -> int:
        """How many devices a build is worth while work streams in: the target's every device
        for an urgent build, else `round(sqrt(left / price))` (at least one), `price` an
        install's worth of turnaround (`install_price`, which the caller works out once for
        all the lanes it weighs): the k-th device shortens a build by about left / k^2, worth
        its install while that is above the price."""
        if lane.top_priority >= self.urgent_priority:
            return ctx.target_devices
        return max(1, min(ctx.target_devices, round(math.sqrt(left / max(price, 1e-9)))))

    def device_caps(self, ctx: ClaimContext) -> DeviceCaps | None:
        """While an idle device follows the stream rule (`idle_streams`), the install's price
        and each build's `stream_share` at it (rule 0); None otherwise, when idle devices join
        builds by what their joining gains."""
        if not self.idle_streams(ctx):
            return None
        price = self.install_price(ctx)
        devices: dict[str, int] = {}
        for lane in ctx.lanes:  # a group's lanes (one per org) share its work left
            share = self.stream_share(ctx, lane, remaining_seconds(ctx, lane), price)
            devices[lane.group_key] = max(share, devices.get(lane.group_key, 0))
        return DeviceCaps(price, devices)

    def install_price(self, ctx: ClaimContext) -> float:
        """Seconds of a build's turnaround an install is worth while work streams in: the price
        at which the last half hour's builds would have spent the budget
        (`install_budget_share` of spreading them: `budget_price`), doubled for each
        `install_budget_slack` of the budget the half hour's installs spent above it and halved
        for each below -- the fleet's own record sets what its installs cost, not constants
        fitted to one fleet. `stream_price_tests` typical tests until the record holds
        `batch_builds` builds; never halved while a build waits with no device
        (`_every_build_served`): a device spent spreading a served build is then one it waits
        longer for."""
        base = self.stream_price_tests * ctx.typical_test_seconds
        if ctx.installs_recent is None or ctx.recent_builds is None:
            return base
        budget = self.install_budget_share * (ctx.spread_installs_recent or 0)
        # With fewer than `batch_builds` builds on record, the installs their submits call for
        # are mostly still to come (a burst's first second, a developer's handful).
        on_record = (ctx.builds_recent or 0) >= self.batch_builds
        price = budget_price(ctx.recent_builds, budget) if on_record else base
        over = (ctx.installs_recent - budget) / max(self.install_budget_slack * budget, 1.0)
        if over < 0 and not (on_record and _every_build_served(ctx)):
            over = 0.0
        return float(price * 2.0 ** max(-PRICE_DOUBLINGS, min(PRICE_DOUBLINGS, over)))

    def weighs_installs(self, ctx: ClaimContext) -> bool:
        """While work streams in, what an install is worth to a device with no build of its own
        to go on with follows what the fleet spent on installs lately (`install_price`); a
        device that keeps its build is spared the reads."""
        holds = ctx.device.holds_app_version_id
        return (not any(lane.app_version_id == holds for lane in ctx.lanes)
                and self.streams(ctx))

    def weighs_drains(self, ctx: ClaimContext) -> bool:
        """Once submits pause -- nothing submitted for `quiet_tests` of the target's typical
        tests, so what is queued is all there is to do -- or while a batch of builds submitted
        together is the newest work (`_batch_arrives`), an idle device's joins weigh when each
        target drains (rule 4)."""
        if ctx.last_submit_at is None:
            return False
        return (ctx.now - ctx.last_submit_at >= self.quiet_tests * ctx.typical_test_seconds
                or self._batch_arrives(ctx))

    def no_stream(self, ctx: ClaimContext) -> bool:
        """Fewer than `stream_builds` builds were submitted in the last half hour, and the
        target's queued work is theirs (a build alone on an idle fleet: a developer's handful
        of jobs; not the tail of a backlog submitted long ago, which is served as a paused
        queue): an idle device's install spends nothing another build needs, so it joins
        whatever it does not make finish later."""
        if ctx.builds_recent is None:
            return False
        if ctx.builds_recent >= self.stream_builds and not self._one_submission(ctx):
            return False
        since = ctx.now - RECENT_SECONDS
        return all(lane.newest_submitted_at is not None and lane.newest_submitted_at >= since
                   for lane in ctx.lanes)

    def _one_submission(self, ctx: ClaimContext) -> bool:
        """Every build of the last half hour came together, fewer than `batch_builds` (one CI
        run's handful on two or three targets), and their submits have stopped for
        `arriving_window`: no stream either, once what was submitted is known."""
        return (self._handful(ctx) and ctx.last_submit_at is not None
                and ctx.now >= ctx.last_submit_at + self.arriving_window(ctx))

    def _handful(self, ctx: ClaimContext) -> bool:
        """Every build of the last half hour came together, fewer than `batch_builds`."""
        return ctx.builds_recent == ctx.builds_together < self.batch_builds

    def _batch_arrives(self, ctx: ClaimContext) -> bool:
        """A batch is the newest work: two or more builds, on any target, had a job submitted
        within a typical test of the newest submit (`ClaimContext.builds_together`), and a
        stream at the fleet's own rate of builds -- its last half hour's
        (`ClaimContext.builds_recent`), those left out -- would bring so many that close
        together less often than `batch_chance`."""
        if ctx.builds_recent is None or ctx.last_submit_at is None:
            return False
        return self._stands_out(ctx.now, ctx.builds_together, ctx.builds_recent,
                                ctx.last_submit_at - ctx.typical_test_seconds, ctx.last_submit_at)

    def _stands_out(self, now: float, together: int, recent: int, start: float, end: float
                    ) -> bool:
        """Whether `together` builds submitted from `start` to `end` stand out against the
        `recent` ones of the last half hour before `now`: a stream at the rate of the others
        would bring so many in a window that long less often than `batch_chance`. The builds
        together are not the stream's: left out of the count and of its span (a window partly
        inside the half hour leaves all of them out, at worst understating the rate a
        little). One build alone never stands out; where the half hour holds no window's span
        besides theirs (tests of ten minutes and more), there is no rate to weigh them
        against, and `batch_builds` of them are a batch."""
        if together < 2:
            return False
        window = end - start
        overlap = max(0.0, min(end, now) - max(start, now - RECENT_SECONDS))
        span = RECENT_SECONDS - overlap
        if span < window:
            return together >= self.batch_builds
        others = max(recent - (together if overlap > 0 else 0), 0)
        return _chance_of_at_least(others / span * window, together - 1) < self.batch_chance

    def _by_band(self, lanes: list[LaneView], ctx: ClaimContext, bands: Bands,
                 bar: JoinBar, gain: Gain = finish_gain, ties: bool = False
                 ) -> LaneView | None:
        """The lane this device serves best, most urgent band first: `bar` is how many seconds
        joining a served build must bring its finish forward by (`gain`); with `ties`, a join
        that leaves its finish where it was is taken too."""
        for level in _levels(lanes, bands):
            chosen = self._best_join(level, ctx, bar, gain, ties)
            if chosen is not None:
                return chosen
        return None

    def _best_join(self, lanes: list[LaneView], ctx: ClaimContext, bar: JoinBar, gain: Gain,
                   ties: bool) -> LaneView | None:
        lanes = _takeable(ctx, lanes)
        if not lanes:
            return None
        unserved = [lane for lane in lanes if not ctx.devices_per_group.get(lane.group_key, 0)]
        if unserved:
            return min(unserved, key=lambda lane: (self.start_order(ctx, lane),
                                                    lane.head_submitted_at, lane.key))
        # A join that wins back exactly what it is worth is taken: the build ends no later,
        # and its tests run side by side. Before anything has run every test is priced at
        # one guess, so such ties are common at first (three tests of 60 s beside a 60 s
        # BrowserStack install).
        worth = [(sooner, lane) for lane in lanes
                 if (sooner := gain(ctx, lane)) >= bar(ctx, lane) and (sooner > 0 or ties)]
        if not worth:
            return None
        return max(worth, key=lambda pair: (pair[0], -pair[1].head_submitted_at))[1]

    # which jobs -------------------------------------------------------------------------------

    def choose_jobs(
        self, ctx: ClaimContext, lane: LaneView, candidates: Sequence[JobView]
    ) -> list[str]:
        device = ctx.device.device_id
        ordered = sorted(
            candidates,
            key=lambda job: (
                -job.priority,
                -job.expected_seconds * (2 if job.attempts else 1),
                job.last_device_id == device,
                job.submitted_at,
                job.job_id,
            ),
        )
        # Until the lane holds a full batch for every device of the target, one job at a time:
        # a build's last jobs then go, longest first, to whichever device frees first, so an
        # estimate's error cannot leave one device running its batch while others idle.
        tail = lane.queued < ctx.target_devices * self.max_batch
        share = 0.0 if tail else min(self.batch_seconds, batch_share(ctx, lane))
        batch: list[str] = []
        expected = 0.0
        for job in ordered:
            if batch and (len(batch) >= self.max_batch
                          or expected + job.expected_seconds > share):
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
        mine = self.band(next_job.priority)
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
                   and not capped(ctx, lane.org_id)]
        if not waiting:
            return None
        victims = [job for job in running if job.priority <= self.preemptible_priority]
        if not victims:
            return None
        return min(victims, key=lambda job: (job.priority, -job.started_at, job.job_id)).job_id


def _chance_of_at_least(mean: float, count: int) -> float:
    """The chance that a Poisson count of that mean reaches `count`."""
    term = below = math.exp(-mean)
    for k in range(1, count):
        term *= mean / k
        below += term
    return max(0.0, 1.0 - below) if count > 0 else 1.0


def _levels(lanes: list[LaneView], bands: Bands) -> list[list[LaneView]]:
    """The lanes grouped by band, the most urgent band first."""
    by_level: dict[int, list[LaneView]] = {}
    for lane in lanes:
        by_level.setdefault(bands[lane.key], []).append(lane)
    return [by_level[level] for level in sorted(by_level, reverse=True)]


def _takeable(ctx: ClaimContext, lanes: list[LaneView]) -> list[LaneView]:
    """The lanes a device may take: a build nobody serves that another idle device already
    holds is that device's to take, without an install."""
    holds = ctx.device.holds_app_version_id
    return [lane for lane in lanes if lane.app_version_id == holds
            or lane.app_version_id not in ctx.idle_holds
            or ctx.devices_per_group.get(lane.group_key, 0)]


def _every_build_served(ctx: ClaimContext) -> bool:
    """No build waits with no device (nor an idle one holding its app): an install may then be
    halved for spending under the budget (`FairAffinityPolicy.install_price`); otherwise a
    device spent spreading a served build is one the waiting build waits longer for."""
    return all(ctx.devices_per_group.get(lane.group_key, 0)
               or lane.app_version_id in ctx.idle_holds for lane in ctx.lanes)


def _no_bar(ctx: ClaimContext, lane: LaneView) -> float:
    """No stream of work: any join that brings the finish forward is worth its install (and,
    with ties, one that leaves it where it was: its tests run side by side, which hedges
    against one of them running long)."""
    return 0.0


def _awaits_retry(ctx: ClaimContext, lanes: list[LaneView]) -> bool:
    """A failed job of the build this device holds comes back sooner than an install would
    take, nobody else serves that build, and it has no queued work: waiting for the retry
    costs less than leaving and having the build installed again for it."""
    holds = ctx.device.holds_app_version_id
    if holds is None:
        return False
    due = ctx.retry_due.get(holds)
    if due is None or due - ctx.now > ctx.install_seconds:
        return False
    if any(lane.app_version_id == holds for lane in lanes):
        return False
    return not ctx.serves_app(holds)
