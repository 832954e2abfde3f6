"""Why a job that has not started waits: a table of its states."""

from __future__ import annotations

import pytest

from qgjob.domain.models import Job
from qgjob.domain.states import JobState
from qgjob.scheduler.explain import LaneStanding
from qgjob.scheduler.views import LaneView
from qgjob.waiting import QueuePlace, place_of
from tests.factories import T0, make_job

LANE = LaneView(group_key="emulator|xyz123", org_id="qualgent", app_version_id="xyz123",
                target="emulator", queued_by_priority=(0, 0, 4, 0, 0), head_submitted_at=T0,
                oldest_submitted_at=T0, expected_seconds=240.0)
OTHER = LaneView(group_key="emulator|v2", org_id="acme", app_version_id="v2",
                 target="emulator", queued_by_priority=(0, 0, 1, 0, 0), head_submitted_at=T0,
                 oldest_submitted_at=T0, expected_seconds=60.0)
STANDINGS = [LaneStanding(OTHER, 1, 1, 0, "starts at once: a device is idle", T0),
             LaneStanding(LANE, 1, 2, 0, "waiting for a device; 1 waiting lane(s) ahead, "
                                         "first device free in ~40s", T0 + 40)]


@pytest.mark.parametrize(
    ("job", "ahead", "place"),
    [
        (make_job(state=JobState.QUEUED), 3, QueuePlace(
            True, STANDINGS[1].reason, 2, 2, 0, 3, 4, T0 + 40)),
        (make_job(state=JobState.ASSIGNED, device_id="lab/emulator-2"), None, QueuePlace(
            True, "next in the batch of device lab/emulator-2: it starts when the jobs "
                  "before it there are done")),
        (make_job(state=JobState.RETRY_WAIT, attempts=1, retry_at=T0 + 4), None, QueuePlace(
            True, "attempt 1 failed; it is back in line in ~4s (retry backoff)",
            estimated_start=T0 + 4)),
        (make_job(state=JobState.QUEUED, group_key="emulator|gone"), 0, QueuePlace(
            True, "in line", builds_waiting=2, ahead_in_build=0)),
        (make_job(state=JobState.RUNNING), None, QueuePlace(False)),
        (make_job(state=JobState.FAILED), None, QueuePlace(False)),
    ],
)
def test_where_a_job_stands(job: Job, ahead: int | None, place: QueuePlace) -> None:
    assert place_of(job, STANDINGS, ahead, T0) == place
