"""The planner that sees a whole stream (benchmarks/hindsight.py): its schedules are real ones,
judged as the policy's are, and its rule is the one its docstring states."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks import common
from benchmarks.common import seed_count
from benchmarks.goals import baseline_events
from benchmarks.hindsight import (
    HINDSIGHT,
    ONLINE,
    Foresight,
    PricedPolicy,
    Stream,
    best_price,
    budget_caps,
    build_of,
    build_work,
    plan,
    result_name,
    turnaround_bound,
)
from benchmarks.judged import scored_trace
from qgjob.scheduler.durations import DEFAULT_SECONDS
from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.sim.engine import Simulator
from qgjob.sim.generate import brief_example, generate
from qgjob.sim.metrics import lower_bound, summarize
from qgjob.sim.trace import parse_trace


def test_every_job_runs_every_attempt_it_needs_on_a_device_of_its_target() -> None:
    trace = parse_trace(generate("steady", 3))
    for foresight in (HINDSIGHT, ONLINE, Foresight(lengths=True, failures=False),
                      Foresight(lengths=False, failures=True)):
        events = plan(trace, 70.0, foresight)
        summary = summarize(trace, "planner", events)
        assert summary.passed + summary.failed == len(trace.jobs)
        targets = {d.device_id: d.target for d in trace.devices}
        jobs = {j.job_id: j for j in trace.jobs}
        attempts: dict[str, int] = defaultdict(int)
        for event in events:
            if event["kind"] == "test":
                job = jobs[event["job_id"]]
                assert targets[event["device"]] == job.target
                assert event["start"] >= job.submit_at
                attempts[job.job_id] += 1
        assert all(attempts[j.job_id] == j.attempts_needed(trace.max_attempts)
                   for j in trace.jobs)


def test_a_device_never_runs_two_things_at_once_and_installs_before_it_tests() -> None:
    trace = parse_trace(generate("burst", 2))
    installed: dict[str, str] = {}
    free: dict[str, float] = defaultdict(float)
    apps = {j.job_id: j.app_version_id for j in trace.jobs}
    for event in sorted(plan(trace, 40.0, ONLINE),
                        key=lambda e: (e["start"], e["kind"] == "test")):
        assert event["start"] >= free[event["device"]] - 1e-9
        free[event["device"]] = event["end"]
        if event["kind"] == "install":
            installed[event["device"]] = event["app_version_id"]
        else:
            assert installed[event["device"]] == apps[event["job_id"]]


def test_a_higher_price_per_install_spends_fewer_installs() -> None:
    trace = parse_trace(generate("steady", 3))
    cheap = summarize(trace, "planner", plan(trace, 20.0, HINDSIGHT))
    dear = summarize(trace, "planner", plan(trace, 200.0, HINDSIGHT))
    assert dear.installs < cheap.installs


def test_the_brief_example_meets_its_bound() -> None:
    trace = parse_trace(brief_example())
    summary = summarize(trace, "planner", plan(trace, 1.0, HINDSIGHT))
    assert summary.makespan == lower_bound(trace)


def test_the_turnaround_bound_holds_for_every_schedule_at_its_installs() -> None:
    """Whatever a schedule does, its mean build turnaround is at least the bound at the
    installs it spent: the policy's, FIFO's, and the planner's at two prices."""
    trace = parse_trace(generate("steady", 4))
    schedules = {"qgjob": Simulator(trace, FairAffinityPolicy()).run().events,
                 "fifo": baseline_events(trace, "fifo"),
                 "cheap": plan(trace, 20.0, HINDSIGHT), "dear": plan(trace, 200.0, HINDSIGHT)}
    for name, events in schedules.items():
        summary = summarize(trace, name, events)
        assert turnaround_bound(trace, summary.installs) <= summary.mean_turnaround, name


def test_the_price_chosen_meets_every_goal_with_most_room_else_misses_least() -> None:
    def goals(*ratios: float) -> list[dict[str, float | bool]]:
        return [{"value": r, "limit": 1.0, "met": r <= 1.0} for r in ratios]
    assert best_price({50.0: goals(0.9, 0.99), 100.0: goals(0.95, 0.96),
                       150.0: goals(0.5, 1.01)}) == 100.0
    assert best_price({50.0: goals(1.2, 0.5), 100.0: goals(1.05, 1.04)}) == 100.0


def test_an_install_budget_gives_every_build_a_device_and_spends_no_more() -> None:
    trace = parse_trace(generate("steady", 4))
    builds = build_work(trace)
    fleet = {d.target: sum(x.target == d.target for x in trace.devices) for d in trace.devices}
    assert budget_caps(trace, len(builds) - 1) is None
    assert turnaround_bound(trace, len(builds) - 1) == float("inf")
    bounds = []
    for budget in (len(builds), len(builds) + 40, 10 * len(builds)):
        caps = budget_caps(trace, budget)
        assert caps is not None and set(caps) == set(builds)
        assert sum(caps.values()) <= budget
        assert all(1 <= caps[b] <= min(builds[b].jobs, fleet[b[2]]) for b in caps)
        bounds.append(turnaround_bound(trace, budget))
    assert bounds[0] > bounds[1] >= bounds[2]  # more installs, shorter spans
    # Each further device goes where it shortens a span most: a build of one job never
    # gets a second, and the build asking most of its devices gets the most.
    caps = budget_caps(trace, len(builds) + 40)
    assert caps is not None
    widest = max(builds, key=lambda b: builds[b].work)
    assert caps[widest] == max(caps[b] for b in caps if b[2] == widest[2])


