"""The simulator's in-memory driver reads submits as the SQL stores do
(tests/store/test_claim_path.py): it counts groups with a job at or after the bound, up to the
cap, and each lane's view carries the lane's newest submit."""

from __future__ import annotations

from qgjob.claiming.memory import MemoryQueue
from tests.factories import T0, new_job


def test_groups_at_or_after_the_bound_are_counted_up_to_the_cap() -> None:
    queue = MemoryQueue()
    queue.insert_jobs([new_job(app_version_id="before", at=T0 - 0.5),
                       new_job(app_version_id="edge", at=T0),
                       new_job(app_version_id="a", at=T0 + 1),
                       new_job(app_version_id="a", target="device", at=T0 + 2),
                       new_job(app_version_id="b", at=T0 + 3)])
    # One app build on two targets is two groups; the job at the bound counts.
    assert queue.builds_submitted_since(T0, limit=32) == 4
    assert queue.builds_submitted_since(T0, limit=2) == 2
    assert queue.builds_submitted_since(T0 + 4, limit=32) == 0


def test_a_targets_groups_are_counted_by_their_newest_submit_within_a_window() -> None:
    queue = MemoryQueue()
    queue.insert_jobs([new_job(app_version_id="before", at=T0 - 0.5),
                       new_job(app_version_id="edge", at=T0),
                       new_job(app_version_id="a", at=T0 + 1),
                       new_job(app_version_id="a", target="device", at=T0 + 2),
                       new_job(app_version_id="end", at=T0 + 3),
                       new_job(app_version_id="after", at=T0 + 3.5)])
    # Both ends count; another target's group does not.
    assert queue.builds_submitted_between("emulator", T0, T0 + 3, limit=32) == 3
    assert queue.builds_submitted_between("emulator", T0, T0 + 3, limit=2) == 2
    assert queue.builds_submitted_between("device", T0, T0 + 3, limit=32) == 1


def test_a_lane_carries_its_newest_submit_whatever_order_submits_come_in() -> None:
    queue = MemoryQueue()
    queue.insert_jobs([new_job(org_id="acme", at=T0), new_job(org_id="acme", at=T0 + 1)])
    queue.insert_jobs([new_job(org_id="other", at=T0 + 5)])
    queue.insert_jobs([new_job(org_id="acme", at=T0 - 10)])  # a late submit of an old job
    assert {lane.org_id: lane.newest_submitted_at for lane in queue.ready_lanes("emulator")} \
        == {"acme": T0 + 1, "other": T0 + 5}


def test_recent_builds_and_installs_are_read_as_the_sql_stores_read_them() -> None:
    queue = MemoryQueue()
    queue.insert_jobs([new_job(app_version_id="old", at=T0 - 1),
                       new_job(app_version_id="a", at=T0),
                       new_job(app_version_id="a", at=T0 + 2),
                       new_job(app_version_id="a", target="device", at=T0 + 1)])
    queue.insert_jobs([new_job(app_version_id="b", at=T0 + 3)])
    # Newest submit first; each group's target and its jobs, whatever became of them.
    assert queue.builds_since(T0, limit=32) == [("emulator", 1), ("emulator", 2),
                                                 ("device", 1)]
    assert queue.builds_since(T0, limit=1) == [("emulator", 1)]
    queue.record_install("emulator", 20.0, ended_at=T0 - 5)
    queue.record_install("device", 45.0, ended_at=T0)
    assert queue.installs_since(T0) == 1
