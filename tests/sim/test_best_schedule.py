"""The offline search that tells a policy's miss from a goal out of reach
(benchmarks/best_schedule.py): its schedules are real ones, judged as the policy's are."""

from __future__ import annotations

from benchmarks.best_schedule import best_within, events_of, frontiers
from benchmarks.sweep import varied
from qgjob.sim.generate import brief_example, generate
from qgjob.sim.metrics import lower_bound, summarize
from qgjob.sim.trace import parse_trace


def test_the_brief_example_reaches_its_bound_with_the_fewest_installs() -> None:
    trace = parse_trace(brief_example())
    chosen = best_within(frontiers(trace), 3, "makespan")
    assert chosen is not None
    summary = summarize(trace, "offline", events_of(trace, chosen))
    assert summary.installs == 3 and summary.passed == len(trace.jobs)
    assert summary.makespan == lower_bound(trace)


def test_too_few_installs_for_the_builds_finds_nothing() -> None:
    trace = parse_trace(brief_example())
    assert best_within(frontiers(trace), 2, "makespan") is None


def test_the_figures_searched_are_the_figures_of_the_events() -> None:
    """Builds are counted per org and app, as the metrics count them (two orgs send xyz123
    in the brief's example), so the search ranks schedules by what they score."""
    trace = parse_trace(brief_example())
    chosen = best_within(frontiers(trace), 6, "turnaround")
    assert chosen is not None
    summary = summarize(trace, "offline", events_of(trace, chosen))
    builds = {(j.org_id, j.app_version_id, j.target) for j in trace.jobs}
    assert summary.installs == sum(p.installs for p in chosen)
    assert abs(summary.mean_turnaround * len(builds) - sum(p.turnaround for p in chosen)) < 1e-6


def test_an_install_waits_for_its_builds_first_job() -> None:
    trace = parse_trace(varied(generate("steady", 1), "a handful of jobs"))
    chosen = best_within(frontiers(trace), 100, "turnaround")
    assert chosen is not None
    arrivals = {j.job_id: j.submit_at for j in trace.jobs}
    events = events_of(trace, chosen)
    for install in (e for e in events if e["kind"] == "install"):
        first = min(arrivals[e["job_id"]] for e in events
                    if e["kind"] == "test" and e["device"] == install["device"]
                    and e["start"] >= install["end"])
        assert install["start"] >= first
    assert summarize(trace, "offline", events).makespan >= lower_bound(trace)


def test_failed_attempts_run_too_and_the_events_match_the_model() -> None:
    trace = parse_trace(generate("burst", 1))
    assert any(len(job.outcomes) > 1 for job in trace.jobs)
    found = frontiers(trace)
    chosen = best_within(found, 2 * len({(j.app_version_id, j.target) for j in trace.jobs}),
                         "makespan")
    assert chosen is not None
    events = events_of(trace, chosen)
    summary = summarize(trace, "offline", events)
    attempts = sum(job.attempts_needed(trace.max_attempts) for job in trace.jobs)
    assert summary.passed + summary.failed == len(trace.jobs)
    assert len([e for e in events if e["kind"] == "test"]) == attempts
    assert summary.installs == sum(p.installs for p in chosen)
    assert summary.makespan == max(p.makespan for p in chosen)
    assert summary.makespan >= lower_bound(trace)
