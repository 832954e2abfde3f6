"""Capacity planning: fleets and load parse as documented, more devices never make the wait
worse, and the recommended fleet, simulated again, meets the goal it was asked for."""

from __future__ import annotations

from typing import Any

import pytest

from qgjob.scheduler.registry import policy_named
from qgjob.sim.plan import fleet_of, parse_fleets, parse_load, plan, scaled, simulate_fleet
from qgjob.sim.trace import Trace, parse_trace

TODAY = {"emulator": 4, "device": 2}


def steady_trace(jobs: int = 40, every: float = 10.0, duration: float = 45.0) -> Trace:
    """One build per org on emulators, arriving steadily; a few device jobs."""
    rows: list[dict[str, Any]] = [
        {"id": f"j{n}", "org_id": f"org{n % 3}", "app_version_id": f"org{n % 3}-b{n // 12}",
         "test_path": f"tests/t{n}.spec.js", "target": "emulator", "submit_at": n * every,
         "duration": duration}
        for n in range(jobs)]
    rows += [{"id": f"d{n}", "org_id": "org0", "app_version_id": "org0-b0",
              "test_path": f"tests/d{n}.spec.js", "target": "device", "submit_at": 0.0,
              "duration": 30.0} for n in range(4)]
    devices = [{"id": "emulator-1", "target": "emulator"}, {"id": "device-1", "target": "device"}]
    return parse_trace({"name": "plan-test", "devices": devices, "jobs": rows})


@pytest.mark.parametrize(("spec", "fleets"), [
    ("emulator:+2", [{"emulator": 6, "device": 2}]),
    ("emulator:-1,device:5", [{"emulator": 3, "device": 5}]),
    ("emulator:2..4", [{"emulator": n, "device": 2} for n in (2, 3, 4)]),
    ("emulator:2..3,device:1..2,device", None),
    ("browserstack:2", [{"emulator": 4, "device": 2, "browserstack": 2}]),
    ("device:0", [{"emulator": 4}]),
    ("emulator:1..2,device:3..4", [{"emulator": 1, "device": 2}, {"emulator": 2, "device": 2},
                                   {"emulator": 4, "device": 3}, {"emulator": 4, "device": 4}]),
])
def test_devices_name_fleets(spec: str, fleets: list[dict[str, int]] | None) -> None:
    if fleets is None:
        with pytest.raises(ValueError):
            parse_fleets(spec, TODAY)
    else:
        assert parse_fleets(spec, TODAY) == fleets


@pytest.mark.parametrize("spec", ["phone:2", "emulator", "emulator:x", "emulator:-5",
                                  "emulator:5..2", "emulator:+1..3", "emulator:1,emulator:2",
                                  "emulator:1..500"])
def test_bad_devices_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="--devices"):
        parse_fleets(spec, TODAY)


@pytest.mark.parametrize(("text", "factor"), [("1.5x", 1.5), ("2", 2.0), ("0.5x", 0.5)])
def test_load_parses(text: str, factor: float) -> None:
    assert parse_load(text) == factor


@pytest.mark.parametrize("text", ["0x", "-1x", "fast", "x", "2000x", "0.0001x", "1e-300x"])
def test_bad_load_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="--load"):
        parse_load(text)


def test_a_load_that_spreads_arrivals_past_a_traces_times_is_refused() -> None:
    """At 1e-300x the run ended in an internal error (a lease ran out in virtual time)."""
    trace = steady_trace()
    last = max(job.submit_at for job in trace.jobs)
    with pytest.raises(ValueError, match="--load"):
        scaled(trace, last / 2e8)


def test_load_compresses_arrivals_and_keeps_the_work() -> None:
    trace = steady_trace()
    faster = scaled(trace, 2.0)
    assert [j.submit_at for j in faster.jobs] == [j.submit_at / 2 for j in trace.jobs]
    assert [j.duration for j in faster.jobs] == [j.duration for j in trace.jobs]
    policy = policy_named("qgjob")
    today = fleet_of(trace)
    assert (simulate_fleet(faster, today, policy).targets["emulator"].p95_wait
            > simulate_fleet(trace, today, policy).targets["emulator"].p95_wait)


def test_more_devices_never_raise_the_p95_wait() -> None:
    trace = steady_trace()
    result = plan(trace, parse_fleets("emulator:1..6", fleet_of(trace)), policy_named("qgjob"))
    waits = [o.targets["emulator"].p95_wait for o in result.outcomes[1:]]
    assert [o.fleet["emulator"] for o in result.outcomes[1:]] == [2, 3, 4, 5, 6]
    assert waits == sorted(waits, reverse=True) and waits[0] > waits[-1]
    assert result.recommended is None  # no goal, no recommendation


def test_the_recommended_fleet_meets_the_goal_when_simulated_again() -> None:
    trace = steady_trace()
    policy = policy_named("qgjob")
    goal = 120.0
    alternatives = parse_fleets("emulator:1..8,device:1..4", fleet_of(trace))
    result = plan(trace, alternatives, policy, load=1.5, p95_wait=goal)
    assert result.recommended is not None
    fleet = result.recommended.fleet
    checked = simulate_fleet(scaled(trace, 1.5), fleet, policy)
    assert all(t.p95_wait <= goal for t in checked.targets.values())
    for target, count in fleet.items():  # one device fewer of any target misses it
        if count > 1:
            fewer = simulate_fleet(scaled(trace, 1.5), fleet | {target: count - 1}, policy)
            assert fewer.targets[target].p95_wait > goal


def test_an_unreachable_goal_recommends_nothing() -> None:
    trace = steady_trace()
    result = plan(trace, [], policy_named("qgjob"), p95_wait=1.0)
    assert result.recommended is None and len(result.outcomes) == 1


def test_a_fleet_without_a_target_the_trace_needs_is_refused() -> None:
    trace = steady_trace()
    with pytest.raises(ValueError, match="keep at least one device"):
        plan(trace, parse_fleets("device:0", fleet_of(trace)), policy_named("qgjob"))
