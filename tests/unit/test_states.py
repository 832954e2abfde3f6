import pytest

from qgjob.domain.states import (
    PUBLIC_STATUSES,
    JobState,
    can_transition,
    states_for_public,
)

S = JobState


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        (S.QUEUED, S.ASSIGNED, True),
        (S.QUEUED, S.RUNNING, False),  # a job runs only from a device's batch
        (S.QUEUED, S.CANCELLED, True),
        (S.ASSIGNED, S.RUNNING, True),
        (S.ASSIGNED, S.QUEUED, True),  # lease expired or handed back
        (S.ASSIGNED, S.COMPLETED, False),
        (S.RUNNING, S.COMPLETED, True),
        (S.RUNNING, S.RETRY_WAIT, True),
        (S.RUNNING, S.QUEUED, True),  # device lost
        (S.RETRY_WAIT, S.QUEUED, True),
        (S.RETRY_WAIT, S.RUNNING, False),
        (S.COMPLETED, S.QUEUED, False),
        (S.FAILED, S.QUEUED, False),
        (S.CANCELLED, S.RUNNING, False),
    ],
)
def test_transitions(source: JobState, target: JobState, allowed: bool) -> None:
    assert can_transition(source, target) is allowed


@pytest.mark.parametrize(
    ("state", "public"),
    [
        (S.QUEUED, "queued"),
        (S.ASSIGNED, "queued"),
        (S.RETRY_WAIT, "queued"),
        (S.RUNNING, "running"),
        (S.COMPLETED, "completed"),
        (S.FAILED, "failed"),
        (S.CANCELLED, "cancelled"),
    ],
)
def test_public_status(state: JobState, public: str) -> None:
    assert state.public == public
    assert public in PUBLIC_STATUSES


def test_every_public_status_covers_its_states() -> None:
    assert states_for_public("queued") == {S.QUEUED, S.ASSIGNED, S.RETRY_WAIT}
    assert states_for_public("running") == {S.RUNNING}
    assert {s for p in PUBLIC_STATUSES for s in states_for_public(p)} == set(JobState)


def test_final_states_have_no_way_out() -> None:
    for state in JobState:
        assert state.is_final == (not any(can_transition(state, t) for t in JobState))
