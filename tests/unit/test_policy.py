"""The scheduling policy's decisions, as tables of situations a device can be in."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from qgjob.scheduler.fairness import starved_waiting
from qgjob.scheduler.outlook import budget_price
from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.scheduler.views import (
    ClaimContext,
    DeviceView,
    GroupWork,
    JobView,
    LaneView,
    OrgShare,
    RecentBuild,
    RunningJob,
)

NOW = 10_000.0
POLICY = FairAffinityPolicy(stream_backlog_tests=0.0)
"""The rules of a backlog: these tables' queues never count as work streaming in
(`FairAffinityPolicy.streams`); the stream's rules have their own table, with the defaults."""
STREAM = FairAffinityPolicy()


def lane(app: str, *, org: str = "acme", priority: int = 3, queued: int = 5,
         age: float = 600.0, work: float | None = None, submitted: float | None = None
         ) -> LaneView:
    """`submitted`: seconds since the newest job of the build was submitted."""
    counts = [0] * 5
    counts[priority - 1] = queued
    return LaneView(f"emulator|{app}", org, app, "emulator", tuple(counts), NOW - age,
                    NOW - age, 40.0 * queued if work is None else work,
                    None if submitted is None else NOW - submitted)


def ctx(*lanes: LaneView, holds: str | None = None, working: dict[str, int] | None = None,
        held: dict[str, float] | None = None, orgs: dict[str, OrgShare] | None = None,
        devices: int = 6, idle: int = 1, retry_due: dict[str, float] | None = None,
        idle_holds: frozenset[str] = frozenset(), typical: float = 40.0,
        drains: dict[str, float] | None = None, quiet: float | None = None,
        together: int = 0, recent: int | None = None, beside_oldest: int = 0,
        target_recent: int = 0, installs: int | None = None,
        history: tuple[RecentBuild, ...] = ()) -> ClaimContext:
    """`quiet`: seconds since the last submit; `drains`: when each target runs out of work;
    `together`: builds submitted within a typical test of the last submit; `recent`: within
    the last half hour (None: not read, as in views for preemption); `beside_oldest`:
    the target's builds submitted within a typical test of its oldest queued job, and
    `target_recent` in the last half hour;
    `installs`: the last half hour's installs, and `history` the builds they were spent on."""
    working = working or {}
    work = {f"emulator|{app}": GroupWork(app, n, (held or {}).get(app, 40.0 * n))
            for app, n in working.items()}
    per_group = {group: item.devices for group, item in work.items()}
    shares = dict(orgs or {})
    for item in lanes:
        shares.setdefault(item.org_id, OrgShare(item.org_id, 0))
    return ClaimContext(DeviceView("lab/emulator-1", "emulator", holds), lanes, per_group,
                        shares, devices, idle, 20.0, NOW, work=work,
                        retry_due=retry_due or {}, idle_holds=idle_holds,
                        typical_test_seconds=typical,
                        last_submit_at=None if quiet is None else NOW - quiet,
                        builds_together=together, builds_recent=recent, drains=drains or {},
                        builds_beside_oldest=beside_oldest,
                        target_builds_recent=target_recent,
                        installs_recent=installs,
                        recent_builds=None if installs is None else history)


def chosen(context: ClaimContext) -> str | None:
    choice = POLICY.choose_lane(context)
    return choice.group_key.split("|")[1] if choice else None


