"""What one org sees of the shared groups,: only its own jobs in them."""

from __future__ import annotations

from qgjob.domain.models import GroupSummary
from qgjob.domain.states import JobState
from qgjob.store.rows import PUBLIC_COUNT_COLUMNS
from qgjob.store.sql.database import Tx


def groups_of_org(conn: Tx, org_id: str, include_finished: bool, limit: int,
                  max_job_ids: int) -> list[GroupSummary]:
    query = "all_groups_of_org" if include_finished else "active_groups_of_org"
    summaries = []
    for group in conn.run(query, {"org_id": org_id, "limit": limit}).fetchall():
        jobs = conn.run("org_jobs_of_group", {
            "org_id": org_id, "group_key": group["group_key"],
            "active_only": int(not include_finished)}).fetchall()
        counts = dict.fromkeys(PUBLIC_COUNT_COLUMNS, 0)
        for job in jobs:
            counts[JobState(job["state"]).public] += 1
        summaries.append(GroupSummary(
            group_key=group["group_key"], app_version_id=group["app_version_id"],
            target=group["target"], org_id=group["org_id"], counts=counts,
            job_ids=tuple(job["id"] for job in jobs[:max_job_ids])))
    return summaries
