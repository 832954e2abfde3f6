"""The benchmarks' workload variants (benchmarks/sweep.py): other fleets, and every attempt
passing, which tells what a trace's failures are worth to a schedule against its baselines."""

from __future__ import annotations

from benchmarks.sweep import FLEETS, VARIANTS, varied
from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.sim.engine import Simulator
from qgjob.sim.generate import generate
from qgjob.sim.trace import parse_trace


def test_no_failures_lets_every_attempt_pass_and_leaves_the_rest_alone() -> None:
    trace = generate("steady", 3)
    assert any(job["outcomes"] != ["pass"] for job in trace["jobs"])
    passing = varied(trace, "no failures")
    assert all(job["outcomes"] == ["pass"] for job in passing["jobs"])
    assert any(job["outcomes"] != ["pass"] for job in trace["jobs"])  # the original is untouched
    assert [{**job, "outcomes": None} for job in passing["jobs"]] \
        == [{**job, "outcomes": None} for job in trace["jobs"]]
    assert passing["devices"] == trace["devices"]


def test_with_no_failures_every_job_runs_once() -> None:
    trace = parse_trace(varied(generate("burst", 2), "no failures"))
    tests = [event for event in Simulator(trace, FairAffinityPolicy()).run().events
             if event["kind"] == "test"]
    assert sorted(event["job_id"] for event in tests) == sorted(job.job_id for job in trace.jobs)
    assert all(event["outcome"] == "pass" for event in tests)


def test_the_sweeps_other_fleets_table_varies_fleets_only() -> None:
    assert "no failures" in VARIANTS and "no failures" not in FLEETS
    assert set(FLEETS) < set(VARIANTS)