@pytest.mark.parametrize(
    ("context", "expected", "why"),
    [
        (ctx(), None, "no work"),
        (ctx(lane("a")), "a", "the only build"),
        (ctx(lane("old", age=900), lane("mine", age=100), holds="mine"), "mine",
         "affinity: no install"),
        (ctx(lane("mine"), lane("hotfix", priority=5), holds="mine"), "hotfix",
         "work two levels more urgent cuts in"),
        (ctx(lane("mine"), lane("next", priority=4), holds="mine"), "mine",
         "one level more urgent does not take a device off its build"),
        (ctx(lane("new", age=100), lane("old", age=900)), "old",
         "of builds alike, the oldest first"),
        (ctx(lane("small", age=600, work=100), lane("big", age=900, work=3000)), "small",
         "of builds nobody serves, the one that finishes soonest first: the fewest wait"),
        (ctx(lane("low", priority=1, work=100), lane("high", priority=4, work=300)), "high",
         "priority weighs in: three times the work at four times the weight goes first"),
        (ctx(lane("big", org="bigco", work=5000), lane("tiny", org="small", age=30),
             holds="big", working={"big": 5},
             orgs={"bigco": OrgShare("bigco", 5)}), "tiny",
         "a starved org is served before affinity"),
        (ctx(lane("big", org="bigco", work=5000), lane("tiny", org="small", queued=10),
             holds="big", working={"big": 10, "tiny": 1}, devices=12,
             orgs={"bigco": OrgShare("bigco", 10), "small": OrgShare("small", 1)}), "tiny",
         "a starved org's build that one device runs while its share is six takes a busy "
         "device more: on one it ends 460 s out, more than four times the 93 s on six"),
        (ctx(lane("big", org="bigco", work=5000), lane("tiny", org="small", queued=10),
             holds="big", working={"big": 5, "tiny": 1}, devices=6,
             orgs={"bigco": OrgShare("bigco", 5), "small": OrgShare("small", 1)}), "big",
         "... but not where its share is three (460 s against 167 s: a busy device's install "
         "would buy little)"),
        (ctx(lane("capped", org="capco"), lane("other", org="free", age=10),
             orgs={"capco": OrgShare("capco", 2, cap=2)}), "other", "an org at its cap waits"),
        (ctx(lane("worked", age=5, work=2000), working={"worked": 1}), "worked",
         "joining brings a big build's finish forward by more than two installs: no timer"),
        (ctx(lane("worked", work=40), working={"worked": 2}), None,
         "too little work left to pay for an install"),
        (ctx(lane("pair", queued=1, work=60), working={"pair": 1}, held={"pair": 60},
             typical=60), "pair",
         "a build one device runs alone: joining wins back the install (40 s sooner, 20 s "
         "install), even when that is less than a typical test"),
        (ctx(lane("tie", queued=1, work=40), working={"tie": 1}, held={"tie": 40}), "tie",
         "a join that wins back exactly its install (20 s sooner for a 20 s install) is taken: "
         "the build ends no later, its tests run side by side"),
        (ctx(lane("wide", queued=10, work=440), working={"wide": 2}, held={"wide": 80},
             typical=60), "wide",
         "two devices on it: joining brings it 80 s forward, more than 1.25 typical tests"),
        (ctx(lane("wide", queued=10, work=440), working={"wide": 2}, held={"wide": 80},
             typical=90), None,
         "... but not where a typical test takes so long that 1.25 of them are more"),
        (ctx(lane("wide", priority=5, queued=10, work=440), working={"wide": 2},
             held={"wide": 80}, typical=90), "wide",
         "... an urgent build is joined at half the bar: 80 s sooner beats 56 s"),
        (ctx(lane("pair", queued=1, work=60), working={"pair": 1}, held={"pair": 60},
             typical=60, idle=2, idle_holds=frozenset({"pair"})), None,
         "an idle device holding the build's app is between two batches of it and takes its "
         "next job without an install: with it, two devices are on the build, and a third "
         "brings it no sooner"),
        (ctx(lane("wide", queued=10, work=400), working={"wide": 2}, held={"wide": 80},
             typical=90, quiet=300, drains={"emulator": 200, "device": 150}), "wide",
         "once submits pause (nothing for three typical tests), a device of the target that "
         "drains last joins at a quarter of the bar: its target sets the makespan"),
        (ctx(lane("a", queued=4, work=160), lane("b", queued=20, work=840),
             working={"a": 1, "b": 4}, held={"a": 40, "b": 200}, typical=90, quiet=300,
             drains={"emulator": 200, "device": 150}), "b",
         "... and only the build expected to end last on the target (b, in 260 s on its four "
         "devices): joining a (ends in 200 s alone) would bring it 90 s forward, but the "
         "target's end is b's, so that install buys no earlier end; b gains 48 s"),
        (ctx(lane("a", priority=5, queued=4, work=160), lane("b", queued=20, work=840),
             working={"a": 1, "b": 4}, held={"a": 40, "b": 200}, typical=90, quiet=300,
             drains={"emulator": 200, "device": 150}), "a",
         "... except an urgent build, joined for its own turnaround"),
        (ctx(lane("a", queued=4, work=160), lane("b", queued=20, work=840),
             working={"a": 1, "b": 4}, held={"a": 40, "b": 200}, typical=90, quiet=100,
             drains={"emulator": 200, "device": 150}), "a",
         "... and while submits still arrive, the build it brings forward most"),
        (ctx(lane("tail", queued=8, work=250), working={"tail": 3}, held={"tail": 60},
             typical=46, quiet=300, drains={"emulator": 200, "device": 150}), "tail",
         "... a build's last minutes too: a fourth device brings it 21 s forward, over a "
         "quarter of a 46 s test (at half the bar, three devices idled up to three minutes "
         "beside a nightly's end)"),
        (ctx(lane("tail", queued=8, work=250), working={"tail": 3}, held={"tail": 60},
             typical=46, quiet=100, drains={"emulator": 200, "device": 150}), None,
         "... which, while submits still arrive, is not worth an install"),
        (ctx(lane("wide", queued=10, work=400), working={"wide": 2}, held={"wide": 80},
             typical=90, quiet=100, drains={"emulator": 200, "device": 150}), None,
         "... but not while submits still arrive"),
        (ctx(lane("pair", queued=1, work=60), working={"pair": 1}, held={"pair": 60},
             typical=60, quiet=600, drains={"emulator": 60, "device": 1000}), None,
         "once submits pause, a device of a target that drains early does not join a build "
         "that finishes before the last target drains: its install buys no makespan"),
        (ctx(lane("pair", queued=1, work=60), working={"pair": 1}, held={"pair": 60},
             typical=60, quiet=600, drains={"emulator": 60, "device": 100}), "pair",
         "... but does join one that would finish after it"),
        (ctx(lane("slow", queued=4, work=160), working={"slow": 2}, held={"slow": 200},
             typical=90, quiet=600, drains={"emulator": 100, "device": 150}), "slow",
         "... at a quarter of the bar, as on the target that drains last: on its two devices "
         "it would end after every target drains (it sets the makespan), and a third brings "
         "it 53 s forward against a 90 s typical test"),
        (ctx(lane("pair", queued=1, work=60), working={"pair": 1}, held={"pair": 60},
             typical=60, quiet=5, together=4, recent=4,
             drains={"emulator": 60, "device": 1000}), None,
         "while a batch of four builds submitted together is the newest work, the same: "
         "builds submitted together are waited on together, so the install buys nothing"),
        (ctx(lane("pair", queued=1, work=60), working={"pair": 1}, held={"pair": 60},
             typical=60, quiet=5, together=3, recent=30,
             drains={"emulator": 60, "device": 1000}),
         "pair", "... but three builds within a typical test in a busy stream (30 in the half "
         "hour: 0.93 others expected in 60 s) are what it brings by chance: the usual bar"),
        (ctx(lane("worked", work=2000, submitted=1), working={"worked": 1}, quiet=1,
             together=4, recent=4), None,
         "while a batch arrives, no device joins a build whose jobs are still being "
         "submitted: its work is known only in part"),
        (ctx(lane("worked", work=2000, submitted=3), working={"worked": 1}, quiet=1,
             together=4, recent=4), "worked", "... and joins it once its submits stop"),
        (ctx(lane("worked", work=2000, submitted=1), lane("fresh", submitted=0.5),
             working={"worked": 1}, quiet=0.5, together=4, recent=4), "fresh",
         "... while a build nobody serves still starts at once"),
        (ctx(lane("worked", work=2000, submitted=1), working={"worked": 1}, quiet=1,
             together=3, recent=30), "worked", "a stream's build is joined while it arrives"),
        (ctx(lane("wide", queued=10, work=400), lane("pair", queued=1, work=60),
             working={"wide": 2, "pair": 1}, held={"wide": 80, "pair": 60}, typical=90),
         "pair", "the build with the largest gain is not worth an install, a smaller one is"),
        (ctx(lane("mine", work=2000), lane("hotfix", priority=5, work=600), holds="mine",
             working={"hotfix": 1}), "hotfix",
         "a device alone on its build leaves it for urgent work others serve when that brings "
         "the urgent build 310 s forward: more than twelve installs"),
        (ctx(lane("mine", work=2000), lane("hotfix", priority=5, work=400, age=50),
             holds="mine", working={"hotfix": 1}, typical=100), "mine",
         "... but not for 210 s: its own build would need installing again, and the hotfix "
         "is due to end 490 s after its submit, within five typical tests"),
        (ctx(lane("mine", work=2000), lane("hotfix", priority=5, work=400, age=200),
             holds="mine", working={"hotfix": 1}, typical=100), "hotfix",
         "... unless it is late: due 640 s after its submit, 120 s past an install (20 s) and "
         "five typical tests, it needs to come forward by 240 - 120 = 120 s, and 210 s is more"),
        (ctx(lane("mine", work=2000), lane("hotfix", priority=5, work=400, age=100),
             holds="mine", working={"hotfix": 1}, typical=100), "mine",
         "... and not when it ends 540 s after its submit: no build ends sooner than an "
         "install after it, so it is 20 s late, not 40, and 210 s is less than 220"),
        (ctx(lane("mine", work=2000), lane("hotfix", priority=5, work=30, queued=1,
                                           age=900), holds="mine", working={"hotfix": 1}),
         "mine", "however late, urgent work must come forward by two installs (40 s) "
         "for a device to leave its own build: a 30 s job queued and 40 s held gain 20 s"),
        (ctx(lane("mine", priority=1, work=3000), lane("hotfix", priority=5, work=60, age=60),
             holds="mine", working={"hotfix": 1}), "mine",
         "urgent work that does not need this device: back to its own build"),
        (ctx(lane("shared", org="a", work=2000), lane("new", org="b", work=100),
             holds="shared", working={"shared": 2}, orgs={"a": OrgShare("a", 2)}), "new",
         "another org's build nobody serves, that would wait long for a free device, takes a "
         "device off a build others share"),
        (ctx(lane("big", org="bigco", work=5000), lane("tiny", org="small", work=100),
             holds="big", working={"big": 5}, devices=6,
             orgs={"bigco": OrgShare("bigco", 5), "small": OrgShare("small", 0)}), "tiny",
         "a starved org whose work would wait long for a free device is served first"),
        (ctx(lane("mine", work=2000), lane("new", work=100), holds="mine"), "mine",
         "a device alone on its build stays there"),
        (ctx(lane("mine", org="d", work=2000), lane("new", org="b", work=100),
             lane("big", org="a", work=5000), holds="mine", working={"big": 4}, devices=6,
             orgs={"a": OrgShare("a", 4), "b": OrgShare("b", 0), "d": OrgShare("d", 0)}),
         "mine", "fair share takes devices from an org above its share, not from one as short "
                 "as the org it would serve (its build would need installing again)"),
        (ctx(lane("mine", org="org4", work=1740), lane("other", org="org4", work=480),
             lane("big", org="org2", work=2460), holds="mine", working={"big": 1}, devices=2,
             orgs={"org2": OrgShare("org2", 1), "org4": OrgShare("org4", 0)}), "mine",
         "its own org is not starved by it: no leaving its build for another of the same org"),
        (ctx(lane("shared", org="a", work=3000), lane("shared", org="b", work=40),
             lane("other", org="b", work=600), holds="shared", working={"shared": 4},
             orgs={"a": OrgShare("a", 4), "b": OrgShare("b", 0)}), "other",
         "only the org of the lane it would stay on is served by its staying"),
        (ctx(lane("held"), idle=2, idle_holds=frozenset({"held"})), None,
         "a build an idle device already holds is that device's: no second install"),
        (ctx(lane("held"), lane("new"), idle=2, idle_holds=frozenset({"held"})), "new",
         "so this device starts another build"),
        (ctx(lane("last", queued=1, work=40, submitted=30), working={"last": 5},
             held={"last": 200}, recent=1), "last",
         "no stream of work (one build in half an hour): five devices each hold one of its "
         "40 s jobs and the sixth waits for one of them; an idle device takes it, 20 s sooner, "
         "though spread as a fluid the work would end later with it"),
        (ctx(lane("last", queued=1, work=40, submitted=30), working={"last": 5},
             held={"last": 200}, recent=2), None,
         "... not while builds stream in: the fluid estimate and its bar"),
        (ctx(lane("last", queued=1, work=40, submitted=2000), working={"last": 5},
             held={"last": 200}, recent=0), None,
         "... nor on the tail of a backlog submitted over half an hour ago (a paused queue)"),
        (ctx(lane("last", queued=1, work=40), working={"last": 5}, held={"last": 200}), None,
         "... nor where the view did not count them"),
        (ctx(lane("last", queued=1, work=40, submitted=3), working={"last": 5},
             held={"last": 200}, recent=3, together=3, quiet=3), "last",
         "no stream either when every build of the last half hour came together, fewer than "
         "a batch (one run's handful on three targets), once their submits stopped"),
        (ctx(lane("last", queued=1, work=40, submitted=1), working={"last": 5},
             held={"last": 200}, recent=3, together=3, quiet=1), None,
         "... not while they still arrive"),
        (ctx(lane("last", queued=1, work=40, submitted=3), working={"last": 5},
             held={"last": 200}, recent=3, together=2, quiet=3), None,
         "... nor when one of them came earlier: a stream"),
        (ctx(lane("even", queued=2, work=120, submitted=30), working={"even": 2},
             held={"even": 160}, typical=60, recent=1), "even",
         "no stream of work: any gain is worth an install (two devices hold 80 s each, two "
         "60 s jobs wait: 40 s sooner with a third)"),
        (ctx(lane("even", queued=2, work=120), working={"even": 2}, held={"even": 160},
             typical=60, recent=2), None, "... where a stream asks it to win back a typical test"),
        (ctx(lane("tie", queued=2, work=80, submitted=30), working={"tie": 2},
             held={"tie": 40}, recent=1), "tie",
         "no stream of work: a join that ends the build no later is taken too (two devices "
         "free in 20 s, two 40 s jobs wait: 60 s either way), its tests side by side"),
        (ctx(lane("tie", queued=2, work=80), working={"tie": 2}, held={"tie": 40},
             recent=2), None, "... not in a stream"),
        (ctx(lane("short", queued=1, work=40, submitted=30), working={"short": 1},
             held={"short": 10}, recent=1), None,
         "... but not one that ends it later: its install and the job take 60 s, where the "
         "device on it frees in 10 s and is done in 50 s"),
        (ctx(lane("other"), holds="mine", retry_due={"mine": NOW + 3}), None,
         "its build's failed job comes back sooner than an install: it waits"),
        (ctx(lane("other"), holds="mine", retry_due={"mine": NOW + 60}), "other",
         "a retry due later than an install takes: it goes on"),
        (ctx(lane("other"), holds="mine", retry_due={"mine": NOW + 3}, working={"mine": 1}),
         "other", "another device on its build takes the retry"),
    ],
)
def test_which_lane(context: ClaimContext, expected: str | None, why: str) -> None:
    assert chosen(context) == expected, why


