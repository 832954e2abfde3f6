"""Listing jobs a page at a time: filters, a substring search, newest first or in claim order,
and keyset paging (each page continues after the last job of the one before, so a job
submitted meanwhile neither repeats nor hides one)."""

from __future__ import annotations

from typing import Any

from qgjob.domain.models import Job
from qgjob.domain.queue_order import CLAIM_ORDER_SQL, CLAIMED_AFTER_SQL
from qgjob.store.base import JobFilter
from qgjob.store.rows import job_from_row
from qgjob.store.sql.database import Tx

ORDER_SQL = {"newest": "created_at DESC, id DESC", "claim": CLAIM_ORDER_SQL}
AFTER_SQL = {
    "newest": "(created_at < {at} OR (created_at = {at} AND id < {id}))",
    "claim": CLAIMED_AFTER_SQL,
}


def page(conn: Tx, query: JobFilter) -> list[Job]:
    where, params = _conditions(conn, query)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    sql = (f"SELECT * FROM jobs {clause} ORDER BY {ORDER_SQL[query.order]} "
           f"LIMIT {conn.param('limit')}")
    return [job_from_row(row) for row in conn.run_sql(sql, {**params, "limit": query.limit})]


def ahead_in_lane(conn: Tx, job: Job) -> int:
    row = conn.run("jobs_ahead_in_lane", {
        "group_key": job.group_key, "org_id": job.org_id, "priority": job.priority,
        "created_at": job.created_at, "job_id": job.job_id}).fetchone()
    return int(row["ahead"])


def _conditions(conn: Tx, query: JobFilter) -> tuple[list[str], dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    for column in ("org_id", "app_version_id", "target"):
        value = getattr(query, column)
        if value is not None:
            where.append(f"{column} = {conn.param(column)}")
            params[column] = value
    if query.states is not None:
        where.append(conn.in_list("state", "states"))
        params["states"] = conn.array(sorted(s.value for s in query.states))
    if query.job_ids is not None:
        where.append(conn.in_list("id", "job_ids"))
        params["job_ids"] = conn.array(list(query.job_ids))
    if query.app_version_id_contains:
        where.append(f"lower(app_version_id) LIKE {conn.param('build_like')} ESCAPE '!'")
        params["build_like"] = _holding(query.app_version_id_contains)
    if query.search:
        where.append(f"(lower(app_version_id) LIKE {conn.param('search')} ESCAPE '!' "
                     f"OR lower(test_path) LIKE {conn.param('search')} ESCAPE '!')")
        params["search"] = _holding(query.search)
    if query.after is not None:
        where.append(AFTER_SQL[query.order].format(
            priority=conn.param("after_priority"), at=conn.param("after_at"),
            id=conn.param("after_id")))
        params.update(after_priority=query.after.priority, after_at=query.after.created_at,
                      after_id=query.after.job_id)
    return where, params


def _holding(text: str) -> str:
    """A LIKE pattern for values holding `text`, lower-cased and taken literally (escape
    character `!`)."""
    escaped = text.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"
