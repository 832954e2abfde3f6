import pytest

from qgjob.domain import transitions
from qgjob.domain.attempts import Verdict
from qgjob.domain.states import JobState
from tests.factories import T0, make_job

S = JobState


def test_start_counts_the_attempt_and_keeps_the_first_start_time() -> None:
    job = make_job(state=S.ASSIGNED, attempts=1, started_at=T0)
    started = transitions.start(job, T0 + 50)
    assert started.state is S.RUNNING
    assert started.attempts == 2
    assert started.started_at == T0


def test_start_refuses_a_job_not_in_a_batch() -> None:
    with pytest.raises(transitions.TransitionRefused):
        transitions.start(make_job(state=S.QUEUED), T0)


def test_requeue_frees_the_device() -> None:
    after = transitions.apply_verdict(make_job(), Verdict(S.QUEUED, infra_failure=True), T0)
    assert (after.lease_id, after.device_id, after.agent_name) == (None, None, None)
    assert after.infra_failures == 1
    assert after.finished_at is None


def test_completion_records_where_it_ran_and_clears_old_errors() -> None:
    job = make_job(error="earlier failure")
    after = transitions.apply_verdict(job, Verdict(S.COMPLETED, flaky=True), T0 + 9)
    assert after.device_id == "lab-1/emulator-1"
    assert after.lease_id is None
    assert after.finished_at == T0 + 9
    assert after.error is None
    assert after.flaky


@pytest.mark.parametrize("state", [S.QUEUED, S.ASSIGNED, S.RETRY_WAIT])
def test_cancel_is_immediate_unless_running(state: JobState) -> None:
    after = transitions.cancel(make_job(state=state), T0)
    assert after.state is S.CANCELLED
    assert after.finished_at == T0


def test_cancel_of_a_running_job_asks_its_agent() -> None:
    after = transitions.cancel(make_job(state=S.RUNNING), T0)
    assert after.state is S.RUNNING
    assert after.cancel_requested


@pytest.mark.parametrize("state", [S.COMPLETED, S.FAILED, S.CANCELLED])
def test_cancel_of_a_finished_job_is_refused(state: JobState) -> None:
    with pytest.raises(transitions.TransitionRefused, match="already"):
        transitions.cancel(make_job(state=state), T0)
