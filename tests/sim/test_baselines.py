"""The baselines the scheduling goals weigh qgjob against (benchmarks/goals.py): ideal FIFO
schedules, whose failed attempts are queued again at once (as the server's are by default),
whatever retry backoff the server is configured with."""

from __future__ import annotations

from typing import Any

from benchmarks.goals import baseline_events, baselines
from qgjob.domain.attempts import RetryPolicy
from qgjob.scheduler.registry import policy_named
from qgjob.sim.engine import Simulator
from qgjob.sim.trace import parse_trace


def _trace() -> dict[str, Any]:
    # One emulator; build b1's test fails once, and b2, submitted a second later, waits.
    def job(n: int, app: str, at: float, outcomes: list[str]) -> dict[str, Any]:
        return {"id": f"j{n}", "org_id": "acme", "app_version_id": app,
                "test_path": f"t{n}.js", "target": "emulator", "priority": 3,
                "submit_at": at, "duration": 10.0, "outcomes": outcomes}

    return {"name": "retry", "install_seconds": {"emulator": 20.0}, "max_attempts": 3,
            "devices": [{"id": "emulator-1", "target": "emulator"}],
            "jobs": [job(1, "b1", 0.0, ["fail", "pass"]), job(2, "b2", 1.0, ["pass"])]}


def test_a_baselines_failed_attempt_runs_again_at_once_on_the_build_it_holds() -> None:
    trace = parse_trace(_trace())
    events = baseline_events(trace, "fifo")
    assert [(e["kind"], e.get("job_id", e.get("app_version_id")), e["start"])
            for e in events] == [("install", "b1", 0.0), ("test", "j1", 20.0),
                                 ("test", "j1", 30.0), ("install", "b2", 40.0),
                                 ("test", "j2", 60.0)]
    assert baselines(trace)["fifo"].installs == 2


def test_through_the_servers_backoff_fifo_would_leave_and_install_the_build_again() -> None:
    # What the baselines avoid: with a backoff configured (QGJOB_RETRY_BASE_SECONDS), the
    # retry waits it out, FIFO's device takes b2 in the meantime, and b1 is installed a
    # second time for the retry.
    trace = parse_trace(_trace())
    events = Simulator(trace, policy_named("fifo"), retry=RetryPolicy(base_seconds=2.0)
                       ).run().events
    assert sum(e["kind"] == "install" for e in events) == 3
