"""The simulator runs every policy over every shipped trace (and generated ones) into a
feasible, deterministic schedule."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from qgjob.scheduler.registry import POLICY_NAMES, policy_named
from qgjob.sim.engine import Simulator, first_beat
from qgjob.sim.generate import EXAMPLES, KINDS, generate, trace_json
from qgjob.sim.metrics import summarize
from qgjob.sim.trace import (
    MAX_SECONDS,
    MAX_SPAN_SECONDS,
    Trace,
    TraceError,
    load_trace,
    parse_trace,
)
from tests.sim.schedule_checker import check_schedule

TRACES = Path(__file__).resolve().parents[2] / "examples" / "traces"
TRACE_FILES = sorted(TRACES.glob("*.json"))


def example(name: str) -> Trace:
    return load_trace(TRACES / f"{name}.json")


def test_the_shipped_traces_are_what_the_documented_command_writes() -> None:
    """examples/traces/KIND.json is `qgjob trace KIND` (seed 1): after a change to the
    generator, write them again with the command in examples/traces/README.md."""
    assert [p.stem for p in TRACE_FILES] == sorted([*KINDS, *EXAMPLES])
    for path in TRACE_FILES:
        assert path.read_text() == trace_json(generate(path.stem, seed=1)), path.name


@pytest.mark.parametrize("policy", POLICY_NAMES)
@pytest.mark.parametrize("path", TRACE_FILES, ids=lambda p: p.stem)
def test_every_policy_makes_a_feasible_schedule(path: Path, policy: str) -> None:
    trace = load_trace(path)
    result = Simulator(trace, policy_named(policy)).run()
    assert check_schedule(trace, result.events) == []


@pytest.mark.parametrize("policy", POLICY_NAMES)
@pytest.mark.parametrize("kind", KINDS)
def test_generated_traces_too(kind: str, policy: str) -> None:
    trace = parse_trace(generate(kind, seed=3))
    result = Simulator(trace, policy_named(policy)).run()
    assert check_schedule(trace, result.events) == []


def test_the_same_run_twice_gives_the_same_schedule() -> None:
    trace = parse_trace(generate("steady", seed=1))
    first = Simulator(trace, policy_named("qgjob"), seed=4).run().events
    second = Simulator(trace, policy_named("qgjob"), seed=4).run().events
    assert json.dumps(first) == json.dumps(second)


def test_the_brief_example() -> None:
    trace = example("brief")
    summary = summarize(trace, "qgjob", Simulator(trace, policy_named("qgjob")).run().events)
    assert summary.installs == summary.min_installs == 3
    assert summary.passed == 5


def test_a_handful_of_jobs_on_an_idle_fleet_runs_side_by_side() -> None:
    """Six jobs of one build, six idle emulators, nothing else submitted: every emulator runs
    one, and the build ends with its longest test after one install (FIFO-with-affinity's
    schedule, and the lower bound). Priced at one guess before anything ran, six jobs look
    like work for three devices; counted whole, the sixth would wait for a busy device."""
    lengths = [24.7, 20.6, 61.2, 15.1, 65.6, 94.2]
    trace = parse_trace({
        "name": "handful", "install_seconds": {"emulator": 20.0},
        "devices": [{"id": f"emulator-{i}", "target": "emulator"} for i in range(1, 7)],
        "jobs": [{"id": f"j{i}", "org_id": "acme", "app_version_id": "nightly1",
                  "test_path": f"tests/t{i}.spec.js", "target": "emulator", "priority": 1,
                  "submit_at": 0.0, "duration": d, "outcomes": ["pass"]}
                 for i, d in enumerate(lengths)]})
    events = Simulator(trace, policy_named("qgjob")).run().events
    assert check_schedule(trace, events) == []
    tests = [e for e in events if e["kind"] == "test"]
    assert len({e["device"] for e in tests}) == 6
    assert max(e["end"] for e in tests) == pytest.approx(20.0 + 94.2)


@pytest.mark.parametrize(("install", "first"), [(4.0, 0.0), (2.8, 33926.0)])
def test_a_device_left_idle_while_a_build_arrives_asks_again_when_its_submits_stop(
        install: float, first: float) -> None:
    """The brief's shape: a build's second job and another target's build come 0.3 s after
    its first. The idle emulator does not join while the build arrives, and joins when its
    submits have stopped for the window (a quarter of the install: 1 s, 0.7 s) -- then, not
    at its next poll. (At 33926.3 + 0.7 the difference from the submit rounds below 0.7:
    the policy's tests and its look-again compare the same sum.)"""
    def job(n: int, app: str, target: str, at: float) -> dict[str, object]:
        return {"id": f"j{n}", "org_id": "acme", "app_version_id": app,
                "test_path": f"tests/t{n}.spec.js", "target": target, "priority": 3,
                "submit_at": first + at, "duration": 3.0, "outcomes": ["pass"]}

    trace = parse_trace({
        "name": "arriving", "install_seconds": {"emulator": install, "device": install},
        "devices": [{"id": "emulator-1", "target": "emulator"},
                    {"id": "emulator-2", "target": "emulator"},
                    {"id": "device-1", "target": "device"}],
        "jobs": [job(1, "xyz123", "emulator", 0.0), job(2, "xyz123", "emulator", 0.3),
                 job(3, "xyz123", "device", 0.3)]})
    events = Simulator(trace, policy_named("qgjob")).run().events
    assert check_schedule(trace, events) == []
    second = [e for e in events if e["device"] == "emulator-2" and e["kind"] == "install"]
    assert [e["start"] for e in second] == [pytest.approx(first + 0.3 + install / 4)]


def test_the_checker_catches_a_broken_schedule() -> None:
    trace = example("brief")
    events = Simulator(trace, policy_named("qgjob")).run().events
    tests = [e for e in events if e["kind"] == "test"]
    broken = [e for e in events if e is not tests[0]]  # a job never ran
    assert any("attempts" in p for p in check_schedule(trace, broken))
    no_install = [e for e in events if e["kind"] == "test"]
    assert any("without" in p for p in check_schedule(trace, no_install))


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ([], "object"),
        ({"devices": [], "jobs": []}, "at least one device"),
        ({"devices": [{"id": "e1", "target": "tv"}], "jobs": []}, "target"),
        ({"devices": [{"id": "e1", "target": "emulator"}],
          "jobs": [{"id": "j", "org_id": "o", "app_version_id": "a", "test_path": "t",
                    "target": "device", "submit_at": 0, "duration": 1}]}, "no device"),
        ({"devices": [{"id": "e1", "target": "emulator"}],
          "jobs": [{"id": "j", "org_id": "o", "app_version_id": "a", "test_path": "t",
                    "target": "emulator", "submit_at": 0, "duration": -1}]}, "duration"),
        ({"devices": [{"id": "e1", "target": "emulator"}],
          "jobs": [{"id": "j", "org_id": "o", "app_version_id": "a", "test_path": "t",
                    "target": "emulator", "submit_at": 0, "duration": 1,
                    "outcomes": ["maybe"]}]}, "outcomes"),
    ],
)
def test_bad_traces_are_refused_with_a_reason(raw: object, says: str) -> None:
    with pytest.raises(TraceError, match=says):
        parse_trace(raw)


