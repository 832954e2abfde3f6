"""Test health and repeat detection, as tables: pure functions, no store."""

import pytest

from qgjob.domain.attempts import Outcome, RetryPolicy, after_attempt
from qgjob.domain.health import (
    RECENT_RUNS,
    Health,
    TestKey,
    TestRun,
    TestSummary,
    classify,
    percentile,
    record,
)
from qgjob.domain.repeats import (
    FailureEvidence,
    PriorFailure,
    RepeatRule,
    error_signature,
    repeated_failure,
)
from qgjob.domain.states import JobState
from qgjob.domain.stats import bucket_percentile, wait_bucket
from tests.factories import T0, make_job

KEY = TestKey("acme", "emulator", "tests/a.spec.js")


def history(outcomes: str, builds: list[tuple[int, int]] | None = None) -> TestSummary:
    summary = None
    for n, letter in enumerate(outcomes):
        run = TestRun(KEY, f"b{n}", letter == "P", 1.0 + n, T0 + n, error="boom")
        summary = record(summary, run, builds or [(1, 0)])
    assert summary is not None
    return summary


@pytest.mark.parametrize(
    ("outcomes", "builds", "health"),
    [
        ("P", None, Health.NEW),
        ("F", None, Health.NEW),
        ("PPP", None, Health.HEALTHY),
        ("FFF", None, Health.BROKEN),
        ("PPFFF", None, Health.BROKEN),
        ("FFPPP", None, Health.FIXED),
        ("PPFP", None, Health.FAILING),
        ("FPPP", [(1, 1)] + [(1, 0)] * 9, Health.FLAKY),       # 1 of 10 builds: at 0.1
        ("FPPP", [(1, 1)] + [(1, 0)] * 10, Health.FIXED),      # 1 of 11: under it
        ("FFF", [(1, 1), (0, 1)], Health.FLAKY),               # flaky outranks broken
    ],
)
def test_classify(outcomes: str, builds: list[tuple[int, int]] | None, health: Health) -> None:
    assert classify(history(outcomes, builds), flaky_threshold=0.1) == health


def test_record_keeps_counts_the_recent_window_and_the_last_failure() -> None:
    summary = history("F" + "P" * (RECENT_RUNS + 5))
    assert (summary.runs, summary.passed, summary.failed) == (RECENT_RUNS + 6, RECENT_RUNS + 5, 1)
    assert summary.recent == "P" * RECENT_RUNS and summary.pass_rate == 1.0
    assert len(summary.recent_seconds) == RECENT_RUNS
    assert (summary.last_failure_at, summary.last_failure_app_version_id) == (T0, "b0")
    assert summary.first_seen == T0 and summary.last_outcome == "passed"


def test_duration_percentiles_and_trend() -> None:
    summary = history("PPPPPPPP")  # 1 s, 2 s … 8 s
    assert (summary.p50_seconds, summary.p95_seconds) == (4.0, 8.0)
    assert summary.trend == pytest.approx(6.0 / 2.0 - 1)
    assert history("PPP").trend is None
    assert percentile([], 0.5) == 0.0


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("Timeout 5000ms exceeded at 12:01:02", "Timeout 5000ms exceeded at 12:09:55", True),
        ("expected 1, got 2", "  Expected 1,\n got 2 ", True),
        ("object at 0x7f3a", "object at 0x1b2c", True),
        ("element #login not found", "element #logout not found", False),
    ],
)
def test_error_signatures(one: str, other: str, same: bool) -> None:
    assert (error_signature(one) == error_signature(other)) is same


PRIOR = PriorFailure("job1", 1, "lab/emulator-1", "expected 1, got 2")


@pytest.mark.parametrize(
    ("evidence", "device", "error", "rule", "stops"),
    [
        (FailureEvidence((PRIOR,)), "lab/emulator-2", "expected 1, got 2", "other-device", True),
        (FailureEvidence((PRIOR,)), "lab/emulator-1", "expected 1, got 2", "other-device", False),
        (FailureEvidence((PRIOR,)), "lab/emulator-1", "expected 1, got 2", "any-device", True),
        (FailureEvidence((PRIOR,)), "lab/emulator-2", "expected 1, got 2", "never", False),
        (FailureEvidence((PRIOR,)), "lab/emulator-2", "another error", "other-device", False),
        (FailureEvidence((PRIOR,)), "lab/emulator-2", None, "other-device", False),
        (FailureEvidence((PRIOR,), known_flaky=True), "lab/emulator-2", "expected 1, got 2",
         "other-device", False),
        (FailureEvidence((PRIOR,), passed_on_build=True), "lab/emulator-2",
         "expected 1, got 2", "other-device", False),
        (FailureEvidence(), "lab/emulator-2", "expected 1, got 2", "other-device", False),
    ],
)
def test_repeated_failure(evidence: FailureEvidence, device: str, error: str | None, rule: str,
                          stops: bool) -> None:
    assert (repeated_failure(evidence, device, error, RepeatRule(rule)) is not None) is stops


def test_a_repeated_failure_ends_the_job_and_says_why() -> None:
    job = make_job(state=JobState.RUNNING, attempts=2, device_id="lab/emulator-2")
    verdict = after_attempt(job, Outcome.FAILED, "expected 1, got 2", T0, RetryPolicy(), 0.5,
                            FailureEvidence((PRIOR,)))
    assert verdict.state is JobState.FAILED and verdict.error == "expected 1, got 2"
    assert verdict.note is not None and "another device (lab/emulator-1)" in verdict.note
    retried = after_attempt(job, Outcome.FAILED, "expected 1, got 2", T0, RetryPolicy(), 0.5,
                            FailureEvidence((PRIOR,), known_flaky=True))
    assert retried.state is JobState.QUEUED and retried.note is None


@pytest.mark.parametrize(
    ("waits", "p50", "p95"),
    [([], None, None), ([0.5] * 10, 1.0, 1.0), ([3] * 19 + [4000], 5.0, 5.0),
     ([3] * 9 + [4000] * 11, 7200.0, 7200.0), ([10**6], 86400.0, 86400.0)],
)
def test_queue_wait_percentiles_from_buckets(waits: list[float], p50: float | None,
                                             p95: float | None) -> None:
    from collections import Counter

    buckets = Counter(wait_bucket(w) for w in waits)
    assert (bucket_percentile(buckets, 0.5), bucket_percentile(buckets, 0.95)) == (p50, p95)
