import math
from dataclasses import replace

import pytest

from qgjob.scheduler.explain import explain
from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.scheduler.views import (
    ClaimContext,
    DeviceView,
    GroupWork,
    LaneView,
    OrgShare,
    RecentBuild,
)

NOW = 5_000.0


def lane(app: str, org: str = "acme", priority: int = 3, age: float = 100.0,
         work: float = 300.0) -> LaneView:
    counts = [0] * 5
    counts[priority - 1] = 5
    return LaneView(f"emulator|{app}", org, app, "emulator", tuple(counts), NOW - age,
                    NOW - age, work)


def view(*lanes: LaneView, working: dict[str, int] | None = None, devices: int = 2,
         idle: int = 0, orgs: dict[str, OrgShare] | None = None,
         held: float = 200.0) -> ClaimContext:
    """`held`: seconds of work each working device still holds."""
    work = {f"emulator|{k}": GroupWork(k, n, held * n) for k, n in (working or {}).items()}
    return ClaimContext(DeviceView("", "emulator", None), lanes,
                        {group: w.devices for group, w in work.items()},
                        orgs or {}, devices, idle, 20.0, NOW, work=work)


def test_the_line_and_the_reasons() -> None:
    standings = explain(view(lane("new", age=10), lane("urgent", priority=5),
                             lane("busy", age=900), lane("old", age=800),
                             working={"busy": 2}), FairAffinityPolicy())
    order = [(s.lane.app_version_id, s.position) for s in standings]
    assert order == [("busy", None), ("urgent", 1), ("old", 2), ("new", 3)]
    # Work streams in (no lane waited 30 typical tests): the served build's note says how
    # many devices its work is worth (test_a_served_build_says_whether_it_takes_more).
    assert standings[0].reason.startswith("running on 2 device(s), done in ~6m; ")
    urgent, old, new = standings[1:]
    # Both devices hold 200 s of work: the first waiting lane starts when they are done,
    # not "now"; each later one after the lane before it on that device.
    assert urgent.estimated_start == NOW + 200
    assert old.estimated_start == NOW + 200
    assert new.estimated_start == NOW + 200 + 20 + 300
    assert "1 waiting lane(s) ahead, first device free in ~3m" in old.reason


def test_no_device_of_the_target() -> None:
    [standing] = explain(view(lane("a"), devices=0), FairAffinityPolicy())
    assert standing.reason == ("no device takes work on target emulator: none online, or every "
                               "one draining or out of rotation")
    assert standing.estimated_start is None


def test_idle_devices_start_at_once_and_caps_block() -> None:
    standings = explain(view(lane("a"), lane("capped", org="capco", age=50), idle=1,
                             orgs={"capco": OrgShare("capco", 3, cap=3)}), FairAffinityPolicy())
    by_app = {s.lane.app_version_id: s for s in standings}
    assert by_app["a"].reason.startswith("starts at once")
    capped = by_app["capped"]
    assert "at its cap of 3" in capped.reason and capped.estimated_start is None


@pytest.mark.parametrize(("big_age", "streams", "line"), [
    # No build waited 120 typical tests (60 s each: 7200 s): work streams in, and idle devices
    # take the least work left first, whatever the weight.
    (600.0, True, ["small", "big"]),
    # The big build waited longer: a backlog, where it finishes soonest for its weight
    # (1000 s over priority 4 and 6.7 levels of ageing, against 300 s over about 1).
    (8000.0, False, ["big", "small"]),
])
def test_the_line_follows_the_stream_rule(big_age: float, streams: bool,
                                          line: list[str]) -> None:
    ctx = view(lane("small", priority=1, age=100, work=300),
               lane("big", priority=4, age=big_age, work=1000))
    policy = FairAffinityPolicy()
    assert policy.streams(ctx) is streams
    assert [s.lane.app_version_id for s in explain(ctx, policy)] == line


def test_a_served_build_says_whether_it_takes_more() -> None:
    """While work streams in, an idle device stays off a build that has the devices its work
    left is worth at the install's price (two typical tests, 120 s, with no install record
    read): the explanation says so, rather than show an idle device beside queued jobs."""
    ctx = view(lane("small", work=100), lane("large", work=3000),
               working={"small": 2, "large": 1}, devices=6, idle=3, held=50.0)
    policy = FairAffinityPolicy()
    caps = policy.device_caps(ctx)
    assert caps is not None and caps.install_price == 120.0
    by_app = {s.lane.app_version_id: s for s in explain(ctx, policy)}
    small, large = by_app["small"], by_app["large"]
    # 200 s left (100 queued, 100 held): round(sqrt(200 / 120)) = 1 device.
    assert small.devices_worth == 1
    assert small.reason == ("running on 2 device(s), done in ~2m; its work left is worth 1 "
                            "device(s) at an install's price of ~2m of turnaround, so no "
                            "other joins")
    # 3050 s left: round(sqrt(3050 / 120)) = 5.
    assert large.devices_worth == 5
    assert large.reason.endswith("; worth 5 device(s) at an install's price of ~2m of "
                                 "turnaround: the next free device joins")


def test_an_urgent_builds_last_tests_say_why_no_device_joins() -> None:
    """An urgent build is worth every device, but where a device's install and a test would
    end after the three on it run its last tests (70 s left: 23 s each; 28 s for a joining
    one), the idle devices stay off it, and the note says why."""
    ctx = view(lane("hotfix", priority=5, work=40), working={"hotfix": 3}, devices=6,
               idle=3, held=10.0)
    policy = FairAffinityPolicy()
    [standing] = explain(ctx, policy)
    assert standing.devices_worth == 6
    assert standing.reason == ("running on 3 device(s), done in ~23s; a device joining now "
                               "would finish after the 3 on it, so no other joins")


def test_no_device_note_in_a_backlog() -> None:
    """A backlog (a build waited longer than 120 typical tests) holds no build to a number of
    devices: idle devices join by what joining gains, and the note says only the progress."""
    ctx = view(lane("old", age=8000), working={"old": 2})
    policy = FairAffinityPolicy()
    assert policy.device_caps(ctx) is None
    [standing] = explain(ctx, policy)
    assert standing.reason == "running on 2 device(s), done in ~6m"
    assert standing.devices_worth is None


def test_an_overspent_budget_says_one_device_per_build() -> None:
    # Four builds a device each: a budget of 0.45 x 4 installs does not buy one per build.
    history = (RecentBuild(600.0, 1),) * 4
    ctx = replace(view(lane("a", work=3000), working={"a": 1}, devices=6, idle=5),
                  installs_recent=100, recent_builds=history, builds_recent=4)
    policy = FairAffinityPolicy()
    caps = policy.device_caps(ctx)
    assert caps is not None and math.isinf(caps.install_price)
    [standing] = explain(ctx, policy)
    assert standing.devices_worth == 1
    assert standing.reason.endswith("; the last half hour's install budget does not buy "
                                    "every build a device, so every build runs on one")
