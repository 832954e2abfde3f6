import pytest

from qgjob.domain.attempts import (
    Outcome,
    RetryPolicy,
    after_attempt,
    after_lost_device,
)
from qgjob.domain.states import JobState
from tests.factories import T0, make_job

POLICY = RetryPolicy(base_seconds=2.0, max_seconds=60.0, jitter=0.5, max_infra_failures=2)
S = JobState


@pytest.mark.parametrize(
    ("job_changes", "outcome", "state", "flaky"),
    [
        ({}, Outcome.PASSED, S.COMPLETED, False),
        ({"attempts": 2}, Outcome.PASSED, S.COMPLETED, True),  # passed on a retry
        ({"attempts": 2, "infra_failures": 1}, Outcome.PASSED, S.COMPLETED, False),
        ({"attempts": 1}, Outcome.FAILED, S.RETRY_WAIT, False),
        ({"attempts": 2}, Outcome.FAILED, S.RETRY_WAIT, False),
        ({"attempts": 3}, Outcome.FAILED, S.FAILED, False),  # budget spent
        ({"attempts": 3, "infra_failures": 1}, Outcome.FAILED, S.RETRY_WAIT, False),
        ({"attempts": 1, "max_attempts": 1}, Outcome.FAILED, S.FAILED, False),
        ({}, Outcome.ERROR, S.FAILED, False),  # not retryable
        ({}, Outcome.CANCELLED, S.CANCELLED, False),
        ({"cancel_requested": True}, Outcome.FAILED, S.CANCELLED, False),
        ({}, Outcome.INTERRUPTED, S.QUEUED, False),  # handed back, not charged
        ({"attempts": 3}, Outcome.PREEMPTED, S.QUEUED, False),  # requeued, not charged
    ],
)
def test_after_attempt(job_changes: dict, outcome: Outcome, state: JobState, flaky: bool) -> None:
    verdict = after_attempt(make_job(**job_changes), outcome, "boom", T0, POLICY, draw=0.5)
    assert verdict.state is state
    assert verdict.flaky is flaky
    assert (verdict.retry_at is not None) == (state is S.RETRY_WAIT)


@pytest.mark.parametrize("attempts", [1, 2])
def test_with_no_backoff_a_failed_test_is_queued_again_at_once(attempts: int) -> None:
    """The default: a retry runs on the next free device, not after a wait that idles the
    device beside it and delays the build's verdict."""
    verdict = after_attempt(make_job(attempts=attempts), Outcome.FAILED, "boom", T0,
                            RetryPolicy(), draw=0.9)
    assert verdict.state is S.QUEUED and verdict.retry_at is None
    assert verdict.error == "boom" and not verdict.infra_failure


def test_a_failed_job_keeps_its_last_error() -> None:
    verdict = after_attempt(make_job(attempts=3), Outcome.FAILED, "expected 2 got 3", T0,
                            POLICY, draw=0.0)
    assert verdict.error == "expected 2 got 3"


@pytest.mark.parametrize(
    ("charged", "draw", "delay"),
    [
        (1, 0.0, 1.0),   # base 2s, jitter takes up to half off
        (1, 1.0, 2.0),
        (2, 1.0, 4.0),
        (3, 1.0, 8.0),
        (10, 1.0, 60.0),  # capped
    ],
)
def test_backoff_grows_and_is_capped(charged: int, draw: float, delay: float) -> None:
    assert POLICY.delay(charged, draw) == pytest.approx(delay)


@pytest.mark.parametrize(
    ("job_changes", "state", "infra"),
    [
        ({"state": S.ASSIGNED, "attempts": 0}, S.QUEUED, False),  # never started: no failure
        ({}, S.QUEUED, True),
        ({"infra_failures": 1}, S.QUEUED, True),
        ({"infra_failures": 2}, S.FAILED, True),  # lost its device too often
        ({"cancel_requested": True}, S.CANCELLED, False),
    ],
)
def test_after_lost_device(job_changes: dict, state: JobState, infra: bool) -> None:
    verdict = after_lost_device(make_job(**job_changes), "agent gone", POLICY)
    assert verdict.state is state
    assert verdict.infra_failure is infra


def test_a_preempted_attempt_is_not_spent() -> None:
    from qgjob.domain.transitions import apply_verdict

    job = make_job(attempts=3)
    after = apply_verdict(job, after_attempt(job, Outcome.PREEMPTED, None, T0, POLICY, 0.5), T0)
    assert after.state is S.QUEUED and after.preemptions == 1 and after.charged_attempts == 2
    assert after.infra_failures == 0
