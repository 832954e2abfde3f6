"""The embedded store: SQLite in WAL mode, every state change one `BEGIN IMMEDIATE`
transaction on the single writer connection."""

from __future__ import annotations

import contextlib
import fcntl
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from qgjob.auth.tokens import ApiToken
from qgjob.domain import transitions
from qgjob.domain.attempts import Outcome, Verdict
from qgjob.domain.models import (
    Agent,
    AttemptFile,
    Batch,
    CaseResult,
    DeviceSpec,
    GroupKey,
    GroupSummary,
    Job,
    Lease,
    NewJob,
    OutputSlice,
)
from qgjob.domain.states import JobState
from qgjob.ids import new_id
from qgjob.scheduler.policy import FairAffinityPolicy, Policy
from qgjob.scheduler.views import ClaimContext, FleetRules, JobView, RunningJob
from qgjob.store.base import (
    AgentOwner,
    ClaimResult,
    Conflict,
    DecideAttempt,
    DeviceReport,
    HeartbeatAck,
    JobFilter,
    LeaseLost,
    NotFound,
    QueueCount,
    Transitioned,
    Yielded,
)
from qgjob.store.rows import (
    agent_from_row,
    device_from_row,
    group_from_row,
    job_from_row,
    job_to_params,
)
from qgjob.store.sqlfiles import load_migrations, load_queries
from qgjob.store.sqlite import claims, org_views, output, tokens
from qgjob.store.sqlite.connection import Connections

Q = load_queries("qgjob.store.sqlite")
_RESCUE_BATCH = 200
_GROUP_JOB_IDS_MAX = 1000


