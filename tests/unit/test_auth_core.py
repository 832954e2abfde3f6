"""The pure parts of access control: tokens, rate limits, loopback addresses."""

from __future__ import annotations

import pytest

from qgjob.auth import tokens
from qgjob.auth.network import is_loopback
from qgjob.auth.principal import Principal
from qgjob.auth.ratelimit import RateLimiter
from qgjob.auth.tokens import Role


def test_an_issued_token_parses_and_matches_only_its_own_hash() -> None:
    record, text = tokens.issue(Role.SUBMITTER, "acme", 100.0)
    presented = tokens.parse(text)
    assert presented is not None and presented.token_id == record.token_id
    assert tokens.matches(record, presented)
    assert presented.secret not in record.secret_sha256 and len(record.secret_sha256) == 64
    other, _ = tokens.issue(Role.SUBMITTER, "acme", 100.0)
    assert not tokens.matches(other, presented)
    assert (record.org_id, record.role, record.created_at, record.active) == (
        "acme", Role.SUBMITTER, 100.0, True)


def test_tokens_are_unique() -> None:
    texts = {tokens.issue(Role.ADMIN, None, 0.0)[1] for _ in range(50)}
    assert len(texts) == 50


@pytest.mark.parametrize("text", [
    "", "qgj_", "Bearer qgj_x", "qgj_0123456789ab", "qgj_0123456789ab_short",
    "qgj_0123456789AB_" + "a" * 43, "qgj_0123456789ab_" + "a" * 42 + "!",
    "qgj_0123456789ab_" + "a" * 44, "x" * 10_000,
])
def test_malformed_tokens_do_not_parse(text: str) -> None:
    assert tokens.parse(text) is None


@pytest.mark.parametrize(("principal", "org", "sees"), [
    (Principal(Role.ADMIN), "acme", True),
    (Principal(Role.SUBMITTER, "acme", "t1"), "acme", True),
    (Principal(Role.SUBMITTER, "acme", "t1"), "globex", False),
    (Principal(Role.AGENT, "acme", "t2"), "globex", False),
])
def test_who_sees_which_org(principal: Principal, org: str, sees: bool) -> None:
    assert principal.sees_org(org) is sees


# (requests at times, per second, burst) -> seconds to wait reported for each request
@pytest.mark.parametrize(("times", "per_second", "burst", "waits"), [
    ([0, 0, 0], 1, 2, [0, 0, 1.0]),  # the burst, then one per second
    ([0, 0, 0.5, 1.0], 1, 2, [0, 0, 0.5, 0]),  # refilled by half, then fully
    ([0, 0, 0, 10], 1, 2, [0, 0, 1.0, 0]),  # waiting long enough resets
    ([0, 0, 0], 10, 1, [0, 0.1, 0.1]),  # burst 1: every request costs 1/rate
    ([0] * 5, 0, 1, [0] * 5),  # rate 0: no limit
])
def test_rate_limiter(times: list[float], per_second: float, burst: float,
                      waits: list[float]) -> None:
    limiter = RateLimiter(per_second, burst)
    assert [pytest.approx(limiter.take("k", now)) for now in times] == waits


# (costs at time 0 then 1 s later, per second, burst) -> seconds to wait for each
@pytest.mark.parametrize(("costs", "per_second", "burst", "waits"), [
    ([5, 5, 1], 10, 10, [0, 0, 0.1]),  # costs add up: the bucket is empty after two
    ([30, 1], 10, 10, [0, 2.1]),  # a cost over the burst passes on a full bucket, in debt
    ([4, 8], 10, 10, [0, 0.2]),  # a cost that does not fit waits for what it lacks
])
def test_rate_limiter_weighs_costs(costs: list[float], per_second: float, burst: float,
                                   waits: list[float]) -> None:
    limiter = RateLimiter(per_second, burst)
    assert [pytest.approx(limiter.take("k", 0, cost)) for cost in costs] == waits


def test_rate_limits_are_per_key_and_bounded_in_memory() -> None:
    limiter = RateLimiter(1, 1, max_keys=10)
    assert limiter.take("a", 0) == 0 and limiter.take("a", 0) > 0
    assert limiter.take("b", 0) == 0
    for n in range(100):
        limiter.take(f"k{n}", 0)
    assert len(limiter) <= 11


@pytest.mark.parametrize(("host", "resolved", "loopback"), [
    ("127.0.0.1", [], True),
    ("127.0.0.2", [], True),
    ("::1", [], True),
    ("[::1]", [], True),
    ("0.0.0.0", [], False),
    ("::", [], False),
    ("", [], False),
    ("192.168.1.10", [], False),
    ("localhost", ["127.0.0.1", "::1"], True),
    ("lab-host", ["127.0.0.1", "10.0.0.5"], False),
    ("nowhere", None, False),
])
def test_loopback_hosts(host: str, resolved: list[str] | None, loopback: bool) -> None:
    def resolve(name: str) -> list[str]:
        if resolved is None:
            raise OSError("unknown host")
        return resolved

    assert is_loopback(host, resolve) is loopback