@pytest.mark.parametrize(
    ("context", "expected", "why"),
    [
        (ctx(lane("big", work=3200), lane("small", work=320)), "small",
         "the least work left first: the fewest builds wait behind a long one"),
        (ctx(lane("big", work=3200), lane("small", work=320), working={"small": 1},
             held={"small": 0}), "small",
         "served or not: 320 s is worth two devices (sqrt(320 / 80 s, two typical tests))"),
        (ctx(lane("big", work=3200), lane("small", work=320), working={"small": 2},
             held={"small": 0}), "big",
         "... and it has two: the next build takes the device"),
        (ctx(lane("big", work=3200), lane("small", work=320), working={"small": 2, "big": 6},
             held={"small": 0, "big": 0}, devices=9), None,
         "every build has the devices its work is worth: an install buys too little, idle"),
        (ctx(lane("hotfix", priority=5, queued=20, work=3200), lane("small", work=40),
             working={"hotfix": 5}, held={"hotfix": 0}), "hotfix",
         "an urgent build is worth every device of the target, and goes first"),
        (ctx(lane("hotfix", priority=5, work=3200), lane("small", work=40),
             working={"hotfix": 5}, held={"hotfix": 0}), "small",
         "... but a sixth device cannot bring five 640 s jobs on five free devices forward"),
        (ctx(lane("hotfix", priority=5, queued=1, work=100), lane("small", work=40),
             working={"hotfix": 5}, held={"hotfix": 450}), "hotfix",
         "... while its last test would wait for one of five devices busy for 90 s more: "
         "installed and run now it ends at 120 s, not 190 s (counted in whole jobs)"),
        (ctx(lane("hotfix", priority=5, queued=1, work=40), lane("small", work=40),
             working={"hotfix": 5}, held={"hotfix": 50}), "small",
         "... but not its last test where a device's install and the test would end after the "
         "five on it run it (90 s left, 18 s each; 20 + 40 s for a joining one): the next "
         "build takes the device"),
        (ctx(lane("wide", work=880), working={"wide": 1}, held={"wide": 0},
             idle_holds=frozenset({"wide"})), "wide",
         "an idle device holding the app counts as one on it: 880 s is worth three"),
        (ctx(lane("big", org="bigco", work=5000), lane("tiny", org="small", age=30),
             holds="big", working={"big": 5}, orgs={"bigco": OrgShare("bigco", 5)}), "big",
         "fair share does not reorder a stream: the device keeps its build, and the next one "
         "to free takes tiny (the least left)"),
        (ctx(lane("big", org="bigco", work=5000, age=5000), lane("tiny", org="small", age=30),
             holds="big", working={"big": 5}, orgs={"bigco": OrgShare("bigco", 5)}), "tiny",
         "a build waiting more than 120 typical tests (4800 s) makes the queue a backlog: fair "
         "share again"),
        (ctx(lane("big", work=3200), lane("small", work=320), working={"small": 2},
             held={"small": 0}, beside_oldest=2, target_recent=2), "big",
         "what is left of a batch (two builds submitted within a typical test of the oldest "
         "queued work, and no other in the half hour) is a backlog: the build nobody serves "
         "starts first"),
        (ctx(lane("big", work=3200), lane("small", work=320), working={"small": 2},
             held={"small": 0}, beside_oldest=3, target_recent=10), "big",
         "... as in a stream (three builds that close where seven others came in the half "
         "hour), where two devices are all 320 s is worth"),
        (ctx(lane("big", work=3200), lane("small", work=320), working={"other": 6},
             held={"other": 6 * 1700}), "small",
         "a queue grown out of a stream stays one however deep (here 1700 s a device): the "
         "least work left first"),
    ],
)
def test_which_lane_while_work_streams_in(context: ClaimContext, expected: str | None,
                                          why: str) -> None:
    choice = STREAM.choose_lane(context)
    assert (choice.group_key.split("|")[1] if choice else None) == expected, why