class SQLiteStore:
    dialect = "sqlite"

    def __init__(self, path: Path, synchronous: str = "full") -> None:
        self.path = path
        self._db = Connections(path, synchronous)

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # life cycle -----------------------------------------------------------------------------

    def migrate(self) -> None:
        """Apply pending migrations; a file lock keeps two processes from racing."""
        with _file_lock(self.path.with_name(self.path.name + ".migrate-lock")):
            self._migrate()

    def _migrate(self) -> None:
        with self._db.write() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
        applied = self.schema_version()
        for migration in load_migrations("qgjob.store.sqlite.migrations"):
            if migration.version <= applied:
                continue
            record = (
                "INSERT INTO schema_migrations (version, name, applied_at) "
                f"VALUES ({migration.version}, '{migration.name}', {time.time()});"
            )
            self._db.script(migration.sql + "\n" + record)

    def schema_version(self) -> int:
        with self._db.read() as conn:
            row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def close(self) -> None:
        self._db.close()

    def ping(self) -> None:
        with self._db.read() as conn:
            conn.execute("SELECT 1").fetchone()

    # jobs -----------------------------------------------------------------------------------

    def insert_jobs(self, jobs: Sequence[NewJob]) -> list[Job]:
        stored: list[Job] = []
        with self._db.write() as conn:
            first_seen: dict[GroupKey, float] = {}
            for job in jobs:
                first_seen[job.group] = min(first_seen.get(job.group, job.created_at),
                                            job.created_at)
            for group, created_at in first_seen.items():
                conn.execute(Q["upsert_group"], {
                    "group_key": str(group), "target": group.target,
                    "app_version_id": group.app_version_id, "org_id": group.org_id,
                    "now": created_at})
            prices: dict[tuple[str, str], float] = {}
            for job in jobs:
                key = (job.test_path, job.target)
                if key not in prices:
                    prices[key] = claims.expected_seconds(conn, job.test_path, job.target)
                params = _new_job_params(job, prices[key])
                if conn.execute(Q["insert_job"], params).rowcount:
                    stored.append(_queued_job(job, prices[key]))
                    continue
                existing = job_from_row(
                    conn.execute(Q["job_by_idempotency_key"], params).fetchone())
                if (existing.app_version_id, existing.test_path, existing.target) != (
                        job.app_version_id, job.test_path, job.target):
                    raise Conflict(f"Idempotency-Key {job.idempotency_key!r} was already used "
                                   f"for another job ({existing.job_id})")
                stored.append(existing)
        return stored

    def get_job(self, job_id: str) -> Job | None:
        with self._db.read() as conn:
            row = conn.execute(Q["job_by_id"], {"job_id": job_id}).fetchone()
        return job_from_row(row) if row else None

    def list_jobs(self, query: JobFilter) -> list[Job]:
        where: list[str] = []
        params: dict[str, Any] = {"limit": query.limit}
        for column in ("org_id", "app_version_id", "target"):
            value = getattr(query, column)
            if value is not None:
                where.append(f"{column} = :{column}")
                params[column] = value
        if query.states is not None:
            where.append("state IN (SELECT value FROM json_each(:states))")
            params["states"] = json.dumps(sorted(s.value for s in query.states))
        if query.job_ids is not None:
            where.append("id IN (SELECT value FROM json_each(:job_ids))")
            params["job_ids"] = json.dumps(list(query.job_ids))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT * FROM jobs {clause} ORDER BY created_at DESC, id DESC LIMIT :limit"
        with self._db.read() as conn:
            return [job_from_row(row) for row in conn.execute(sql, params)]

    def cancel_job(self, job_id: str, now: float) -> Transitioned:
        with self._db.write() as conn:
            before = _load_job(conn, job_id)
            try:
                after = transitions.cancel(before, now)
            except transitions.TransitionRefused as refused:
                raise Conflict(str(refused)) from None
            conn.execute(Q["update_job"], job_to_params(after))
            if before.lease_id is not None and after.lease_id is None:
                conn.execute(Q["delete_lease_if_done"], {"lease_id": before.lease_id})
        return Transitioned(before, after)

    def groups(self, include_finished: bool, limit: int) -> list[GroupSummary]:
        groups_query = Q["all_groups"] if include_finished else Q["active_groups"]
        ids_query = Q["job_ids_of_group"] if include_finished else Q["active_job_ids_of_group"]
        with self._db.read() as conn:
            summaries = []
            for row in conn.execute(groups_query, {"limit": limit}).fetchall():
                ids = conn.execute(
                    ids_query, {"group_key": row["group_key"], "limit": _GROUP_JOB_IDS_MAX}
                )
                summaries.append(group_from_row(row, tuple(r[0] for r in ids)))
        return summaries

    def queue_views(self, now: float, rules: FleetRules) -> list[ClaimContext]:
        """The policy's view of every target with queued work, as an idle newcomer would see
        it: for explaining the queue, not for claiming."""
        with self._db.read() as conn:
            targets = [r[0] for r in conn.execute(Q["targets_with_queued_work"])]
            return [claims.claim_context(conn, {"id": "", "target": target}, None, now, rules)
                    for target in targets]

    def queue_counts(self) -> list[QueueCount]:
        with self._db.read() as conn:
            rows = conn.execute(Q["queue_counts"]).fetchall()
        return [
            QueueCount(r["priority"], r["target"], r["org_id"], r["queued"], r["running"])
            for r in rows
        ]

    # agents and devices ---------------------------------------------------------------------

    def register_agent(
        self, agent_id: str, name: str, version: str, executor: str,
        devices: Sequence[DeviceSpec], now: float, token_id: str | None = None,
    ) -> Agent:
        device_ids = [f"{name}/{spec.name}" for spec in devices]
        with self._db.write() as conn:
            conn.execute(Q["replace_agents_named"], {"name": name})
            conn.execute(
                Q["insert_agent"],
                {"agent_id": agent_id, "name": name, "version": version,
                 "executor": executor, "now": now},
            )
            tokens.set_agent_token(conn, agent_id, token_id)
            for device_id, spec in zip(device_ids, devices, strict=True):
                conn.execute(
                    Q["upsert_device"],
                    {"device_id": device_id, "agent_id": agent_id, "agent_name": name,
                     "name": spec.name, "target": spec.target,
                     "holds_app_version_id": spec.holds_app_version_id, "now": now},
                )
            conn.execute(
                Q["expire_leases_of_devices_named"],
                {"agent_id": agent_id, "agent_name": name, "now": now},
            )
            conn.execute(
                Q["delete_devices_not_in"],
                {"agent_name": name, "device_ids": json.dumps(device_ids)},
            )
            agent_row = conn.execute(Q["agent_by_id"], {"agent_id": agent_id}).fetchone()
            rows = conn.execute(Q["devices_of_agent"], {"agent_id": agent_id}).fetchall()
        return agent_from_row(agent_row, tuple(device_from_row(r) for r in rows))

    def list_agents(self) -> list[Agent]:
        with self._db.read() as conn:
            agent_rows = conn.execute(Q["listed_agents"]).fetchall()
            device_rows = conn.execute(Q["listed_devices"]).fetchall()
        by_agent: dict[str, list[Any]] = {}
        for row in device_rows:
            by_agent.setdefault(row["agent_id"], []).append(device_from_row(row))
        return [agent_from_row(r, tuple(by_agent.get(r["id"], ()))) for r in agent_rows]

    def heartbeat(
        self, agent_id: str, devices: Sequence[DeviceReport], now: float, lease_seconds: float
    ) -> HeartbeatAck:
        expires_at = now + lease_seconds
        working_leases = [d.lease_id for d in devices if d.lease_id]
        with self._db.write() as conn:
            if not conn.execute(Q["touch_agent"], {"agent_id": agent_id, "now": now}).rowcount:
                return HeartbeatAck(known=False)
            for report in devices:
                conn.execute(Q["update_device"], _device_params(agent_id, report, now))
            conn.execute(
                Q["extend_leases"],
                {"agent_id": agent_id, "now": now, "expires_at": expires_at,
                 "lease_ids": json.dumps(working_leases)},
            )
            rows = conn.execute(Q["cancel_requested_jobs_of_agent"], {"agent_id": agent_id})
            cancel_ids = tuple(r[0] for r in rows)
            rows = conn.execute(Q["preempt_requested_jobs_of_agent"], {"agent_id": agent_id})
            preempt_ids = tuple(r[0] for r in rows)
        return HeartbeatAck(known=True, cancel_job_ids=cancel_ids, lease_expires_at=expires_at,
                            preempt_job_ids=preempt_ids)

    def record_install(
        self, agent_id: str, device_name: str, app_version_id: str, target: str,
        started_at: float, finished_at: float, ok: bool,
    ) -> None:
        with self._db.write() as conn:
            device = _load_device(conn, agent_id, device_name)
            conn.execute(
                Q["insert_install"],
                {"device_id": device["id"], "app_version_id": app_version_id, "target": target,
                 "started_at": started_at, "finished_at": finished_at, "ok": int(ok)},
            )

    # the claim path -------------------------------------------------------------------------

    def claim_batch(
        self, agent_id: str, device_name: str, holds_app_version_id: str | None,
        now: float, lease_seconds: float, policy: Policy, rules: FleetRules,
    ) -> ClaimResult:
        with self._db.write() as conn:
            device = _load_device(conn, agent_id, device_name)
            report = DeviceReport(device_name, "idle", holds_app_version_id)
            conn.execute(Q["update_device"], _device_params(agent_id, report, now))
            conn.execute(Q["expire_device_leases"], {"device_id": device["id"], "now": now})
            context = claims.claim_context(conn, device, holds_app_version_id, now, rules)
            choice = policy.choose_lane(context) if context.lanes else None
            lane = next((lane for lane in context.lanes
                         if choice is not None and lane.key == (choice.group_key, choice.org_id)),
                        None)
            if lane is None:
                return ClaimResult(None, context, choice)
            picked = policy.choose_jobs(context, lane, claims.lane_candidates(conn, lane))
            lease = Lease(new_id(now), agent_id, device["id"], lane.group_key, lane.org_id,
                          now + lease_seconds)
            rows = claims.assign(conn, picked, lease.lease_id, device, now) if picked else []
            if not rows:
                return ClaimResult(None, context, choice)
            conn.execute(Q["insert_lease"], {
                "lease_id": lease.lease_id, "agent_id": agent_id, "device_id": device["id"],
                "group_key": lane.group_key, "org_id": lane.org_id, "target": lane.target,
                "now": now, "expires_at": lease.expires_at})
        by_id = {row["id"]: job_from_row(dict(row)) for row in rows}
        jobs = tuple(by_id[job_id] for job_id in picked if job_id in by_id)
        batch = Batch(lease, jobs[0].app_version_id, jobs[0].target, jobs)
        return ClaimResult(batch, context, choice)

    def start_attempt(
        self, job_id: str, lease_id: str, now: float, policy: Policy, rules: FleetRules
    ) -> Job:
        with self._db.write() as conn:
            job = _load_job(conn, job_id)
            if job.state is JobState.RUNNING and job.lease_id == lease_id:
                return job  # the same start, sent again after its answer was lost
            if job.state is not JobState.ASSIGNED or job.lease_id != lease_id:
                raise LeaseLost(_lost_reason(job))
            lease = conn.execute(Q["lease_by_id"], {"lease_id": lease_id}).fetchone()
            if lease is None or lease["expires_at"] <= now:
                raise LeaseLost(f"the lease of job {job_id} expired; it will be rescued")
            if lease["jobs_started"] > 0 and _should_yield(
                    conn, job, lease, now, policy, rules):
                for row in conn.execute(Q["assigned_jobs_of_lease"], {"lease_id": lease_id}):
                    _requeue(conn, job_from_row(row), now)
                conn.execute(Q["delete_lease_if_done"], {"lease_id": lease_id})
                yielded = True
            else:
                yielded = False
                started = transitions.start(job, now)
                conn.execute(Q["update_job"], job_to_params(started))
                conn.execute(Q["count_lease_start"], {"lease_id": lease_id})
                conn.execute(Q["insert_attempt"], {
                    "job_id": job_id, "attempt": started.attempts, "device_id": job.device_id,
                    "agent_name": job.agent_name, "now": now})
                conn.execute(Q["device_running"],
                             {"device_id": job.device_id, "job_id": job_id, "now": now})
        if yielded:
            raise Yielded("more urgent work waits; the rest of the batch went back to the queue")
        return started

    def finish_attempt(
        self, job_id: str, lease_id: str, attempt: int, outcome: Outcome, error: str | None,
        now: float, decide: DecideAttempt, cases: Sequence[CaseResult] = (),
    ) -> Transitioned:
        with self._db.write() as conn:
            job = _load_job(conn, job_id)
            current = (job.state is JobState.RUNNING and job.lease_id == lease_id
                       and job.attempts == attempt)
            if not current:
                recorded = conn.execute(
                    Q["attempt_by_number"], {"job_id": job_id, "attempt": attempt}
                ).fetchone()
                if recorded is not None and recorded["outcome"] == outcome.value:
                    return Transitioned(job, job)  # the same report, delivered again
                raise LeaseLost(_lost_reason(job))
            after = transitions.apply_verdict(job, decide(job), now)
            conn.execute(Q["update_job"], job_to_params(after))
            conn.execute(
                Q["finish_attempt"],
                {"job_id": job_id, "attempt": attempt, "outcome": outcome.value,
                 "error": error, "now": now},
            )
            if cases:
                output.save_cases(conn, job_id, attempt, cases)
            if outcome in (Outcome.PASSED, Outcome.FAILED):
                began = conn.execute(Q["attempt_by_number"],
                                     {"job_id": job_id, "attempt": attempt}).fetchone()
                claims.learn_duration(conn, job.test_path, job.target,
                                      now - began["started_at"])
            conn.execute(
                Q["device_done"], {"device_id": job.device_id, "job_id": job_id, "now": now}
            )
            conn.execute(Q["delete_lease_if_done"], {"lease_id": lease_id})
        return Transitioned(job, after)

    # what attempts leave behind ------------------------------------------------------------

    def append_output(self, job_id: str, lease_id: str, attempt: int, text: str) -> None:
        with self._db.write() as conn:
            _current_attempt(conn, job_id, lease_id, attempt)
            output.append(conn, job_id, attempt, text)

    def save_file(self, job_id: str, lease_id: str, attempt: int, file: AttemptFile) -> None:
        with self._db.write() as conn:
            _current_attempt(conn, job_id, lease_id, attempt)
            output.save_file(conn, job_id, attempt, file)

    def read_output(self, job_id: str, attempt: int | None, offset: int) -> OutputSlice | None:
        with self._db.read() as conn:
            return output.read(conn, job_id, attempt, offset)

    def last_cases(self, job_id: str) -> list[CaseResult]:
        with self._db.read() as conn:
            return output.last_cases(conn, job_id)

    def list_files(self, job_id: str) -> list[tuple[int, str, str, int]]:
        with self._db.read() as conn:
            return output.list_files(conn, job_id)

    def read_file(self, job_id: str, attempt: int, name: str) -> AttemptFile | None:
        with self._db.read() as conn:
            return output.read_file(conn, job_id, attempt, name)

    def lease_agent(self, lease_id: str) -> str | None:
        with self._db.read() as conn:
            row = conn.execute(Q["lease_by_id"], {"lease_id": lease_id}).fetchone()
        return None if row is None else str(row["agent_id"])

    def release_jobs(self, lease_id: str, job_ids: Sequence[str], now: float) -> list[Job]:
        released = []
        with self._db.write() as conn:
            for row in conn.execute(Q["assigned_jobs_of_lease"], {"lease_id": lease_id}):
                job = job_from_row(row)
                if job.job_id in job_ids:
                    released.append(_requeue(conn, job, now))
            conn.execute(Q["delete_lease_if_done"], {"lease_id": lease_id})
        return released

    # maintenance ----------------------------------------------------------------------------

    def rescue_expired_leases(self, now: float, decide: DecideAttempt) -> list[Transitioned]:
        rescued: list[Transitioned] = []
        with self._db.write() as conn:
            leases = conn.execute(
                Q["expired_leases"], {"now": now, "limit": _RESCUE_BATCH}
            ).fetchall()
            for lease in leases:
                jobs = conn.execute(Q["active_jobs_of_lease"], {"lease_id": lease["id"]})
                for job in [job_from_row(r) for r in jobs]:
                    after = transitions.apply_verdict(job, decide(job), now)
                    conn.execute(Q["update_job"], job_to_params(after))
                    if job.state is JobState.RUNNING:
                        conn.execute(
                            Q["finish_attempt"],
                            {"job_id": job.job_id, "attempt": job.attempts, "outcome": "lost",
                             "error": after.error, "now": now},
                        )
                    rescued.append(Transitioned(job, after))
                conn.execute(Q["delete_lease"], {"lease_id": lease["id"]})
        return rescued

    def promote_due_retries(self, now: float) -> list[Job]:
        with self._db.write() as conn:
            rows = conn.execute(
                Q["promote_due_retries"], {"now": now, "limit": _RESCUE_BATCH}
            ).fetchall()
        return [job_from_row(r) for r in rows]

    def preempt_for_urgent_work(
        self, now: float, policy: FairAffinityPolicy, rules: FleetRules
    ) -> list[str]:
        chosen: list[str] = []
        with self._db.write() as conn:
            targets = [r[0] for r in conn.execute(Q["targets_with_queued_work"])]
            for target in targets:
                view = claims.claim_context(conn, {"id": "", "target": target}, None, now, rules)
                running = [RunningJob(r["id"], r["device_id"], r["group_key"], r["priority"],
                                      r["started_at"])
                           for r in conn.execute(Q["running_jobs_of_target"], {"target": target})]
                victim = policy.choose_preemption(view, running)
                if victim is not None and conn.execute(
                        Q["request_preemption"], {"job_id": victim, "now": now}).rowcount:
                    chosen.append(victim)
        return chosen

    def grant_restart_grace(self, now: float, lease_seconds: float) -> int:
        with self._db.write() as conn:
            return int(conn.execute(Q["extend_all_leases"],
                                    {"expires_at": now + lease_seconds}).rowcount)

    # API tokens -----------------------------------------------------------------------------

    def insert_token(self, token: ApiToken) -> None:
        with self._db.write() as conn:
            tokens.insert(conn, token)

    def get_token(self, token_id: str) -> ApiToken | None:
        with self._db.read() as conn:
            return tokens.by_id(conn, token_id)

    def list_tokens(self) -> list[ApiToken]:
        with self._db.read() as conn:
            return tokens.every(conn)

    def revoke_token(self, token_id: str, now: float) -> ApiToken:
        with self._db.write() as conn:
            revoked = tokens.revoke(conn, token_id, now)
        if revoked is None:
            raise NotFound(f"no token with id {token_id!r}")
        return revoked

    def count_active_tokens(self) -> int:
        with self._db.read() as conn:
            return tokens.count_active(conn)

    def touch_token(self, token_id: str, now: float) -> None:
        with self._db.write() as conn:
            tokens.touch(conn, token_id, now)

    def agent_owner(self, agent_id: str) -> AgentOwner | None:
        with self._db.read() as conn:
            return tokens.agent_owner(conn, agent_id)

    def online_agent_owner(self, name: str) -> AgentOwner | None:
        with self._db.read() as conn:
            return tokens.online_agent_owner(conn, name)

    def org_groups(self, org_id: str, include_finished: bool, limit: int) -> list[GroupSummary]:
        with self._db.read() as conn:
            return org_views.groups_of_org(conn, org_id, include_finished, limit,
                                           _GROUP_JOB_IDS_MAX)

    def mark_agents_offline(self, seen_before: float, now: float) -> list[str]:
        with self._db.write() as conn:
            ids = [r[0] for r in conn.execute(
                Q["mark_agents_offline"], {"seen_before": seen_before}
            ).fetchall()]
            if ids:
                conn.execute(Q["mark_devices_offline"], {"agent_ids": json.dumps(ids)})
        return ids


