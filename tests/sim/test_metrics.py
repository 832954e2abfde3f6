"""Metrics and lower bounds on a trace small enough to work out by hand."""

import pytest

from qgjob.sim.metrics import lower_bound, percentile, summarize
from qgjob.sim.trace import parse_trace

TRACE = parse_trace({
    "name": "tiny", "install_seconds": {"emulator": 10.0}, "max_attempts": 3,
    "devices": [{"id": "e1", "target": "emulator"}, {"id": "e2", "target": "emulator"}],
    "jobs": [
        {"id": "a1", "org_id": "o1", "app_version_id": "A", "test_path": "t1",
         "target": "emulator", "priority": 3, "submit_at": 0, "duration": 30,
         "outcomes": ["fail", "pass"]},
        {"id": "a2", "org_id": "o1", "app_version_id": "A", "test_path": "t2",
         "target": "emulator", "priority": 3, "submit_at": 0, "duration": 30},
        {"id": "b1", "org_id": "o2", "app_version_id": "B", "test_path": "t1",
         "target": "emulator", "priority": 5, "submit_at": 20, "duration": 40},
    ],
})
EVENTS = [
    {"device": "e1", "kind": "install", "app_version_id": "A", "target": "emulator",
     "start": 0, "end": 10},
    {"device": "e1", "kind": "test", "job_id": "a1", "attempt": 1, "start": 10, "end": 40,
     "outcome": "fail"},
    {"device": "e1", "kind": "test", "job_id": "a2", "attempt": 1, "start": 40, "end": 70,
     "outcome": "pass"},
    {"device": "e1", "kind": "test", "job_id": "a1", "attempt": 2, "start": 70, "end": 100,
     "outcome": "pass"},
    {"device": "e2", "kind": "install", "app_version_id": "B", "target": "emulator",
     "start": 20, "end": 30},
    {"device": "e2", "kind": "test", "job_id": "b1", "attempt": 1, "start": 30, "end": 70,
     "outcome": "pass"},
]


def test_summary_by_hand() -> None:
    s = summarize(TRACE, "hand", EVENTS)
    assert (s.installs, s.min_installs, s.makespan) == (2, 2, 100)
    assert s.passed == 3 and s.failed == 0
    assert s.mean_turnaround == pytest.approx((100 + 50) / 2)  # build A: 0..100, B: 20..70
    assert s.p95_turnaround_by_priority == {"3": 100, "5": 50}
    assert s.mean_flow_by_org == {"o1": pytest.approx(85.0), "o2": pytest.approx(50.0)}


def test_lower_bound_by_hand() -> None:
    # Release bound: (130 s of work + 2 installs) / 2 devices = 75. Split-aware bound: build A
    # (90 s) cannot fit one device within T - 10 unless T >= 100, so at T = 80 it pays two
    # installs: 90 + 20 + (40 + 10) = 160 <= 2 * 80, while T = 79 does not fit. So 80.
    assert lower_bound(TRACE) == pytest.approx(80.0, abs=0.01)


@pytest.mark.parametrize(("values", "pct", "expected"),
                         [([1, 2, 3, 4], 50, 2), ([1, 2, 3, 4], 95, 4), ([7], 95, 7)])
def test_percentile(values: list[float], pct: float, expected: float) -> None:
    assert percentile(values, pct) == expected