def test_a_build_still_arriving_is_joined_when_its_submits_stop_and_the_device_asks_then(
        ) -> None:
    """Two builds submitted together onto an idle fleet, the last job 0.3 s ago: an idle
    device does not join the served one yet, and asks again the moment its submits have
    stopped for the window -- two seconds, or a quarter of an install when that is shorter
    (the wait hedges against a wasted install and must not cost more than a share of it)."""
    def arriving(quiet: float, install: float) -> ClaimContext:
        return replace(ctx(lane("a", submitted=quiet), lane("b", submitted=quiet),
                           working={"a": 1, "b": 1}, together=2, recent=2, quiet=quiet),
                       install_seconds=install)

    assert STREAM.arriving_window(arriving(0.3, 20.0)) == 2.0
    assert STREAM.arriving_window(arriving(0.3, 2.0)) == 0.5
    for install, window in ((20.0, 2.0), (2.0, 0.5)):
        waiting = arriving(0.3, install)
        assert STREAM.choose_lane(waiting) is None
        assert STREAM.looks_again_at(waiting) == pytest.approx(NOW - 0.3 + window)
        settled = arriving(window + 0.01, install)
        choice = STREAM.choose_lane(settled)
        assert choice is not None and choice.group_key == "emulator|a"
        assert STREAM.looks_again_at(settled) is None
    # Nothing the device waits on: no look before its next poll or wake-up.
    assert STREAM.looks_again_at(ctx(lane("a", submitted=0.3), working={"a": 1}, recent=40,
                                     together=1, quiet=0.3)) is None


