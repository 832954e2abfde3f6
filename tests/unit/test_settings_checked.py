"""Every bad server setting stops the server at start with one line that names it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.settings import ServerSettings


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"QGJOB_LEASE_SECONDS": "-5"}, "QGJOB_LEASE_SECONDS=-5.0 must be greater than 0"),
        ({"QGJOB_HEARTBEAT_SECONDS": "100"}, "must be shorter than QGJOB_LEASE_SECONDS"),
        # Accepted, a 1 ms heartbeat kept two thirds of a core busy with nothing queued.
        ({"QGJOB_HEARTBEAT_SECONDS": "0.001"}, "QGJOB_HEARTBEAT_SECONDS=0.001 must be at "
                                               "least 0.1: it repeats for as long as"),
        ({"QGJOB_CLAIM_POLL_SECONDS": "0.01"}, "QGJOB_CLAIM_POLL_SECONDS=0.01 must be at least"),
        ({"QGJOB_MAINTENANCE_SECONDS": "1e-9"}, "QGJOB_MAINTENANCE_SECONDS=1e-09 must be at"),
        ({"QGJOB_USAGE_COUNT_SECONDS": "0.05"}, "QGJOB_USAGE_COUNT_SECONDS=0.05 must be at"),
        ({"QGJOB_MAX_BATCH": "0"}, "QGJOB_MAX_BATCH=0 must be greater than 0"),
        ({"QGJOB_CLAIM_WAIT_SECONDS": "600"}, "the 60 s the API lets a claim wait"),
        ({"QGJOB_LEASE_SECONDS": "nan"}, "QGJOB_LEASE_SECONDS='nan' is not a valid float"),
        # inf passed `> 0`, then every maintenance pass failed pruning history before it.
        ({"QGJOB_TEST_HISTORY_DAYS": "inf"}, "QGJOB_TEST_HISTORY_DAYS='inf' is not a valid float"),
        ({"QGJOB_TEST_HISTORY_DAYS": "1e300"}, "is longer than the 36500 days a setting may be"),
        ({"QGJOB_LEASE_SECONDS": "1e300"}, "is longer than the 1e+09 seconds a setting may be"),
        ({"QGJOB_TIER_WEIGHTS": '{"gold": NaN}'}, "the value for 'gold' must be a finite number"),
        ({"QGJOB_MAX_ATTEMPTS": "2.5"}, "QGJOB_MAX_ATTEMPTS='2.5' is not a valid int"),
        # A default no submit could ask for (and that a recording's trace would carry).
        ({"QGJOB_MAX_ATTEMPTS": "11"}, "QGJOB_MAX_ATTEMPTS=11 must be at most 10, the most a "
                                       "submit may ask for"),
        ({"QGJOB_PREEMPTION": "maybe"}, "QGJOB_PREEMPTION='maybe' is not a valid bool"),
        ({"QGJOB_RETRY_BASE_SECONDS": "600"}, "must not exceed QGJOB_RETRY_MAX_SECONDS"),
        ({"QGJOB_RETRY_BASE_SECONDS": "-2"}, "QGJOB_RETRY_BASE_SECONDS=-2.0 must not be negative"),
        ({"QGJOB_AGENT_OFFLINE_SECONDS": "1"}, "every agent would look offline"),
        ({"QGJOB_RATE_LIMIT_PER_SECOND": "-1"}, "must not be negative"),
        ({"QGJOB_POLICY": '{"joinx": 1}'}, "QGJOB_POLICY: unknown setting(s) joinx"),
        ({"QGJOB_POLICY": '{"join_installs": -1}'}, "must be positive"),
        ({"QGJOB_POLICY": '{"aging_seconds": NaN}'}, "must be a finite number"),
        ({"QGJOB_POLICY": '{"aging_seconds": 1e400}'}, "must be a finite number"),
        ({"QGJOB_POLICY": '{"aging_seconds": 1e200}'}, "aging_seconds=1e+200 is too large"),
        ({"QGJOB_POLICY": '{"cut_in_levels": 2.5}'}, "cut_in_levels=2.5 must be a whole number"),
        ({"QGJOB_POLICY": '{"urgent_priority": 99}'}, "urgent_priority=99 must be a priority"),
        ({"QGJOB_POLICY": '{"batch_chance": 1}'}, "batch_chance=1 must be a chance between 0"),
        ({"QGJOB_ALLOWED_HOSTS": "devbox:8000"}, "QGJOB_ALLOWED_HOSTS: 'devbox:8000' is not "
                                                 "a host name or address"),
        ({"QGJOB_ALLOWED_HOSTS": "*.lan"}, "QGJOB_ALLOWED_HOSTS: '*.lan' is not a host name"),
    ],
)
def test_a_bad_setting_is_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        ServerSettings.from_env(env)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_the_policy_takes_its_settings() -> None:
    settings = ServerSettings.from_env({"QGJOB_POLICY": '{"join_installs": 3}',
                                        "QGJOB_MAX_BATCH": "2", "QGJOB_PREEMPTION": "true"})
    policy = settings.scheduling_policy()
    assert policy == FairAffinityPolicy(join_installs=3, max_batch=2, preemption=True)


def test_the_server_refuses_to_start_with_exit_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "qgjob", "server", "--port", "18998"],
        env={"QGJOB_HEARTBEAT_SECONDS": "100", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "qgjob: error: QGJOB_HEARTBEAT_SECONDS=100.0 must be shorter than "
        "QGJOB_LEASE_SECONDS=30.0: a lease would lapse between heartbeats"]
