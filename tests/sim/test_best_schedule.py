"""The offline search that tells a policy's miss from a goal no schedule meets
(benchmarks/best_schedule.py): its schedules are real ones, judged as the policy's are."""

from __future__ import annotations

from benchmarks.best_schedule import best_within, events_of, frontiers
from qgjob.sim.generate import brief_example, generate
from qgjob.sim.metrics import lower_bound, summarize
from qgjob.sim.trace import parse_trace


def test_a_handful_is_searched_exhaustively_and_reaches_the_bound() -> None:
    trace = parse_trace(brief_example())
    found = frontiers(trace)
    chosen = best_within(found, 3, "makespan")
    assert chosen is not None
    summary = summarize(trace, "offline", events_of(trace, chosen))
    assert summary.installs == 3 and summary.passed == len(trace.jobs)
    assert summary.makespan == lower_bound(trace)


def test_too_few_installs_for_the_builds_finds_nothing() -> None:
    trace = parse_trace(brief_example())
    assert best_within(frontiers(trace), 2, "makespan") is None


def test_failed_attempts_run_too_and_the_events_match_the_model() -> None:
    trace = parse_trace(generate("burst", 1))
    assert any(len(job.outcomes) > 1 for job in trace.jobs)
    found = frontiers(trace)
    for target, points in found.items():
        installs = [p.installs for p in points]
        assert installs == sorted(installs), target  # each split adds an install
    chosen = best_within(found, 2 * len({(j.app_version_id, j.target) for j in trace.jobs}),
                         "makespan")
    assert chosen is not None
    summary = summarize(trace, "offline", events_of(trace, chosen))
    attempts = sum(job.attempts_needed(trace.max_attempts) for job in trace.jobs)
    assert summary.passed + summary.failed == len(trace.jobs)
    assert len([e for e in events_of(trace, chosen) if e["kind"] == "test"]) == attempts
    assert summary.makespan == max(p.makespan for p in chosen)
    assert summary.makespan >= lower_bound(trace)