def test_what_makes_a_stream() -> None:
    fresh = ctx(lane("a", work=400), lane("b", work=800))
    assert STREAM.streams(fresh)
    assert not STREAM.streams(ctx(lane("a", work=400), lane("old", age=4900)))
    # However deep a queue grown out of a stream: no backlog ...
    assert STREAM.streams(ctx(lane("a", work=400), working={"b": 6}, held={"b": 9700}))
    # ... but what is left of a batch is one, and a batch arriving.
    assert not STREAM.streams(ctx(lane("a", work=400), beside_oldest=2, target_recent=2))
    assert STREAM.streams(ctx(lane("a", work=400), beside_oldest=3, target_recent=10))
    # Builds submitted together stand out against the rate the target's builds come in: four
    # within 80 s are a batch among six in the half hour (two others: 0.09 expected in 80 s),
    # and what a busy stream brings by chance among thirty (26 others: 1.2 expected).
    assert not STREAM.streams(ctx(lane("a", work=400), beside_oldest=4, target_recent=6))
    assert STREAM.streams(ctx(lane("a", work=400), beside_oldest=4, target_recent=30))
    assert not STREAM.streams(ctx(lane("a", work=400), beside_oldest=9, target_recent=32))
    assert not STREAM.streams(ctx(lane("a", work=400), together=4, recent=4, quiet=1))
    # A batch arriving stands out against the fleet's rate likewise: two builds within a
    # typical test with nothing else in the half hour, not three among 32 (0.66 expected).
    assert not STREAM.streams(ctx(lane("a", work=400), together=2, recent=2, quiet=1))
    assert STREAM.streams(ctx(lane("a", work=400), together=3, recent=32, quiet=1))
    # Tests so long (1000 s) that the half hour holds no other window's span: no rate to weigh
    # builds submitted together against, and `batch_builds` (four) of them are a batch.
    assert not STREAM.streams(ctx(lane("a", work=4000), together=4, recent=4, quiet=1,
                                  typical=1000))
    assert STREAM.streams(ctx(lane("a", work=4000), together=3, recent=3, quiet=1,
                              typical=1000))
    # The same queue with tests ten times longer: 120 of them is 48,000 s, so 4900 s is recent.
    assert STREAM.streams(ctx(lane("a", work=400), lane("old", age=4900), typical=400))


