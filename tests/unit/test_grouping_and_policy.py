import pytest

from qgjob.domain.models import GroupKey, group_key_for
from qgjob.scheduler.policy import PriorityAffinityPolicy
from qgjob.scheduler.views import ClaimContext, DeviceView, GroupView
from tests.factories import BRIEF_EXAMPLE, T0


def test_the_brief_example_makes_three_groups() -> None:
    keys = [group_key_for(org, app, target) for org, app, _, target in BRIEF_EXAMPLE]
    assert keys[0] == keys[1] == keys[4] == GroupKey("emulator", "xyz123")
    assert keys[2] == GroupKey("device", "xyz123")
    assert keys[3] == GroupKey("emulator", "xyz999")
    assert len(set(keys)) == 3


def test_grouping_per_org_keeps_orgs_apart() -> None:
    keys = {group_key_for(org, app, target, per_org=True)
            for org, app, _, target in BRIEF_EXAMPLE}
    assert len(keys) == 4
    assert str(GroupKey("emulator", "xyz123", "acme")) == "emulator|xyz123|acme"


def group(key: str, queued: dict[int, int], oldest: float = T0) -> GroupView:
    counts = tuple(queued.get(p, 0) for p in range(1, 6))
    return GroupView(key, key, "emulator", None, counts, oldest)


def ctx(*groups: GroupView, holds: str | None = None, devices: int = 1) -> ClaimContext:
    return ClaimContext(DeviceView("lab/emulator-1", "emulator", holds), groups, devices, T0)


POLICY = PriorityAffinityPolicy(max_batch=4)


@pytest.mark.parametrize(
    ("context", "chosen"),
    [
        (ctx(), None),
        (ctx(group("a", {3: 1})), "a"),
        # higher priority first
        (ctx(group("a", {3: 5}), group("b", {5: 1})), "b"),
        # same priority: oldest first
        (ctx(group("a", {3: 1}, oldest=T0 + 5), group("b", {3: 1}, oldest=T0)), "b"),
        # same priority: the app the device holds wins over an older group (no reinstall)
        (ctx(group("a", {3: 1}, oldest=T0 + 5), group("b", {3: 1}, oldest=T0), holds="a"), "a"),
        # but not over more urgent work
        (ctx(group("a", {3: 9}), group("b", {4: 1}), holds="a"), "b"),
    ],
)
def test_which_group(context: ClaimContext, chosen: str | None) -> None:
    choice = POLICY.choose(context)
    assert (choice.group_key if choice else None) == chosen


@pytest.mark.parametrize(
    ("queued", "devices", "size"),
    [(1, 1, 1), (3, 1, 3), (10, 1, 4), (10, 3, 4), (6, 3, 2), (2, 5, 1)],
)
def test_a_group_is_shared_out_in_small_batches(queued: int, devices: int, size: int) -> None:
    choice = POLICY.choose(ctx(group("a", {3: queued}), devices=devices))
    assert choice is not None and choice.size == size
