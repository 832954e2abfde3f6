"""Test health: what a test's history says about it. Pure: a run is folded into the test's
summary when it is recorded, so reading health never goes back over the attempts.

A test is *flaky* when it both passed and failed on one app build (across attempts or
jobs): the code did not change, the outcome did. Its flaky score is the share of its recent
builds on which that happened."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

RECENT_RUNS = 50
"""Outcomes and durations kept per test: the pass rate, percentiles and trend read these."""
FLAKY_WINDOW_BUILDS = 20
"""Builds a flaky score is taken over (the test's most recent)."""
SETTLED_RUNS = 3
"""Runs in a row that make a test broken (all failed) or fixed (all passed after failing)."""
ERROR_CHARS = 2000
TEST_SORTS = ("flaky", "failing", "slowest", "runs", "recent", "name")


class Health(StrEnum):
    FLAKY = "flaky"
    """Passed and failed on the same build, on at least the threshold's share of builds."""
    BROKEN = "broken"
    """Its last runs all failed, and not flakily."""
    FIXED = "fixed"
    """Failed within its recent runs, but its last runs all passed."""
    NEW = "new"
    """Too few runs to say more."""
    FAILING = "failing"
    """Fails now and then, but never both ways on one build."""
    HEALTHY = "healthy"


@dataclass(frozen=True)
class TestKey:
    __test__ = False  # not a pytest test class
    org_id: str
    target: str
    test_path: str
    title: str = ""
    """'' for the test file as a whole; else a test case its report named."""


@dataclass(frozen=True)
class TestRun:
    """One finished run of a test: an attempt's outcome, or one case of its report."""

    __test__ = False  # not a pytest test class
    key: TestKey
    app_version_id: str
    passed: bool
    seconds: float
    at: float
    error: str | None = None
    job_id: str | None = None


@dataclass(frozen=True)
class TestSummary:
    __test__ = False  # not a pytest test class
    key: TestKey
    runs: int
    passed: int
    failed: int
    recent: str
    """`P`/`F` per recent run, newest last."""
    recent_seconds: tuple[float, ...]
    builds: int
    flaky_builds: int
    first_seen: float
    last_seen: float
    last_outcome: str
    last_app_version_id: str
    last_failure_at: float | None = None
    last_error: str | None = None
    last_failure_app_version_id: str | None = None
    last_failure_job_id: str | None = None

    @property
    def pass_rate(self) -> float:
        """Over the recent runs."""
        return self.recent.count("P") / len(self.recent) if self.recent else 0.0

    @property
    def flaky_score(self) -> float:
        return self.flaky_builds / self.builds if self.builds else 0.0

    @property
    def p50_seconds(self) -> float:
        return percentile(self.recent_seconds, 0.50)

    @property
    def p95_seconds(self) -> float:
        return percentile(self.recent_seconds, 0.95)

    @property
    def trend(self) -> float | None:
        """How the median duration of the newer half of the recent runs compares with the
        older half's: +0.2 is 20 % slower. None with fewer than 4 runs."""
        seconds = self.recent_seconds
        if len(seconds) < 4:
            return None
        half = len(seconds) // 2
        older, newer = percentile(seconds[:half], 0.5), percentile(seconds[half:], 0.5)
        return None if older <= 0 else round(newer / older - 1, 4)


@dataclass(frozen=True)
class TestQuery:
    __test__ = False  # not a pytest test class
    org_id: str | None = None
    target: str | None = None
    test_path: str | None = None
    cases: bool = False
    """Include each test case's row, not only the files'."""
    sort: str = "flaky"
    """One of TEST_SORTS."""
    limit: int = 200


@dataclass(frozen=True)
class TestHealthRow:
    __test__ = False  # not a pytest test class
    summary: TestSummary
    quarantined: bool


@dataclass(frozen=True)
class Quarantined:
    org_id: str
    test_path: str
    reason: str
    added_by: str | None
    added_at: float


def record(previous: TestSummary | None, run: TestRun,
           builds: Sequence[tuple[int, int]]) -> TestSummary:
    """The test's summary once `run` is counted. `builds` are (passed, failed) on each of
    the test's most recent builds, newest first, this run included."""
    base = previous or TestSummary(
        key=run.key, runs=0, passed=0, failed=0, recent="", recent_seconds=(), builds=0,
        flaky_builds=0, first_seen=run.at, last_seen=run.at, last_outcome="",
        last_app_version_id="")
    window = builds[:FLAKY_WINDOW_BUILDS]
    seconds = round(max(run.seconds, 0.0), 3)
    summary = replace(
        base, runs=base.runs + 1, passed=base.passed + run.passed,
        failed=base.failed + (not run.passed),
        recent=(base.recent + ("P" if run.passed else "F"))[-RECENT_RUNS:],
        recent_seconds=(*base.recent_seconds, seconds)[-RECENT_RUNS:], builds=len(window),
        flaky_builds=sum(1 for passed, failed in window if passed and failed),
        first_seen=min(base.first_seen, run.at), last_seen=max(base.last_seen, run.at),
        last_outcome="passed" if run.passed else "failed", last_app_version_id=run.app_version_id)
    if run.passed:
        return summary
    return replace(summary, last_failure_at=run.at,
                   last_error=(run.error or "")[:ERROR_CHARS] or None,
                   last_failure_app_version_id=run.app_version_id, last_failure_job_id=run.job_id)


def classify(summary: TestSummary, flaky_threshold: float) -> Health:
    """What a person should make of the test; the first that applies, in the enum's order."""
    if summary.flaky_builds and summary.flaky_score >= flaky_threshold:
        return Health.FLAKY
    last = summary.recent[-SETTLED_RUNS:]
    if len(last) == SETTLED_RUNS and set(last) == {"F"}:
        return Health.BROKEN
    if len(last) == SETTLED_RUNS and set(last) == {"P"} and "F" in summary.recent:
        return Health.FIXED
    if summary.runs < SETTLED_RUNS:
        return Health.NEW
    if "F" in summary.recent:
        return Health.FAILING
    return Health.HEALTHY


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(math.ceil(q * len(ordered)), 1)
    return ordered[rank - 1]