def _new_job_params(job: NewJob, expected_seconds: float) -> dict[str, Any]:
    return {
        "job_id": job.job_id, "org_id": job.org_id, "app_version_id": job.app_version_id,
        "test_path": job.test_path, "target": job.target, "priority": job.priority,
        "group_key": job.group_key, "max_attempts": job.max_attempts,
        "expected_seconds": expected_seconds, "idempotency_key": job.idempotency_key,
        "created_at": job.created_at,
    }


def _queued_job(job: NewJob, expected_seconds: float) -> Job:
    return Job(
        job_id=job.job_id, org_id=job.org_id, app_version_id=job.app_version_id,
        test_path=job.test_path, target=job.target, priority=job.priority,
        group_key=job.group_key, state=JobState.QUEUED, attempts=0,
        max_attempts=job.max_attempts, infra_failures=0,
        created_at=job.created_at, updated_at=job.created_at,
        expected_seconds=expected_seconds,
    )


def _load_job(conn: sqlite3.Connection, job_id: str) -> Job:
    row = conn.execute(Q["job_by_id"], {"job_id": job_id}).fetchone()
    if row is None:
        raise NotFound(f"no job with id {job_id!r}")
    return job_from_row(row)


def _load_device(conn: sqlite3.Connection, agent_id: str, device_name: str) -> sqlite3.Row:
    row = conn.execute(
        Q["device_of_agent"], {"agent_id": agent_id, "device_name": device_name}
    ).fetchone()
    if row is None:
        raise NotFound(f"agent {agent_id!r} has no device {device_name!r}; register again")
    return row  # type: ignore[no-any-return]


