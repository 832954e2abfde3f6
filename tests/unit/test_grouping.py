from qgjob.domain.models import GroupKey, group_key_for
from tests.factories import BRIEF_EXAMPLE


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