HISTORY = (RecentBuild(1440.0, 4),) * 25 + (RecentBuild(360.0, 4),) * 25
"""A half hour's builds: spreading them would spend 200 installs, a budget of 90 (0.45)."""


def test_the_budget_prices_an_install_at_the_first_device_it_cannot_buy() -> None:
    # Beyond one device a build, 90 buys 40: the 25 long builds' second devices (worth
    # 1440 / 1.5^2 = 640 s each) and 15 of their third (230.4 s); the 16th third is the price.
    assert budget_price(HISTORY, 90.0) == pytest.approx(230.4)
    assert budget_price(HISTORY, 90.9) == pytest.approx(230.4)  # a whole install or none
    assert budget_price(HISTORY, 64.0) == pytest.approx(640.0)  # 14 of the second devices
    assert budget_price(HISTORY, 49.0) == math.inf  # not one device a build
    assert budget_price(HISTORY, 200.0) == 0.0  # every device of every build
    assert budget_price((), 0.0) == 0.0


def test_an_install_costs_what_the_fleet_spent_lately() -> None:
    """The budget's price (230.4 s), doubled per 0.3 of the budget (27 installs) the last half
    hour's installs spent above it and halved below; two typical tests (80 s) until four
    builds are on record."""
    served = {"working": {"a": 1}, "recent": 12, "history": HISTORY}
    assert STREAM.install_price(ctx(lane("a"), **served)) == 80.0  # not read
    assert STREAM.install_price(ctx(lane("a"), installs=90, **served)) == pytest.approx(230.4)
    assert STREAM.install_price(ctx(lane("a"), installs=117, **served)) \
        == pytest.approx(460.8)
    assert STREAM.install_price(ctx(lane("a"), installs=63, **served)) \
        == pytest.approx(115.2)
    # Below the budget, but a build waits with no device: not halved ...
    assert STREAM.install_price(ctx(lane("a"), lane("b"), installs=63, **served)) \
        == pytest.approx(230.4)
    # ... unless an idle device holds its app and takes it without an install.
    assert STREAM.install_price(ctx(lane("a"), lane("b"), installs=63,
                                    idle_holds=frozenset({"b"}), **served)) \
        == pytest.approx(115.2)
    # With fewer than four builds in the half hour, their installs are mostly still to come.
    assert STREAM.install_price(ctx(lane("a"), installs=63, working={"a": 1}, recent=3,
                                    history=HISTORY)) == 80.0
    # Far over the budget: ten doublings at most.
    assert STREAM.install_price(ctx(lane("a"), installs=1000, **served)) \
        == pytest.approx(230.4 * 1024)
    # A budget that does not buy one device a build: every build on one.
    assert STREAM.install_price(ctx(lane("a"), installs=0, working={"a": 1}, recent=12,
                                    history=(RecentBuild(600.0, 1),) * 12)) == math.inf


