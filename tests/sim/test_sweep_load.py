"""The sweep's breakdown of steady traces by offered load (benchmarks/sweep.py): the figure
is the test time a trace asks for over the fleet's time while its jobs arrive."""

from __future__ import annotations

from typing import Any

from benchmarks.sweep import by_load, offered_load
from qgjob.sim.trace import parse_trace


def _trace(jobs: list[dict[str, Any]], devices: int) -> dict[str, Any]:
    return {"name": "steady-test", "install_seconds": {"emulator": 20.0}, "max_attempts": 3,
            "devices": [{"id": f"emulator-{i}", "target": "emulator"} for i in range(devices)],
            "jobs": jobs}


def _job(n: int, at: float, duration: float, outcomes: list[str]) -> dict[str, Any]:
    return {"id": f"j{n}", "org_id": "acme", "app_version_id": "b1", "test_path": f"t{n}.js",
            "target": "emulator", "priority": 3, "submit_at": at, "duration": duration,
            "outcomes": outcomes}


def test_load_counts_every_attempt_a_job_needs_over_the_fleets_time() -> None:
    trace = parse_trace(_trace([_job(1, 0.0, 100.0, ["pass"]),
                                _job(2, 400.0, 50.0, ["fail", "pass"]),
                                _job(3, 400.0, 10.0, ["fail", "fail", "fail"])], devices=2))
    # 100 + 2 x 50 + 3 x 10 seconds of tests over 2 devices x 400 s of arrivals
    assert abs(offered_load(trace) - 230.0 / 800.0) < 1e-9


def test_a_trace_arriving_at_once_has_no_load_figure() -> None:
    trace = parse_trace(_trace([_job(1, 3.0, 100.0, ["pass"]), _job(2, 3.0, 9.0, ["pass"])],
                               devices=1))
    assert offered_load(trace) == 0.0


def test_traces_fall_in_the_band_of_their_load() -> None:
    def row(load: float, met: bool) -> dict[str, Any]:
        return {"load": load, "met": met,
                "goals": [{"goal": "installs / FIFO's", "value": 0.4, "limit": 0.5, "met": met}]}

    bands = by_load([row(0.45, False), row(0.62, True), row(0.69, False), row(0.95, True)])
    assert [(b["load"], b["traces"], b["passed"]) for b in bands] == [
        ("0-0.6", 1, 0), ("0.6-0.7", 2, 1), (">= 0.7", 1, 1)]
