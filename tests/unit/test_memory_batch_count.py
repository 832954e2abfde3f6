"""The simulator's in-memory driver counts builds submitted together as the SQL stores do
(tests/store/test_claim_path.py): groups with a job at or after the bound, up to the cap."""

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