def test_the_devices_a_build_is_worth_follow_the_install_price() -> None:
    """One build with 3680 s left on four of nine devices (work 3520 queued, 160 held)."""
    def joins(installs: int | None) -> bool:
        context = ctx(lane("big", work=3520), working={"big": 4}, held={"big": 160},
                      devices=9, installs=installs, recent=12, history=HISTORY)
        return STREAM.choose_lane(context) is not None

    assert not joins(90)  # at 230.4 s: round(sqrt(3680 / 230.4)) = 4, which it has
    assert joins(63)  # under the budget, 115.2 s: 6
    assert not joins(117)  # over it, 460.8 s: 3


def test_a_starved_build_waits_behind_the_starved_builds_that_start_before_it() -> None:
    context = ctx(lane("soon", org="a", queued=1, work=5), lane("long", org="a", work=3000),
                  lane("tiny", org="b", work=100), lane("mid", org="c", work=600),
                  working={"soon": 1, "long": 3}, held={"soon": 5, "long": 120},
                  orgs={"a": OrgShare("a", 4)}, devices=6)
    mid = context.lanes[3]
    # Alone, it would have the device that runs out of work in 10 s: no need to take one now.
    assert starved_waiting(context, [mid], 2.0, {"c"}) == []
    # Behind the smaller starved build, which starts first, it waits for the next device
    # (about 1040 s): more than twice as long as running on its share now.
    assert starved_waiting(context, [mid], 2.0, {"b", "c"}) == [mid]


def test_priorities_below_urgent_share_the_normal_band() -> None:
    assert {POLICY.lane_band(lane("x", priority=p), NOW) for p in (1, 2, 3, 4)} == {3}
    assert POLICY.lane_band(lane("x", priority=5), NOW) == 5


def test_low_priority_weighs_more_as_it_waits() -> None:
    fresh_low = lane("low", priority=1, age=10)
    assert chosen(ctx(fresh_low, lane("normal", priority=3, age=10))) == "normal"
    patient = lane("patient", priority=1, age=POLICY.aging_seconds * 3 + 1)
    assert POLICY.weight(patient, NOW) > POLICY.weight(lane("fresh", priority=3, age=10), NOW)
    assert chosen(ctx(patient, lane("fresh", priority=3, age=10))) == "patient"


def test_aged_work_still_yields_to_urgent_work() -> None:
    nightly = lane("nightly", priority=1, age=POLICY.aging_seconds * 10)
    assert chosen(ctx(nightly, lane("hotfix", priority=5), holds="nightly")) == "hotfix"


def job(job_id: str, seconds: float = 40.0, *, priority: int = 3, last: str | None = None,
        age: float = 100.0) -> JobView:
    return JobView(job_id, priority, NOW - age, seconds, 1 if last else 0, last)


@pytest.mark.parametrize(
    ("candidates", "devices", "queued", "expected"),
    [
        ([job("short", 10), job("long", 80)], 2, 8, ["long", "short"]),
        ([job("short", 10), job("long", 60)], 1, 4, ["long", "short"]),
        ([job("a", 60), job("b", 60), job("c", 60)], 1, 4, ["a"]),
        ([job("a"), job("b")] + [job(f"{n}", 2) for n in range(6)], 2, 8, ["a"]),
        ([job("a"), job("b"), job("c"), job("d")], 1, 4, ["a", "b"]),
        ([job("a"), job("b"), job("c"), job("d")], 2, 7, ["a"]),
        ([job("short", 10), job("long", 80)], 2, 2, ["long"]),
        ([job("here", last="lab/emulator-1"), job("there", last="lab/emulator-2")], 1, 4,
         ["there", "here"]),
        ([job("fresh", 60), job("retry", 40, last="lab/emulator-2")], 1, 4, ["retry"]),
        ([job("low", priority=2), job("high", priority=4, age=1)], 1, 4, ["high", "low"]),
    ],
    ids=["long-tests-early", "up-to-the-build", "at-most-90-seconds", "a-part-of-the-build",
         "a-full-batch-for-each-device", "one-job-without-one", "one-job-near-the-end",
         "retry-elsewhere", "retry-is-the-longest-chain", "urgent-first"],
)
def test_which_jobs(candidates: list[JobView], devices: int, queued: int,
                    expected: list[str]) -> None:
    """The candidates are the lane's next jobs in claim order; the rest of its `queued` jobs
    take 40 s each."""
    work = sum(c.expected_seconds for c in candidates) + 40.0 * (queued - len(candidates))
    chosen_lane = lane("a", queued=queued, work=work)
    batch = POLICY.choose_jobs(ctx(chosen_lane, devices=devices), chosen_lane, candidates)
    assert batch == expected


