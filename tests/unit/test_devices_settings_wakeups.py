import asyncio

import pytest

from qgjob.agent.devices import parse_devices
from qgjob.domain.values import InvalidValue
from qgjob.settings import ServerSettings
from qgjob.wakeups import ClaimWaiters


def test_devices_are_named_per_kind() -> None:
    names = [(d.name, d.target) for d in parse_devices("emulator:2, device:1,emulator")]
    assert names == [("emulator-1", "emulator"), ("emulator-2", "emulator"),
                     ("device-1", "device"), ("emulator-3", "emulator")]


@pytest.mark.parametrize("spec", ["", "tv:2", "emulator:0", "emulator:-1", "emulator:x", ",",
                                  "emulator:²", "emulator:30000000", "emulator:200,device:57"])
def test_bad_device_specs(spec: str) -> None:
    with pytest.raises(InvalidValue):
        parse_devices(spec)


def test_org_tiers_caps_and_weights_from_the_environment() -> None:
    env = {"QGJOB_ORG_TIERS": '{"acme": "enterprise", "tiny": "standard"}',
           "QGJOB_ORG_CAPS": '{"acme": 4}'}
    settings = ServerSettings.from_env(env)
    assert settings.org_caps == {"acme": 4}
    assert settings.org_weights() == {"acme": 4.0, "tiny": 1.0}


def test_a_tier_nobody_weighs_is_refused_at_start() -> None:
    """A misspelt tier would otherwise weigh as standard without a word."""
    with pytest.raises(ValueError, match="QGJOB_ORG_TIERS: 'acme' is in tier 'enterprize', "
                                         "which QGJOB_TIER_WEIGHTS does not weigh"):
        ServerSettings.from_env({"QGJOB_ORG_TIERS": '{"acme": "enterprize"}'})
    with pytest.raises(ValueError, match=r"'premium'.*it has gold, standard"):
        ServerSettings.from_env({"QGJOB_TIER_WEIGHTS": '{"standard": 1, "gold": 3}',
                                 "QGJOB_ORG_TIERS": '{"acme": "premium"}'})
    # "standard" needs no weight of its own: it weighs 1 unless QGJOB_TIER_WEIGHTS says.
    settings = ServerSettings.from_env({"QGJOB_TIER_WEIGHTS": '{"gold": 3}',
                                        "QGJOB_ORG_TIERS": '{"acme": "standard"}'})
    assert settings.org_weights() == {"acme": 1.0}


def test_an_org_in_no_tier_weighs_what_standard_weighs() -> None:
    settings = ServerSettings.from_env({
        "QGJOB_TIER_WEIGHTS": '{"standard": 2, "enterprise": 8}',
        "QGJOB_ORG_TIERS": '{"acme": "enterprise", "listed": "standard"}'})
    rules = settings.fleet_rules()
    weights = {org: rules.share(org, 0).weight for org in ("acme", "listed", "unlisted")}
    assert weights == {"acme": 8.0, "listed": 2.0, "unlisted": 2.0}


def test_install_times_to_assume_until_measured() -> None:
    rules = ServerSettings.from_env({"QGJOB_INSTALL_SECONDS": '{"emulator": 2.5}'}).fleet_rules()
    assert rules.install_seconds == {"emulator": 2.5, "device": 45.0, "browserstack": 60.0}
    assert ServerSettings.from_env({}).fleet_rules().install_seconds["emulator"] == 20.0


@pytest.mark.parametrize(("name", "raw"), [("QGJOB_ORG_CAPS", "[4]"),
                                           ("QGJOB_INSTALL_SECONDS", '{"phone": 3}'),
                                           ("QGJOB_INSTALL_SECONDS", '{"device": 0}'),
                                           ("QGJOB_INSTALL_SECONDS", '{"device": 1e10}'),
                                           ("QGJOB_ORG_CAPS", '{"acme": 0}'),
                                           ("QGJOB_ORG_CAPS", '{"acme": "four"}'),
                                           ("QGJOB_TIER_WEIGHTS", "not json"),
                                           ("QGJOB_MAX_CONNECTIONS", "0"),
                                           ("QGJOB_HTTP_IDLE_SECONDS", "0"),
                                           ("QGJOB_HTTP_HEADER_SECONDS", "-1")])
def test_bad_org_settings_name_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ValueError, match=name):
        ServerSettings.from_env({name: raw})


def test_settings_from_environment_and_overrides() -> None:
    env = {"QGJOB_DB": "sqlite:///x.db", "QGJOB_LEASE_SECONDS": "12.5",
           "QGJOB_GROUP_BY_ORG": "yes", "QGJOB_MAX_BATCH": "2"}
    settings = ServerSettings.from_env(env, max_batch=None, lease_seconds=7.0)
    assert settings.database_url == "sqlite:///x.db"
    assert settings.group_by_org is True
    assert settings.max_batch == 2
    assert settings.lease_seconds == 7.0


def test_bad_setting_names_the_variable() -> None:
    with pytest.raises(ValueError, match="QGJOB_LEASE_SECONDS"):
        ServerSettings.from_env({"QGJOB_LEASE_SECONDS": "soon"})


def test_wakeups_prefer_devices_holding_the_app() -> None:
    async def scenario() -> list[bool]:
        waiters = ClaimWaiters()
        with waiters.waiting("emulator", "other") as a, \
                waiters.waiting("emulator", "xyz123") as b, \
                waiters.waiting("device", "xyz123") as c:
            assert waiters.notify("emulator", "xyz123", 1) == 1
            return [a.is_set(), b.is_set(), c.is_set()]

    assert asyncio.run(scenario()) == [False, True, False]


def test_wakeups_wake_no_more_than_asked_and_forget_finished_waiters() -> None:
    async def scenario() -> tuple[int, int]:
        waiters = ClaimWaiters()
        with waiters.waiting("emulator", None), waiters.waiting("emulator", None):
            woken = waiters.notify("emulator", "x", 5)
        return woken, waiters.waiting_count()

    assert asyncio.run(scenario()) == (2, 0)