def _one_job(**changes: object) -> dict[str, object]:
    job = {"id": "j", "org_id": "o", "app_version_id": "a", "test_path": "t",
           "target": "emulator", "submit_at": 0, "duration": 1, "outcomes": ["fail"]}
    trace: dict[str, object] = {"devices": [{"id": "e1", "target": "emulator"}], "jobs": [job]}
    for key, value in changes.items():
        (job if key in job else trace)[key] = value
    return trace


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        # Python's json reads NaN and Infinity: no time can be either (NaN hung the run).
        ({"duration": math.nan}, "duration"),
        ({"submit_at": math.inf}, "submit_at"),
        # At 1e300 s a 30 s lease ends when it starts (the run stopped on a lost lease).
        ({"submit_at": 1e300}, "submit_at"),
        ({"install_seconds": {"emulator": 1e300}}, "install_seconds"),
        # A billion attempts of a failing test would never end: as many as a submit may ask.
        ({"max_attempts": 10**9}, "max_attempts"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_times_and_attempts_no_run_could_finish_are_refused(changes: dict[str, object],
                                                             says: str) -> None:
    with pytest.raises(TraceError, match=says):
        parse_trace(_one_job(**changes))


def test_tests_and_installs_of_no_time_run_and_have_a_bound() -> None:
    """A zero-second test (and install) divided by zero in the makespan's lower bound."""
    for install in (0.0, 20.0):
        trace = parse_trace(_one_job(duration=0, outcomes=["pass"],
                                     install_seconds={"emulator": install}))
        summary = summarize(trace, "qgjob", Simulator(trace, policy_named("qgjob")).run().events)
        assert summary.passed == 1
        assert summary.lower_bound == install
        assert summary.makespan >= summary.lower_bound


def test_the_longest_times_a_trace_may_state_still_run() -> None:
    trace = parse_trace(_one_job(submit_at=MAX_SECONDS, duration=MAX_SPAN_SECONDS,
                                 install_seconds={"emulator": MAX_SPAN_SECONDS}, max_attempts=2))
    summary = summarize(trace, "qgjob", Simulator(trace, policy_named("qgjob")).run().events)
    assert summary.failed == 1 and summary.makespan >= MAX_SECONDS + 3 * MAX_SPAN_SECONDS


@pytest.mark.parametrize("changes", [{"duration": MAX_SPAN_SECONDS + 1},
                                     {"install_seconds": {"emulator": MAX_SPAN_SECONDS + 1}}])
def test_a_test_or_install_longer_than_a_day_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(TraceError, match="a day"):
        parse_trace(_one_job(**changes))


def test_a_quiet_stretch_is_skipped_not_polled_through() -> None:
    """Nothing waits between the first build and one submitted three years later: the
    devices' polls skip to it (one every two virtual seconds made this take minutes), and
    the schedule is what polling through would give."""
    raw = json.loads((TRACES / "brief.json").read_text())
    raw["jobs"][-1]["submit_at"] = MAX_SECONDS
    trace = parse_trace(raw)
    result = Simulator(trace, policy_named("qgjob")).run()
    assert result.decisions < 100
    assert check_schedule(trace, result.events) == []
    last = [e for e in result.events if e["kind"] == "test"][-1]
    assert last["start"] >= MAX_SECONDS


class _PollingThrough(Simulator):
    """The engine as it was: a declined device asks again every poll, whatever waits."""

    def _next_poll(self, now: float) -> float:
        return now + self.poll_seconds


def test_skipping_polls_gives_the_schedule_polling_through_gives() -> None:
    """A burst whose first jobs arrive after a lone long test: the devices' polls skip the
    quiet stretch across 1,024 s, where float additions of 2 s round differently from one
    multiplication; a beat an ulp off made a device take another build at the burst's
    arrival (the review's trace)."""
    raw = generate("burst", 0)
    jobs = raw["jobs"][:40]
    shift = 1082.91 - max(job["submit_at"] for job in jobs)
    raw["jobs"] = [dict(job, submit_at=round(job["submit_at"] + shift, 3)) for job in jobs]
    raw["jobs"].append({"id": "lone", "org_id": "org1", "app_version_id": "lone-build",
                        "test_path": "tests/x.spec.js", "target": "emulator", "priority": 3,
                        "submit_at": 152.91, "duration": 859.72})
    trace = parse_trace(raw)
    policy = policy_named("qgjob")
    assert Simulator(trace, policy).run().events == _PollingThrough(trace, policy).run().events


@pytest.mark.parametrize("step", [2.0, 0.5, 3.0, 0.1])
def test_the_first_beat_is_where_adding_the_step_up_lands(step: float) -> None:
    rng = random.Random(7)
    for _ in range(2000):
        now = round(rng.uniform(0, rng.choice([10, 1e3, 1e5, 1e8])), rng.choice([0, 2, 6]))
        target = now + rng.uniform(0, 5000 * step)
        added = now + step
        while added < target:
            added += step
        for aim in (target, added, math.nextafter(added, 0.0)):
            expected = now + step
            while expected < aim:
                expected += step
            assert first_beat(now, aim, step) == expected


def test_a_number_past_pythons_digit_cap_is_not_a_trace(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text('{"jobs": [{"submit_at": 1' + "0" * 5000 + "}]}")
    with pytest.raises(TraceError, match=r"big\.json is not a trace: a number"):
        load_trace(path)


def test_hard_preemption_keeps_the_schedule_feasible() -> None:
    from dataclasses import replace

    from qgjob.scheduler.policy import FairAffinityPolicy

    trace = parse_trace(generate("priority", seed=2))
    simulator = Simulator(trace, replace(FairAffinityPolicy(), preemption=True))
    events = simulator.run().events
    assert simulator.preemptions > 0
    assert any(e.get("outcome") == "preempted" for e in events)
    assert check_schedule(trace, events) == []


def test_a_long_simulation_says_how_far_it_is() -> None:
    """`qgjob simulate` of a trace of hundreds of thousands of jobs ran for minutes without a
    word: the simulator tells a listener now and then, in order, and the schedule is the same
    with one as without."""
    trace = parse_trace(generate("steady", seed=2))
    heard: list[tuple[int, float]] = []
    told = Simulator(trace, policy_named("qgjob")).run(
        progress=lambda finished, now: heard.append((finished, now))).events
    assert heard and heard == sorted(heard)
    assert all(0 <= finished <= len(trace.jobs) for finished, _ in heard)
    assert told == Simulator(trace, policy_named("qgjob")).run().events