def _device_params(agent_id: str, report: DeviceReport, now: float) -> dict[str, Any]:
    return {
        "agent_id": agent_id, "device_name": report.name, "state": report.state,
        "holds_app_version_id": report.holds_app_version_id,
        "current_job_id": report.current_job_id, "now": now,
    }


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _should_yield(
    conn: sqlite3.Connection, job: Job, lease: sqlite3.Row, now: float, policy: Policy,
    rules: FleetRules,
) -> bool:
    device = conn.execute(Q["device_by_id"], {"device_id": lease["device_id"]}).fetchone()
    if device is None:
        return False
    context = claims.claim_context(conn, device, device["holds_app_version_id"], now, rules)
    if not context.lanes:
        return False
    view = JobView(job.job_id, job.priority, job.created_at, job.expected_seconds,
                   job.attempts, job.last_device_id)
    return bool(policy.should_yield(context, view))


def _requeue(conn: sqlite3.Connection, job: Job, now: float) -> Job:
    after = transitions.apply_verdict(job, Verdict(JobState.QUEUED), now)
    conn.execute(Q["update_job"], job_to_params(after))
    return after


def _current_attempt(conn: sqlite3.Connection, job_id: str, lease_id: str, attempt: int) -> Job:
    """The job, if `attempt` is its running attempt under `lease_id`; else LeaseLost."""
    job = _load_job(conn, job_id)
    if job.state is not JobState.RUNNING or job.lease_id != lease_id or job.attempts != attempt:
        raise LeaseLost(_lost_reason(job))
    return job


def _lost_reason(job: Job) -> str:
    if job.state.is_final:
        return f"job {job.job_id} is already {job.state.public}"
    return f"job {job.job_id} is no longer held under this lease (it is {job.state.value})"
