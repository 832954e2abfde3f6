"""Splits of a handful of jobs made without knowing test lengths (benchmarks/blind_split.py):
its schedules are real ones, within the install budget, judged as the policy's are."""

from __future__ import annotations

import itertools
import random

from benchmarks.blind_split import (
    builds_of,
    devices_of,
    events_of,
    judged,
    most_jobs_a_device,
    splits,
)
from benchmarks.sweep import HANDFUL, varied
from qgjob.sim.generate import brief_example, generate
from qgjob.sim.metrics import lower_bound, summarize
from qgjob.sim.trace import parse_trace


def test_every_split_keeps_to_twice_the_builds_and_to_each_targets_devices() -> None:
    trace = parse_trace(brief_example())
    builds = builds_of(trace)
    found = splits(builds, {"emulator": 3, "device": 1})
    assert {("xyz123", "emulator"): 2, ("xyz999", "emulator"): 1,
            ("xyz123", "device"): 1} in found
    for split in found:
        assert sum(split.values()) <= 2 * len(builds)
        assert sum(n for (_, target), n in split.items() if target == "emulator") <= 3
        assert all(1 <= split[b] <= len(builds[b]) for b in builds)


def test_the_spare_devices_go_to_the_build_with_the_most_jobs_a_device() -> None:
    """The brief's example on three emulators: xyz123's three tests take the spare one, so
    one emulator runs two of them (2 + 3 + 3 s on `qgjob up`); on the example's own two
    emulators there is none to spare."""
    trace = parse_trace(brief_example())
    builds = builds_of(trace)
    assert most_jobs_a_device(builds, {"emulator": 3, "device": 1}) == {
        ("xyz123", "emulator"): 2, ("xyz999", "emulator"): 1, ("xyz123", "device"): 1}
    split = most_jobs_a_device(builds, devices_of(trace))
    assert split == dict.fromkeys(builds, 1)
    summary = summarize(trace, "blind", events_of(trace, split, builds))
    assert summary.installs == 3 and summary.passed == len(trace.jobs)
    assert summary.makespan >= lower_bound(trace)


def test_each_job_runs_every_attempt_it_needs_on_the_device_that_freed_first() -> None:
    trace = parse_trace(varied(generate("burst", 3), HANDFUL))
    builds = builds_of(trace)
    rng = random.Random(1)
    orders = {b: rng.sample(jobs, len(jobs)) for b, jobs in builds.items()}
    split = dict.fromkeys(builds, 1)
    events = events_of(trace, split, orders)
    summary = summarize(trace, "blind", events)
    attempts = sum(job.attempts_needed(trace.max_attempts) for job in trace.jobs)
    assert len([e for e in events if e["kind"] == "test"]) == attempts
    assert summary.installs == len(builds)
    assert summary.makespan >= lower_bound(trace)
    for device in {e["device"] for e in events}:  # one build a device, back to back
        mine = sorted((e for e in events if e["device"] == device), key=lambda e: e["start"])
        assert mine[0]["kind"] == "install"
        assert all(a["end"] <= b["start"] + 1e-9 for a, b in itertools.pairwise(mine))


def test_a_trace_with_more_builds_than_a_targets_devices_is_left_out() -> None:
    row = judged((9, "fleet x0.5", 4, None))
    if row["covered"]:
        assert 0.0 <= row["most_jobs_a_device"] <= row["best_split"] <= 1.0
    else:
        assert set(row) == {"seed", "variant", "covered"}


def test_a_chance_is_a_share_of_orders_and_the_best_split_is_the_highest() -> None:
    row = judged((1, None, 6, None))
    assert row["covered"]
    assert 0.0 <= row["most_jobs_a_device"] <= row["best_split"] <= 1.0
    assert row["best_split"] * 6 == round(row["best_split"] * 6)