def test_the_planner_keeps_to_caps_it_is_given() -> None:
    """With caps, no build ever has more devices on it at once than its cap."""
    trace = parse_trace(generate("steady", 4))
    caps = budget_caps(trace, len(build_work(trace)) + 20)
    assert caps is not None
    jobs = {j.job_id: j for j in trace.jobs}
    runs = [(e["start"], e["end"], build_of(jobs[e["job_id"]]))
            for e in plan(trace, 85.0, HINDSIGHT, caps) if e["kind"] == "test"]
    for start, _, build in runs:
        at_once = sum(1 for s, e, b in runs if b == build and s <= start < e)
        assert at_once <= caps[build]


def test_a_run_of_no_traces_is_refused_before_it_writes_a_result() -> None:
    """`--seeds 0` would judge nothing and write that over the tracked result."""
    assert seed_count("3") == 3
    for bad in ("0", "-2", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            seed_count(bad)


def test_without_hindsight_lengths_are_learned_as_the_server_learns_them() -> None:
    """A test is priced per target; one new to a target with the org's time for it elsewhere;
    one never run anywhere with the target's mean so far."""
    trace = parse_trace(generate("burst", 1))
    stream = Stream(trace, ONLINE)
    login = replace(trace.jobs[0], target="emulator", duration=40.0)
    assert stream.expected(login) == DEFAULT_SECONDS
    stream.finished(login)
    assert stream.expected(login) == 40.0
    assert stream.expected(replace(login, target="device")) == 40.0
    other_test = replace(login, test_path="tests/never-run.spec.js")
    assert stream.expected(other_test) == 40.0  # the emulator's mean so far
    assert stream.expected(replace(other_test, target="device")) == DEFAULT_SECONDS


def test_foreseen_failures_count_every_attempt_a_job_still_needs() -> None:
    """Foreseeing failures prices a job at its length times the attempts it still needs;
    unforeseen, at one attempt, whether the length is true or learned."""
    trace = parse_trace(generate("burst", 1))
    broken = replace(trace.jobs[0], duration=30.0, outcomes=("fail", "fail", "fail"))
    assert broken.attempts_needed(trace.max_attempts) == 3
    foreseen = Stream(trace, Foresight(lengths=True, failures=True))
    assert foreseen.expected(broken) == 90.0
    foreseen.attempts[broken.job_id] = 1
    assert foreseen.expected(broken) == 60.0
    assert Stream(trace, Foresight(lengths=True, failures=False)).expected(broken) == 30.0
    learned = Stream(trace, Foresight(lengths=False, failures=True))
    assert learned.expected(broken) == 3 * DEFAULT_SECONDS


def test_figures_from_an_uncommitted_tree_say_so(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    (tmp_path / "policy.py").write_text("bar = 1\n")
    (results / "sweep.json").write_text("{}\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "x")
    monkeypatch.setattr(common, "RESULTS", results)
    head = common.git_revision()
    assert head and "+" not in head
    (results / "sweep.json").write_text('{"new": 1}\n')  # a result written: still the commit's
    assert common.git_revision() == head
    (tmp_path / "policy.py").write_text("bar = 2\n")
    assert common.git_revision() == f"{head}+changes"


def test_a_variant_runs_on_its_fleet_and_is_scored_against_its_own_baselines() -> None:
    usual, _, usual_installs, _ = scored_trace("steady", 3, (), None)
    halved, checks, fifo_installs, fifo_turnaround = scored_trace("steady", 3, ("fleet x0.5",),
                                                                  None)
    assert len(halved.devices) < len(usual.devices)
    assert fifo_installs != usual_installs and fifo_turnaround > 0
    scored = checks(Simulator(halved, FairAffinityPolicy()).run().events, "qgjob")
    assert [goal["goal"] for goal in scored] == [
        "installs / FIFO's", "mean build turnaround / FIFO's", "p95 P5 turnaround / FIFO's"]


def test_a_run_that_varies_anything_is_written_beside_the_default_result() -> None:
    assert result_name("steady", 1, 100, [], judge=False) == "hindsight-steady"
    assert result_name("steady", 9000, 100, ["tests x0.25"], judge=True) \
        == "hindsight-steady-judge-9000-tests-x0.25"
    assert result_name("burst", 1, 20, ["fleet x2"], judge=False) \
        == "hindsight-burst-1-n20-fleet-x2"


def test_the_policy_at_a_price_of_its_own_spends_fewer_installs_the_dearer_an_install() -> None:
    """`PricedPolicy` is the server's policy with its budget's price replaced: a dear install
    keeps builds on fewer devices than a cheap one, on the same stream."""
    trace, _, _, _ = scored_trace("steady", 3, (), None)
    installs = {price: sum(e["kind"] == "install" for e in
                           Simulator(trace, PricedPolicy(price=price)).run().events)
                for price in (20.0, 400.0)}
    assert installs[400.0] < installs[20.0]