@pytest.mark.parametrize(
    ("context", "next_priority", "expected"),
    [
        (ctx(lane("hotfix", priority=5), holds="mine", idle=0), 3, True),
        (ctx(lane("hotfix", priority=5), holds="mine", idle=1), 3, False),
        (ctx(lane("next", priority=4), holds="mine", idle=0), 3, False),
        (ctx(holds="mine", idle=0), 3, False),
    ],
    ids=["urgent-and-no-idle-device", "an-idle-device-takes-it", "one-level", "nothing-waits"],
)
def test_cut_in_at_job_boundaries(context: ClaimContext, next_priority: int,
                                  expected: bool) -> None:
    assert POLICY.should_yield(context, job("next", priority=next_priority)) is expected


PREEMPTING = FairAffinityPolicy(preemption=True)


def running(job_id: str, priority: int, started: float) -> RunningJob:
    return RunningJob(job_id, f"lab/{job_id}", "emulator|nightly", priority, NOW - started)


@pytest.mark.parametrize(
    ("policy", "context", "jobs", "expected"),
    [
        (POLICY, ctx(lane("hotfix", priority=5), idle=0),
         [running("nightly", 1, 100)], None),  # off by default
        (PREEMPTING, ctx(lane("hotfix", priority=5), idle=0),
         [running("old", 1, 300), running("new", 1, 20), running("p3", 3, 5)], "new"),
        (PREEMPTING, ctx(lane("hotfix", priority=5), idle=1),
         [running("nightly", 1, 100)], None),  # a device is idle: no need
        (PREEMPTING, ctx(lane("hotfix", priority=5), idle=0, working={"hotfix": 1}),
         [running("nightly", 1, 100)], None),  # already served
        (PREEMPTING, ctx(lane("hotfix", priority=5), idle=0),
         [running("p3", 3, 100)], None),  # nothing preemptible
        (PREEMPTING, ctx(lane("next", priority=4), idle=0),
         [running("nightly", 1, 100)], None),  # only priority 5 preempts
    ],
    ids=["off", "least-progress-lowest-priority", "idle-device", "served", "no-victim",
         "not-urgent-enough"],
)
def test_hard_preemption(policy: FairAffinityPolicy, context: ClaimContext,
                         jobs: list[RunningJob], expected: str | None) -> None:
    assert policy.choose_preemption(context, jobs) == expected


def test_a_test_running_past_its_estimate_still_holds_its_device() -> None:
    from qgjob.scheduler.outlook import left_of

    assert left_of("assigned", 30.0, None, NOW) == 30.0
    assert left_of("running", 30.0, NOW - 10, NOW) == 20.0
    assert left_of("running", 30.0, NOW - 200, NOW) == 50.0  # a quarter of what it ran


def test_whole_jobs_see_the_last_job_that_waits_for_a_busy_device() -> None:
    from qgjob.scheduler.outlook import finish_gain, whole_jobs_gain

    # Five devices each hold 40 s; one 40 s job waits; this device installs in 20 s.
    context = ctx(lane("last", queued=1, work=40), working={"last": 5}, held={"last": 200})
    assert whole_jobs_gain(context, context.lanes[0]) == pytest.approx(20.0)  # 80 s -> 60 s
    assert finish_gain(context, context.lanes[0]) < 0  # as a fluid: 48 s, and 60 s with it
    # Two devices hold 80 s each and two 60 s jobs wait: a third device takes one at once
    # and ends at 80 s, the other waits for a busy device and ends at 140 s, as without it.
    even = ctx(lane("even", queued=2, work=120), working={"even": 2}, held={"even": 160})
    assert whole_jobs_gain(even, even.lanes[0]) == 0.0
    # The device on it frees in 10 s and runs the 40 s job by 50 s; this one would need 60 s.
    short = ctx(lane("short", queued=1, work=40), working={"short": 1}, held={"short": 10})
    assert whole_jobs_gain(short, short.lanes[0]) == pytest.approx(-10.0)
    # Nobody on it: infinite, as `finish_gain`; a long queue: the fluid estimate.
    alone = ctx(lane("new"))
    assert whole_jobs_gain(alone, alone.lanes[0]) == math.inf
    long = ctx(lane("long", queued=200, work=8000), working={"long": 2})
    assert whole_jobs_gain(long, long.lanes[0]) == finish_gain(long, long.lanes[0])
